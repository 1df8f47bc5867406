-- The responsibility chain (多维责任主体链, kpis.md) of each (community, service group) with events: one row per
-- chain and party in charge, from the street down to the enterprise at the door, each with the open work it holds.
-- A chain exists where the community has counted events of the group (int_ledger_events_grouped) in the ledger's
-- lookback months, or still open ones. Parties (party_role, in the chain's order):
--   street_office        the community's street (seed): holds the chain's open orders and grid cases whose
--                        responsible unit is that street;
--   community            the community: the place, holding all of the chain's open work and its recent exceedances;
--   grid                 each unit grid of the community where the chain has events: the open work and recent
--                        exceedances located in it;
--   department           the department of the group's domain (macro ledger_department_code; none for a group
--                        without a domain): the chain's open orders and grid cases it is the responsible unit of;
--   enforcement_team     each team of the street (team_code of the enforcement cases located in the street, any
--                        matter, any time): the chain's open enforcement cases it holds;
--   frontage_enterprise  each enterprise in charge of the frontage (int_frontage_enterprises_matched): the chain's
--                        open orders and grid cases linked to it (carried or strongest link), its open enforcement
--                        cases and its sensors' recent exceedances.
-- Open: an order open, a grid case not closed, evaluated or voided, an enforcement case filed, investigating or
-- decided. Recent exceedance: an episode begun at most ledger_recent_days() days before the data's now. A count
-- is null where the role cannot hold that kind of work (a street office holds no enforcement case or sensor).
with events as (

    select * from {{ ref('int_ledger_events_grouped') }}

),

frontage as (

    select * from {{ ref('int_frontage_enterprises_matched') }}

),

communities as (

    select community_code, community_name, street_code from {{ ref('dongcheng_communities') }}

),

streets as (

    select street_code, street_name from {{ ref('dongcheng_streets') }}

),

groups as (

    select service_group, service_group_name, domain_code from {{ ref('service_groups') }}

),

enterprises as (

    select uscc, enterprise_name from {{ ref('int_enterprises_resolved') }}

),

as_of as (

    select max(data_as_of) as data_as_of from events

),

chain_events as (

    select
        events.*,
        events.channel = 'sensor'
            and events.occurred_at >= as_of.data_as_of - {{ interval_of(ledger_recent_days(), 'days') }}
                as is_recent_exceedance
    from events
    cross join as_of
    where events.is_counted
        and (events.month_index < {{ var('ledger_lookback_months') }} or events.is_open)

),

chains as (

    select
        chain_events.community_code,
        chain_events.service_group,
        communities.street_code,
        cast(count(*) as integer) as chain_events
    from chain_events
    left join communities
        on communities.community_code = chain_events.community_code
    group by chain_events.community_code, chain_events.service_group, communities.street_code

),

street_teams as (

    select distinct street_code, responsible_unit_code as team_code
    from events
    where channel = 'enforcement'
        and responsible_unit_type = 'enforcement_team'
        and street_code is not null

),

-- the parties of each chain
parties as (

    select community_code, service_group, 1 as chain_level, 'street_office' as party_role,
        street_code as party_code
    from chains
    where street_code is not null

    union all

    select community_code, service_group, 2, 'community', community_code
    from chains

    union all

    select distinct community_code, service_group, 3, 'grid', grid_code
    from chain_events
    where grid_code is not null

    union all

    select chains.community_code, chains.service_group, 4, 'department',
        {{ ledger_department_code('groups.domain_code') }}
    from chains
    inner join groups
        on groups.service_group = chains.service_group
    where {{ ledger_department_code('groups.domain_code') }} is not null

    union all

    select chains.community_code, chains.service_group, 5, 'enforcement_team', street_teams.team_code
    from chains
    inner join street_teams
        on street_teams.street_code = chains.street_code

    union all

    select community_code, service_group, 6, 'frontage_enterprise', uscc
    from frontage

),

