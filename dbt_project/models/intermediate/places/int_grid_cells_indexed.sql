-- The unit grids (单元网格) of the grid platform ready for locating points: each cell with its street and
-- community resolved to the district's codes (the cell's own codes as served; a street missing or not the
-- district's taken from the cell's community) and its centroid projected to metres (macros/places_locate.sql),
-- which the nearest-cell search of int_points_located reads. Cells without a usable centroid stay (grid cases
-- name them) with null coordinates: no point is located into them.
with cells as (

    select * from {{ ref('stg_citymgmt__grid_cells') }}

),

street_names as (

    select * from {{ ref('int_street_names') }}

),

community_names as (

    select * from {{ ref('int_community_names') }}

),

renamed as (

    select
        cells.grid_code,
        coalesce(street.street_code, community.street_code) as street_code,
        case
            when street.street_code is not null then 'street_code'
            when community.street_code is not null then 'community_code'
            else 'unresolved'
        end as street_located_by,
        community.community_code,
        cells.street_code_as_served,
        cells.community_code_as_served,
        cells.area_m2,
        cells.centroid_lat,
        cells.centroid_lon,
        {{ places_x_m('cells.centroid_lon') }} as centroid_x_m,
        {{ places_y_m('cells.centroid_lat') }} as centroid_y_m,
        coalesce(street.street_code <> community.street_code, false) as is_street_disagreeing

    from cells
    left join street_names as street
        on street.street_spelling = cells.street_code_as_served
    left join community_names as community
        on community.community_spelling = cells.community_code_as_served

)

select * from renamed
