-- One row per parking lot of the static-traffic domain (traffic.parking_lot): its latest version, soft-deleted
-- lots left out. The street normalised; a point at (0, 0) or outside Beijing nulled (the lot stays: it
-- identifies its occupancy readings).
with source as (

    select * from {{ source('citymgmt', 'traffic__parking_lot') }}

),

latest as (

    {{ latest_versions('source', 'lot_id') }}

),

renamed as (

    select
        cast(lot_id as {{ dbt.type_string() }}) as lot_id,
        cast(name as {{ dbt.type_string() }}) as lot_name,
        {{ normalise_code('street_code') }} as street_code_as_served,
        cast(capacity as integer) as capacity,
        {{ citymgmt_usable_coordinate('lat', 'lat', 'lon') }} as lat,
        {{ citymgmt_usable_coordinate('lon', 'lat', 'lon') }} as lon,
        {{ citymgmt_point_was_nulled('lat', 'lon') }} as point_nulled,
        cast(updated_at as {{ type_instant() }}) as updated_at,
        extra_fields,
        _batch_id as batch_id,
        _ingested_at as ingested_at

    from latest
    where deleted_at is null

)

select * from renamed
