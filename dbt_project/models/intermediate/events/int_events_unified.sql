-- Every event of the nine domains in one shape, one row each: hotline work orders, grid cases, enforcement cases,
-- sensor exceedance episodes and illegal-parking events. Per event: its kind and platform, its matter and domain,
-- its place, its times, status, responsible unit, carried enterprise and severity.
-- Domain (reference.md), per kind:
--   hotline_order, grid_case, enforcement_case  as int_link_events_unified derives it (an order's service group,
--                        a grid case's subcategory and category, an enforcement case's matter), so an event and
--                        the links drawn on it never disagree on the matter;
--   sensor_exceedance    the domain of the observation table the readings came from (int_sensor_exceedances:
--                        fume → cooking_fume, dust → road_dust, diesel OBD → heavy_diesel, occupancy →
--                        static_traffic); a dust_severe episode lies inside a dust episode and is no event of its
--                        own: it makes that dust episode's severity high;
--   parking_violation    static_traffic (traffic.violation).
-- Place: int_places_located for orders and cases (street, community, grid and how each was found); an exceedance
-- at its register place (a restaurant as int_places_located puts it, a road's or lot's street as
-- int_sensor_places_resolved has it, a diesel vehicle's first exceeding fix), a violation by its street as served
-- and its point. A point without codes for community and grid (violations, parking lots) is put in its nearest
-- unit grid inside its street (macros/places_locate.sql), as int_places_located does.
-- Severity: macros/events_rules.sql (events_severity).
with orders as (

    select * from {{ ref('int_hotline_requests_enriched') }}

),

grid_cases as (

    select * from {{ ref('stg_citymgmt__grid_cases') }}

),

grid_loops as (

    select * from {{ ref('int_grid_case_steps_pivoted') }}

),

enforcement_cases as (

    select * from {{ ref('stg_enforcement__cases') }}

),

exceedances as (

    select * from {{ ref('int_sensor_exceedances') }}

),

violations as (

    select * from {{ ref('stg_citymgmt__parking_violations') }}

),

lots as (

    select * from {{ ref('stg_citymgmt__parking_lots') }}

),

link_events as (

    select * from {{ ref('int_link_events_unified') }}

),

places as (

    select * from {{ ref('int_places_located') }}

),

sensor_places as (

    select * from {{ ref('int_sensor_places_resolved') }}

),

cells as (

    select * from {{ ref('int_grid_cells_indexed') }}

),

street_names as (

    select * from {{ ref('int_street_names') }}

),

matters as (

    select * from {{ ref('enforcement_matters') }}

),

-- points with no community or grid code: a violation's, a parking lot's ------------------------------------------

coded_points as (

    select
        'parking_violation' as point_kind,
        cast(violations.violation_id as {{ dbt.type_string() }}) as point_id,
        violations.lat,
        violations.lon,
        street.street_code as coded_street_code,
        case when street.spelling_kind = 'code' then 'street_code' else 'street_name' end as coded_street_by
    from violations
    left join street_names as street
        on street.street_spelling = violations.street_code_as_served

    union all

    select
        'parking_lot' as point_kind,
        lots.lot_id as point_id,
        lots.lat,
        lots.lon,
        lot_places.street_code as coded_street_code,
        lot_places.street_located_by as coded_street_by
    from lots
    left join sensor_places as lot_places
        on lot_places.domain_code = 'static_traffic'
        and lot_places.place_id = lots.lot_id

),

point_cells as (

    {{ places_pairs_within(
        'coded_points',
        '(select grid_code, street_code as cell_street_code, community_code as cell_community_code, '
        ~ 'centroid_lat, centroid_lon from cells)',
        places_max_cell_distance_m(),
        left_columns=['point_kind', 'point_id', 'coded_street_code'],
        right_columns=['grid_code', 'cell_street_code', 'cell_community_code'],
        right_lat='centroid_lat', right_lon='centroid_lon',
    ) }}

),

points_located as (

    -- the nearest cell inside the coded street; without a street code, the nearest cell
    select
        coded_points.point_kind,
        coded_points.point_id,
        coalesce(coded_points.coded_street_code, nearest.cell_street_code) as street_code,
        case
            when coded_points.coded_street_code is not null then coded_points.coded_street_by
            when nearest.cell_street_code is not null then 'coordinates'
            else 'unresolved'
        end as street_located_by,
        nearest.cell_community_code as community_code,
        nearest.grid_code
    from coded_points
    left join (
        select point_kind, point_id, grid_code, cell_street_code, cell_community_code
        from point_cells
        where coded_street_code is null or cell_street_code = coded_street_code
        qualify row_number() over (partition by point_kind, point_id order by distance_m, grid_code) = 1
    ) as nearest
        on nearest.point_kind = coded_points.point_kind
        and nearest.point_id = coded_points.point_id

),

-- the kinds -----------------------------------------------------------------------------------------------------

order_events as (

    select
        'hotline_order' as event_kind,
        orders.request_id as source_id,
        'hotline' as source_platform,
        'requests' as source_entity,
        orders.channel as origin,
        link_events.domain_code,
        orders.service_group as matter_category,
        orders.service_code as matter_code,
        orders.service_name as matter_name,
        link_events.matter_code as enforcement_matter_code,
        orders.received_at as occurred_at,
        orders.resolved_at as closed_at,
        orders.status,
        case orders.status when 'closed' then 'closed' when 'open' then 'open' end as status_group,
        orders.final_unit_type as responsible_unit_type,
        orders.final_unit_code as responsible_unit_code,
        null::{{ dbt.type_string() }} as carried_uscc,
        orders.urgency,
        null::double as penalty_cny,
        null::{{ type_list(dbt.type_string()) }} as measures,
        null::double as peak_value,
        null::double as threshold_value,
        null::{{ dbt.type_string() }} as register_place_id
    from orders
    left join link_events
        on link_events.event_kind = 'hotline_order'
        and link_events.event_id = orders.request_id

),

grid_events as (

    select
        'grid_case' as event_kind,
        grid_cases.case_id as source_id,
        'citymgmt' as source_platform,
        'grid.case' as source_entity,
        grid_cases.case_origin as origin,
        link_events.domain_code,
        grid_cases.case_category as matter_category,
        null::{{ dbt.type_string() }} as matter_code,
        grid_cases.case_subcategory as matter_name,
        link_events.matter_code as enforcement_matter_code,
        grid_cases.reported_at as occurred_at,
        grid_loops.verify_close_at as closed_at,
        grid_cases.case_status as status,
        case
            when grid_cases.case_status in ('closed', 'evaluated') then 'closed'
            when grid_cases.case_status = 'voided' then 'cancelled'
            else 'open'
        end as status_group,
        case
            when unit_street.street_code is not null then 'street'
            when grid_cases.responsible_unit_code is not null then 'department'
        end as responsible_unit_type,
        coalesce(unit_street.street_code, grid_cases.responsible_unit_code) as responsible_unit_code,
        null::{{ dbt.type_string() }} as carried_uscc,
        null::{{ dbt.type_string() }} as urgency,
        null::double as penalty_cny,
        null::{{ type_list(dbt.type_string()) }} as measures,
        null::double as peak_value,
        null::double as threshold_value,
        null::{{ dbt.type_string() }} as register_place_id
    from grid_cases
    left join grid_loops
        on grid_loops.case_id = grid_cases.case_id
    left join street_names as unit_street
        on unit_street.street_spelling = grid_cases.responsible_unit_code
    left join link_events
        on link_events.event_kind = 'grid_case'
        and link_events.event_id = grid_cases.case_id

),

enforcement_events as (

    select
        'enforcement_case' as event_kind,
        enforcement_cases.case_id as source_id,
        'enforcement' as source_platform,
        'cases' as source_entity,
        enforcement_cases.origin,
        link_events.domain_code,
        matters.category_name as matter_category,
        coalesce(link_events.matter_code, enforcement_cases.matter_code) as matter_code,
        matters.matter_name,
        link_events.matter_code as enforcement_matter_code,
        enforcement_cases.filed_at as occurred_at,
        enforcement_cases.closed_at,
        enforcement_cases.status,
        case
            when enforcement_cases.status = 'closed' then 'closed'
            when enforcement_cases.status = 'revoked' then 'cancelled'
            else 'open'
        end as status_group,
        case when enforcement_cases.team_code is not null then 'enforcement_team' end as responsible_unit_type,
        enforcement_cases.team_code as responsible_unit_code,
        case when enforcement_cases.party_uscc_is_valid then enforcement_cases.party_uscc end as carried_uscc,
        null::{{ dbt.type_string() }} as urgency,
        cast(enforcement_cases.penalty_cny as double) as penalty_cny,
        enforcement_cases.measures,
        null::double as peak_value,
        null::double as threshold_value,
        null::{{ dbt.type_string() }} as register_place_id
    from enforcement_cases
    left join link_events
        on link_events.event_kind = 'enforcement_case'
        and link_events.event_id = enforcement_cases.case_id
    left join matters
        on matters.matter_code = link_events.matter_code

),

exceedance_events as (

    select
        'sensor_exceedance' as event_kind,
        exceedance_id as source_id,
        'citymgmt' as source_platform,
        case exceedance_kind
            when 'fume' then 'fume.reading'
            when 'dust' then 'dust.reading'
            when 'diesel_nox' then 'diesel.obd'
            when 'parking_saturation' then 'traffic.occupancy'
        end as source_entity,
        'sensor' as origin,
        domain_code,
        null::{{ dbt.type_string() }} as matter_category,
        exceedance_kind as matter_code,
        null::{{ dbt.type_string() }} as matter_name,
        case when exceedance_kind = 'fume' then 'C01' end as enforcement_matter_code,
        started_at as occurred_at,
        ended_at as closed_at,
        null::{{ dbt.type_string() }} as status,
        'observed' as status_group,
        null::{{ dbt.type_string() }} as responsible_unit_type,
        null::{{ dbt.type_string() }} as responsible_unit_code,
        uscc as carried_uscc,
        null::{{ dbt.type_string() }} as urgency,
        null::double as penalty_cny,
        null::{{ type_list(dbt.type_string()) }} as measures,
        peak_value,
        threshold_value,
        place_id as register_place_id
    from exceedances
    where exceedance_kind <> 'dust_severe'

),

violation_events as (

    select
        'parking_violation' as event_kind,
        cast(violation_id as {{ dbt.type_string() }}) as source_id,
        'citymgmt' as source_platform,
        'traffic.violation' as source_entity,
        violation_source as origin,
        'static_traffic' as domain_code,
        null::{{ dbt.type_string() }} as matter_category,
        null::{{ dbt.type_string() }} as matter_code,
        null::{{ dbt.type_string() }} as matter_name,
        null::{{ dbt.type_string() }} as enforcement_matter_code,
        observed_at as occurred_at,
        null::{{ type_instant() }} as closed_at,
        null::{{ dbt.type_string() }} as status,
        'observed' as status_group,
        null::{{ dbt.type_string() }} as responsible_unit_type,
        null::{{ dbt.type_string() }} as responsible_unit_code,
        null::{{ dbt.type_string() }} as carried_uscc,
        null::{{ dbt.type_string() }} as urgency,
        null::double as penalty_cny,
        null::{{ type_list(dbt.type_string()) }} as measures,
        null::double as peak_value,
        null::double as threshold_value,
        null::{{ dbt.type_string() }} as register_place_id
    from violations

),

unioned as (

    select * from order_events
    union all
    select * from grid_events
    union all
    select * from enforcement_events
    union all
    select * from exceedance_events
    union all
    select * from violation_events

),

-- places --------------------------------------------------------------------------------------------------------

placed as (

    select
        unioned.*,
        case
            when unioned.event_kind in ('hotline_order', 'grid_case', 'enforcement_case') then places.street_code
            when unioned.matter_code = 'fume' then restaurant_places.street_code
            when unioned.matter_code = 'parking_saturation'
                then coalesce(lot_points.street_code, exceedances.street_code)
            when unioned.event_kind = 'parking_violation' then violation_points.street_code
            else exceedances.street_code
        end as street_code,
        case
            when unioned.event_kind in ('hotline_order', 'grid_case', 'enforcement_case')
                then places.street_located_by
            when unioned.matter_code = 'fume' then restaurant_places.street_located_by
            when unioned.matter_code = 'parking_saturation' then lot_points.street_located_by
            when unioned.event_kind = 'parking_violation' then violation_points.street_located_by
            when unioned.matter_code = 'dust' then road_places.street_located_by
            when unioned.matter_code = 'diesel_nox' and exceedances.street_code is not null then 'coordinates'
        end as street_located_by_found,
        case
            when unioned.event_kind in ('hotline_order', 'grid_case', 'enforcement_case') then places.community_code
            when unioned.matter_code = 'fume' then restaurant_places.community_code
            when unioned.matter_code = 'parking_saturation' then lot_points.community_code
            when unioned.event_kind = 'parking_violation' then violation_points.community_code
            when unioned.matter_code = 'diesel_nox' then diesel_cells.community_code
        end as community_code,
        case
            when unioned.event_kind in ('hotline_order', 'grid_case', 'enforcement_case')
                then places.community_located_by
            when unioned.matter_code = 'fume' then restaurant_places.community_located_by
            when unioned.matter_code = 'parking_saturation' and lot_points.community_code is not null
                then 'coordinates'
            when unioned.event_kind = 'parking_violation' and violation_points.community_code is not null
                then 'coordinates'
            when unioned.matter_code = 'diesel_nox' and diesel_cells.community_code is not null then 'coordinates'
        end as community_located_by_found,
        case
            when unioned.event_kind in ('hotline_order', 'grid_case', 'enforcement_case') then places.grid_code
            when unioned.matter_code = 'fume' then restaurant_places.grid_code
            when unioned.matter_code = 'parking_saturation' then lot_points.grid_code
            when unioned.event_kind = 'parking_violation' then violation_points.grid_code
            when unioned.matter_code = 'diesel_nox' then exceedances.grid_code
        end as grid_code,
        case
            when unioned.event_kind in ('hotline_order', 'grid_case', 'enforcement_case') then places.grid_located_by
            when unioned.matter_code = 'fume' then restaurant_places.grid_located_by
            when unioned.matter_code = 'parking_saturation' and lot_points.grid_code is not null
                then 'coordinates'
            when unioned.event_kind = 'parking_violation' and violation_points.grid_code is not null
                then 'coordinates'
            when unioned.matter_code = 'diesel_nox' and exceedances.grid_code is not null then 'coordinates'
        end as grid_located_by_found
    from unioned
    left join places
        on places.event_kind = unioned.event_kind
        and places.event_id = unioned.source_id
    left join exceedances
        on unioned.event_kind = 'sensor_exceedance'
        and exceedances.exceedance_id = unioned.source_id
    left join places as restaurant_places
        on unioned.matter_code = 'fume'
        and restaurant_places.event_kind = 'restaurant'
        and restaurant_places.event_id = unioned.register_place_id
    left join sensor_places as road_places
        on unioned.matter_code = 'dust'
        and road_places.domain_code = 'road_dust'
        and road_places.place_id = unioned.register_place_id
    left join points_located as lot_points
        on unioned.matter_code = 'parking_saturation'
        and lot_points.point_kind = 'parking_lot'
        and lot_points.point_id = unioned.register_place_id
    left join points_located as violation_points
        on unioned.event_kind = 'parking_violation'
        and violation_points.point_kind = 'parking_violation'
        and violation_points.point_id = unioned.source_id
    left join cells as diesel_cells
        on unioned.matter_code = 'diesel_nox'
        and diesel_cells.grid_code = exceedances.grid_code

),

shaped as (

    select
        placed.event_kind || ':' || placed.source_id as event_id,
        placed.event_kind,
        placed.source_id,
        placed.source_platform,
        placed.source_entity,
        placed.origin,
        placed.domain_code,
        placed.matter_category,
        placed.matter_code,
        placed.matter_name,
        placed.enforcement_matter_code,
        placed.street_code,
        coalesce(placed.street_located_by_found, 'unresolved') as street_located_by,
        placed.community_code,
        coalesce(placed.community_located_by_found, 'unresolved') as community_located_by,
        placed.grid_code,
        coalesce(placed.grid_located_by_found, 'unresolved') as grid_located_by,
        placed.occurred_at,
        {{ local_date('placed.occurred_at') }} as occurred_date,
        placed.closed_at,
        placed.status,
        placed.status_group,
        placed.responsible_unit_type,
        placed.responsible_unit_code,
        placed.carried_uscc,
        placed.urgency,
        placed.penalty_cny,
        placed.measures,
        placed.peak_value,
        placed.threshold_value,
        placed.peak_value / nullif(placed.threshold_value, 0) as exceedance_ratio,
        placed.register_place_id
    from placed

),

final as (

    select
        shaped.*,
        {{ events_severity('shaped') }} as severity
    from shaped

)

select * from final