-- which party holds each open event (an event is held by several: its place and its unit)
holdings as (

    select community_code, service_group, 'community' as party_role, community_code as party_code, *
        {{ star_exclude() }} (community_code, service_group)
    from chain_events
    where is_open or is_recent_exceedance

    union all

    select community_code, service_group, 'grid', grid_code, * {{ star_exclude() }} (community_code, service_group)
    from chain_events
    where (is_open or is_recent_exceedance) and grid_code is not null

    union all

    select community_code, service_group, 'street_office', responsible_unit_code,
        * {{ star_exclude() }} (community_code, service_group)
    from chain_events
    where is_open and channel in ('hotline', 'grid') and responsible_unit_type = 'street'

    union all

    select community_code, service_group, 'department', responsible_unit_code,
        * {{ star_exclude() }} (community_code, service_group)
    from chain_events
    where is_open and channel in ('hotline', 'grid') and responsible_unit_type = 'department'

    union all

    select community_code, service_group, 'enforcement_team', responsible_unit_code,
        * {{ star_exclude() }} (community_code, service_group)
    from chain_events
    where is_open and channel = 'enforcement' and responsible_unit_code is not null

    union all

    select community_code, service_group, 'frontage_enterprise',
        case when channel in ('enforcement', 'sensor') then carried_uscc else uscc end,
        * {{ star_exclude() }} (community_code, service_group)
    from chain_events
    where (is_open or is_recent_exceedance)
        and case when channel in ('enforcement', 'sensor') then carried_uscc else uscc end is not null

),

held as (

    select
        community_code,
        service_group,
        party_role,
        party_code,
        count(*) filter (where channel = 'hotline' and is_open) as open_orders,
        count(*) filter (where channel = 'grid' and is_open) as open_grid_cases,
        count(*) filter (where channel = 'enforcement' and is_open) as open_enforcement_cases,
        count(*) filter (where is_recent_exceedance) as recent_exceedances,
        {{ ordered_list('event_id', 'occurred_at, event_id') }} as open_work_event_ids
    from holdings
    group by community_code, service_group, party_role, party_code

),

final as (

    select
        concat_ws('|', parties.community_code, parties.service_group, parties.party_role, parties.party_code)
            as chain_party_key,
        chains.street_code,
        parties.community_code,
        parties.service_group,
        groups.service_group_name,
        groups.domain_code,
        cast(parties.chain_level as integer) as chain_level,
        parties.party_role,
        parties.party_code,
        case parties.party_role
            when 'street_office' then streets.street_name || '办事处'
            when 'community' then communities.community_name
            when 'department' then {{ ledger_department_name('parties.party_code') }}
            when 'frontage_enterprise' then enterprises.enterprise_name
        end as party_name,
        cast(coalesce(held.open_orders, 0) as integer) as open_orders,
        cast(coalesce(held.open_grid_cases, 0) as integer) as open_grid_cases,
        cast(case when parties.party_role not in ('street_office', 'department')
            then coalesce(held.open_enforcement_cases, 0) end as integer) as open_enforcement_cases,
        cast(case when parties.party_role in ('community', 'grid', 'frontage_enterprise')
            then coalesce(held.recent_exceedances, 0) end as integer) as recent_exceedances,
        cast(coalesce(held.open_work_event_ids, {{ empty_list() }}) as {{ type_list(dbt.type_string()) }})
            as open_work_event_ids,
        frontage.frontage_qualified_by,
        frontage.nearest_distance_m as frontage_distance_m,
        cast(frontage.sensor_place_ids as {{ type_list(dbt.type_string()) }}) as frontage_sensor_place_ids,
        chains.chain_events,
        as_of.data_as_of
    from parties
    inner join chains
        on chains.community_code = parties.community_code
        and chains.service_group = parties.service_group
    cross join as_of
    left join held
        on held.community_code = parties.community_code
        and held.service_group = parties.service_group
        and held.party_role = parties.party_role
        and held.party_code = parties.party_code
    left join groups
        on groups.service_group = parties.service_group
    left join streets
        on parties.party_role = 'street_office'
        and streets.street_code = parties.party_code
    left join communities
        on parties.party_role = 'community'
        and communities.community_code = parties.party_code
    left join enterprises
        on parties.party_role = 'frontage_enterprise'
        and enterprises.uscc = parties.party_code
    left join frontage
        on parties.party_role = 'frontage_enterprise'
        and frontage.community_code = parties.community_code
        and frontage.service_group = parties.service_group
        and frontage.uscc = parties.party_code

)

select * from final
