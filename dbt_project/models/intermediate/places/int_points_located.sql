-- Every event's point put in its unit grid: hotline work orders, grid cases, enforcement cases and monitored
-- restaurants (the place of an enterprise), each with the nearest cell centroid within
-- places_max_cell_distance_m() (macros/places_locate.sql: equirectangular metres, a bucketed join against
-- int_grid_cells_indexed, no cross join) and the street and community of that cell. Besides the nearest cell
-- overall, the nearest cell inside the place the event's own codes name (its community, else its street), for
-- int_places_located, where codes win over coordinates. An event without a usable point, or farther than the
-- limit from every centroid, keeps its row with null cells.
with hotline_orders as (

    select
        'hotline_order' as event_kind,
        request_id as event_id,
        lat,
        lon,
        street_code_as_served,
        community_code_as_served,
        null::{{ dbt.type_string() }} as grid_code_as_served
    from {{ ref('stg_hotline__requests') }}

),

grid_cases as (

    select
        'grid_case' as event_kind,
        case_id as event_id,
        lat,
        lon,
        street_code_as_served,
        community_code_as_served,
        grid_code as grid_code_as_served
    from {{ ref('stg_citymgmt__grid_cases') }}

),

enforcement_cases as (

    select
        'enforcement_case' as event_kind,
        case_id as event_id,
        lat,
        lon,
        street_code_as_served,
        null::{{ dbt.type_string() }} as community_code_as_served,
        null::{{ dbt.type_string() }} as grid_code_as_served
    from {{ ref('stg_enforcement__cases') }}

),

restaurants as (

    select
        'restaurant' as event_kind,
        restaurant_id as event_id,
        lat,
        lon,
        street_code_as_served,
        community_code_as_served,
        null::{{ dbt.type_string() }} as grid_code_as_served
    from {{ ref('stg_citymgmt__restaurants') }}

),

events as (

    select * from hotline_orders
    union all
    select * from grid_cases
    union all
    select * from enforcement_cases
    union all
    select * from restaurants

),

street_names as (

    select * from {{ ref('int_street_names') }}

),

community_names as (

    select * from {{ ref('int_community_names') }}

),

points as (

    -- the place the event's own codes name, which the cell of its point should lie in
    select
        events.event_kind,
        events.event_id,
        events.lat,
        events.lon,
        events.street_code_as_served,
        events.community_code_as_served,
        events.grid_code_as_served,
        street.street_code as served_street_code,
        street.spelling_kind as served_street_spelling_kind,
        community.community_code as coded_community_code,
        coalesce(street.street_code, community.street_code) as coded_street_code
    from events
    left join street_names as street
        on street.street_spelling = events.street_code_as_served
    left join community_names as community
        on community.community_spelling = events.community_code_as_served

),

cells as (

    select
        grid_code,
        street_code as cell_street_code,
        community_code as cell_community_code,
        centroid_lat,
        centroid_lon
    from {{ ref('int_grid_cells_indexed') }}

),

candidates as (

    {{ places_pairs_within(
        'points', 'cells', places_max_cell_distance_m(),
        left_columns=['event_kind', 'event_id', 'coded_community_code', 'coded_street_code'],
        right_columns=['grid_code', 'cell_street_code', 'cell_community_code'],
        right_lat='centroid_lat', right_lon='centroid_lon',
    ) }}

),

nearest as (

    -- per event the nearest cell (ties to the lower grid code) and the nearest inside its coded place: arg_min
    -- over (distance, grid code) in one aggregation, not two row_number() windows over every candidate pair
    select
        event_kind,
        event_id,
        count(*) as candidate_cell_count,
        {{ arg_min(
            struct_of({'grid_code': 'grid_code', 'street_code': 'cell_street_code', 'community_code': 'cell_community_code'}),
            '(distance_m, grid_code)',
        ) }} as nearest_cell,
        min(distance_m) as point_distance_m,
        {{ arg_min('grid_code', '(distance_m, grid_code)') }} filter (where is_in_coded_place) as coded_place_grid_code,
        min(distance_m) filter (where is_in_coded_place) as coded_place_distance_m
    from (
        select
            *,
            coalesce(
                cell_community_code = coded_community_code
                or (coded_community_code is null and cell_street_code = coded_street_code),
                false
            ) as is_in_coded_place
        from candidates
    )
    group by event_kind, event_id

),

final as (

    select
        points.event_kind,
        points.event_id,
        points.lat,
        points.lon,
        points.street_code_as_served,
        points.community_code_as_served,
        points.grid_code_as_served,
        points.served_street_code,
        points.served_street_spelling_kind,
        nearest.nearest_cell.grid_code as point_grid_code,
        nearest.nearest_cell.street_code as point_street_code,
        nearest.nearest_cell.community_code as point_community_code,
        nearest.point_distance_m,
        coalesce(nearest.candidate_cell_count, 0) as candidate_cell_count,
        points.coded_street_code,
        points.coded_community_code,
        nearest.coded_place_grid_code,
        nearest.coded_place_distance_m,
        case
            when points.lat is null or points.lon is null then 'no_point'
            when nearest.nearest_cell.grid_code is null then 'too_far'
            else 'located'
        end as point_status
    from points
    left join nearest
        on nearest.event_kind = points.event_kind
        and nearest.event_id = points.event_id

)

select * from final
