-- The events of the ledger's four channels (kpis.md: hotline, grid case, enforcement, sensor exceedance), one row
-- each, from the unified events (int_events_unified), put in a hotline service group so that all channels meet
-- on one (community, service group), with its own channel (the kind's) and the channel the matter reached the
-- district by (report_channel, macros/ledger_rules.sql: a grid case the hotline dispatched is the caller's):
--   hotline_order      its own service group (the service list's);
--   grid_case, enforcement_case, sensor_exceedance
--                      the service group of its domain (seed service_groups: each domain but personnel has
--                      exactly one group - road_dust dust, cooking_fume fume, garbage_sorting garbage,
--                      sanitation_vehicle cleaning, enforcement street_order, grid_supervision facilities,
--                      static_traffic parking, heavy_diesel heavy_vehicle); an event of a domain without a group
--                      (personnel) or without a domain has none.
-- The month is the Beijing month the event occurred in; month_index counts months back from the month of the
-- data's now (data_as_of: the newest event of the four channels), 0 being that month. An event counts in the
-- ledger (`is_counted`) when it was not cancelled (a voided grid case, a revoked enforcement case) and has both a
-- community and a group. The point (internal: the marts carry none) is the event's, an exceedance's its
-- restaurant's; the enterprise is the one the event carries, else the strongest linked one.
with events as (

    select * from {{ ref('int_events_unified') }}
    where {{ ledger_channel('event_kind') }} is not null

),

referrals as (

    -- the grid case an enforcement case names (int_link_events_unified: the ids the platforms carry)
    select link_events.event_id, grid_cases.origin as grid_origin
    from {{ ref('int_link_events_unified') }} as link_events
    inner join {{ ref('int_events_unified') }} as grid_cases
        on grid_cases.event_kind = 'grid_case'
        and grid_cases.source_id = link_events.carried_grid_case_id
    where link_events.event_kind = 'enforcement_case'

),

event_links as (

    select event_id, uscc, uscc_found_by
    from {{ ref('int_event_links_listed') }}

),

places as (

    select event_kind, event_id, lat, lon
    from {{ ref('int_places_located') }}

),

groups as (

    select service_group, domain_code from {{ ref('service_groups') }}

),

domain_groups as (

    select domain_code, any_value(service_group) as service_group
    from groups
    where domain_code is not null
    group by domain_code
    having count(*) = 1

),

grouped as (

    select
        events.event_id,
        events.event_kind,
        {{ ledger_channel('events.event_kind') }} as channel,
        {{ ledger_report_channel(
            'events.event_kind', 'events.origin',
            ledger_report_channel("'grid_case'", 'referrals.grid_origin', 'null')
        ) }} as report_channel,
        events.origin,
        events.source_id,
        events.domain_code,
        case
            when events.event_kind = 'hotline_order' then order_group.service_group
            else domain_group.service_group
        end as service_group,
        case
            when events.event_kind = 'hotline_order' and order_group.service_group is not null then 'service'
            when events.event_kind <> 'hotline_order' and domain_group.service_group is not null then 'domain'
            else 'unresolved'
        end as service_group_found_by,
        events.matter_code,
        events.matter_name,
        events.street_code,
        events.community_code,
        events.grid_code,
        events.occurred_at,
        events.occurred_date,
        date_trunc('month', events.occurred_date)::date as period_month,
        events.status_group,
        events.status_group = 'open' as is_open,
        events.responsible_unit_type,
        events.responsible_unit_code,
        events.carried_uscc,
        event_links.uscc,
        event_links.uscc_found_by,
        coalesce(event_places.lat, restaurant_places.lat) as lat,
        coalesce(event_places.lon, restaurant_places.lon) as lon
    from events
    left join groups as order_group
        on order_group.service_group = events.matter_category
    left join domain_groups as domain_group
        on domain_group.domain_code = events.domain_code
    left join referrals
        on events.event_kind = 'enforcement_case'
        and referrals.event_id = events.source_id
    left join event_links
        on event_links.event_id = events.event_id
    left join places as event_places
        on event_places.event_kind = events.event_kind
        and event_places.event_id = events.source_id
    left join places as restaurant_places
        on events.event_kind = 'sensor_exceedance'
        and events.matter_code = 'fume'
        and restaurant_places.event_kind = 'restaurant'
        and restaurant_places.event_id = events.register_place_id

),

final as (

    select
        grouped.*,
        grouped.status_group <> 'cancelled' and grouped.community_code is not null
            and grouped.service_group is not null as is_counted,
        max(grouped.occurred_at) over () as data_as_of,
        cast({{ dbt.datediff(
            'grouped.period_month', "date_trunc('month', max(grouped.occurred_date) over ())::date", 'month'
        ) }} as integer) as month_index
    from grouped

)

select * from final
