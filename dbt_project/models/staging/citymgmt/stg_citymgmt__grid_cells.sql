-- One row per unit grid (单元网格, grid.cell) of the grid platform: its latest version, soft-deleted cells left
-- out. Keyed by the grid code normalised (the form grid cases carry); a centroid at (0, 0) or outside Beijing
-- nulled (the cell stays: cases name it).
with source as (

    select * from {{ source('citymgmt', 'grid__cell') }}

),

latest as (

    {{ latest_versions('source', normalise_code('grid_code')) }}

),

renamed as (

    select
        {{ normalise_code('grid_code') }} as grid_code,
        {{ normalise_code('street_code') }} as street_code_as_served,
        {{ normalise_code('community_code') }} as community_code_as_served,
        cast(area_m2 as integer) as area_m2,
        {{ citymgmt_usable_coordinate('centroid_lat', 'centroid_lat', 'centroid_lon') }} as centroid_lat,
        {{ citymgmt_usable_coordinate('centroid_lon', 'centroid_lat', 'centroid_lon') }} as centroid_lon,
        {{ citymgmt_point_was_nulled('centroid_lat', 'centroid_lon') }} as point_nulled,
        cast(updated_at as {{ type_instant() }}) as updated_at,
        extra_fields,
        _batch_id as batch_id,
        _ingested_at as ingested_at

    from latest
    where deleted_at is null

)

select * from renamed
