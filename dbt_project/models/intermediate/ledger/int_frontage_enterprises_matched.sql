-- The enterprises in charge of the frontage (门前三包, kpis.md) of each (community, service group) chain: one row per
-- chain and enterprise (uscc). kpis.md: "an enterprise within 50 m with an open case or a sensor on that matter".
-- Read, for a chain whose place is a community, as:
--   within    one of the enterprise's points lies at most var('frontage_radius_m') metres from the point of an
--             event of the chain (int_ledger_events_grouped: counted, in the lookback months or still open) - the
--             problem is at its door. The enterprise's points: its monitored restaurants (register, located as
--             int_places_located puts them) and the places of its enforcement cases (the team's point of the
--             violation; cancelled cases left out). An exceedance's point is its restaurant's, so a restaurant
--             whose own analyser exceeded is within 0 m;
--   on that matter  the enterprise has a sensor of the chain's group (a register place of the group's domain
--             carrying its uscc: a restaurant's fume analyser) or an open enforcement case (filed, investigating,
--             decided) of the chain's group, anywhere.
-- Distances: the projection's metres (macros/places_locate.sql), pairs found by the bucketed join.
with events as (

    select * from {{ ref('int_ledger_events_grouped') }}

),

sensor_places as (

    select * from {{ ref('int_sensor_places_resolved') }}

),

places as (

    select event_kind, event_id, lat, lon from {{ ref('int_places_located') }}

),

domain_groups as (

    select domain_code, any_value(service_group) as service_group
    from {{ ref('service_groups') }}
    where domain_code is not null
    group by domain_code
    having count(*) = 1

),

chain_points as (

    select
        event_id as chain_event_id,
        community_code as chain_community_code,
        service_group as chain_service_group,
        lat,
        lon
    from events
    where is_counted
        and (month_index < {{ var('ledger_lookback_months') }} or is_open)

),

sensors as (

    select
        sensor_places.uscc,
        domain_groups.service_group,
        sensor_places.place_id,
        sensor_places.domain_code
    from sensor_places
    inner join domain_groups
        on domain_groups.domain_code = sensor_places.domain_code
    where sensor_places.uscc is not null

),

enterprise_points as (

    select
        sensors.uscc,
        'restaurant' as point_kind,
        sensors.place_id as point_source_id,
        places.lat,
        places.lon
    from sensors
    inner join places
        on places.event_kind = 'restaurant'
        and places.event_id = sensors.place_id
    where sensors.domain_code = 'cooking_fume'

    union all

    select
        carried_uscc as uscc,
        'enforcement_case' as point_kind,
        source_id as point_source_id,
        lat,
        lon
    from events
    where channel = 'enforcement'
        and carried_uscc is not null
        and status_group <> 'cancelled'

),

open_cases as (

    select carried_uscc as uscc, service_group, source_id as case_id
    from events
    where channel = 'enforcement'
        and is_open
        and carried_uscc is not null
        and service_group is not null

),

qualifications as (

    select
        uscc,
        service_group,
        {{ ordered_list('place_id', 'place_id', distinct=true) }} as sensor_place_ids,
        {{ empty_list() }}::{{ type_list(dbt.type_string()) }} as open_case_ids
    from sensors
    group by uscc, service_group

    union all

    select
        uscc,
        service_group,
        {{ empty_list() }}::{{ type_list(dbt.type_string()) }} as sensor_place_ids,
        {{ ordered_list('case_id', 'case_id', distinct=true) }} as open_case_ids
    from open_cases
    group by uscc, service_group

),

qualified as (

    select
        uscc,
        service_group,
        flatten({{ list_of('sensor_place_ids') }}) as sensor_place_ids,
        flatten({{ list_of('open_case_ids') }}) as open_case_ids
    from qualifications
    group by uscc, service_group

),

near as (

    {{ places_pairs_within(
        'enterprise_points', 'chain_points', var('frontage_radius_m'),
        left_columns=['uscc', 'point_kind', 'point_source_id'],
        right_columns=['chain_event_id', 'chain_community_code', 'chain_service_group'],
    ) }}

),

final as (

    select
        near.chain_community_code as community_code,
        near.chain_service_group as service_group,
        near.uscc,
        min(near.distance_m) as nearest_distance_m,
        {{ arg_min('near.chain_event_id', '(near.distance_m, near.chain_event_id)') }} as nearest_event_id,
        {{ arg_min('near.point_kind', '(near.distance_m, near.chain_event_id)') }} as nearest_point_kind,
        cast(count(distinct near.chain_event_id) as integer) as events_within_radius,
        case
            when {{ list_length('any_value(qualified.sensor_place_ids)') }} > 0
                and {{ list_length('any_value(qualified.open_case_ids)') }} > 0
                then 'sensor_and_open_case'
            when {{ list_length('any_value(qualified.sensor_place_ids)') }} > 0 then 'sensor'
            else 'open_case'
        end as frontage_qualified_by,
        any_value(qualified.sensor_place_ids) as sensor_place_ids,
        any_value(qualified.open_case_ids) as open_case_ids
    from near
    inner join qualified
        on qualified.uscc = near.uscc
        and qualified.service_group = near.chain_service_group
    group by near.chain_community_code, near.chain_service_group, near.uscc

)

select * from final
