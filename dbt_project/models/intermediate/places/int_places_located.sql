-- Where each event is: hotline work orders, grid cases, enforcement cases and monitored restaurants (the place of
-- an enterprise), with the district's street, community and unit grid and how each was found. Codes win over
-- coordinates (the call taker's, inspector's or team's code is a decision about the place; a point is a
-- measurement, often of where the caller stood), unless the code is missing or not the district's:
--   street:    the street as served (a code, else a name) → the served community's street → the served grid
--              cell's street → the street of the point's cell → unresolved;
--   community: the community as served → the served grid cell's community → the community of the point's cell
--              (the nearest cell inside the coded street, when a street was coded) → unresolved;
--   grid:      the grid cell as served (grid cases) → the point's cell: the nearest one inside the coded
--              community (else street) when the event codes one, else the nearest one → unresolved.
-- A point whose nearest cell lies in another street than the one coded is kept as coded and flagged.
with points as (

    select * from {{ ref('int_points_located') }}

),

cells as (

    select * from {{ ref('int_grid_cells_indexed') }}

),

coded_place_cells as (

    select grid_code, street_code, community_code from cells

),

resolved as (

    select
        points.*,
        served_cell.grid_code as served_grid_code,
        served_cell.street_code as served_grid_street_code,
        served_cell.community_code as served_grid_community_code,
        -- the point's cell that may fill what the codes leave open: inside the coded place when there is one
        case when points.coded_street_code is not null then points.coded_place_grid_code
            else points.point_grid_code end as point_fill_grid_code
    from points
    left join cells as served_cell
        on served_cell.grid_code = points.grid_code_as_served

),

filled as (

    select
        resolved.*,
        fill_cell.street_code as fill_street_code,
        fill_cell.community_code as fill_community_code
    from resolved
    left join coded_place_cells as fill_cell
        on fill_cell.grid_code = resolved.point_fill_grid_code

),

final as (

    select
        event_kind,
        event_id,

        coalesce(served_street_code, coded_street_code, served_grid_street_code, point_street_code) as street_code,
        case
            when served_street_code is not null and served_street_spelling_kind = 'code' then 'street_code'
            when served_street_code is not null then 'street_name'
            when coded_street_code is not null then 'community_code'
            when served_grid_street_code is not null then 'grid_code'
            when point_street_code is not null then 'coordinates'
            else 'unresolved'
        end as street_located_by,

        coalesce(coded_community_code, served_grid_community_code, fill_community_code) as community_code,
        case
            when coded_community_code is not null then 'community_code'
            when served_grid_community_code is not null then 'grid_code'
            when fill_community_code is not null then 'coordinates'
            else 'unresolved'
        end as community_located_by,

        coalesce(served_grid_code, point_fill_grid_code) as grid_code,
        case
            when served_grid_code is not null then 'grid_code'
            when point_fill_grid_code is not null then 'coordinates'
            else 'unresolved'
        end as grid_located_by,

        lat,
        lon,
        point_status,
        point_grid_code,
        point_street_code,
        point_distance_m,
        street_code_as_served,
        community_code_as_served,
        grid_code_as_served,
        -- the point lies (nearest cell) in another street than the codes name
        coalesce(point_street_code <> coalesce(served_street_code, coded_street_code, served_grid_street_code), false)
            as is_point_off_coded_street

    from filled

)

select * from final
