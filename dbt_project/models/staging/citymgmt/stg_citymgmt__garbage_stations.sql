-- One row per garbage-sorting station (garbage.station): its latest version, soft-deleted stations left out.
-- Codes normalised; a point at (0, 0) or outside Beijing nulled (the row stays: it identifies its collections).
with source as (

    select * from {{ source('citymgmt', 'garbage__station') }}

),

latest as (

    {{ latest_versions('source', 'station_id') }}

),

renamed as (

    select
        cast(station_id as {{ dbt.type_string() }}) as station_id,
        cast(name as {{ dbt.type_string() }}) as station_name,
        lower(trim(kind)) as station_kind,
        {{ normalise_code('street_code') }} as street_code_as_served,
        {{ normalise_code('community_code') }} as community_code_as_served,
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
