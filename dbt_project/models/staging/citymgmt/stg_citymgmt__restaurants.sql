-- One row per monitored restaurant of the cooking-fume domain (fume.restaurant): its latest version, soft-deleted
-- restaurants left out. The uscc normalised only (half-width, no spaces, upper case; its GB 32100-2015 check is
-- the macro uscc_is_valid, applied downstream); a point at (0, 0) or outside Beijing nulled (the row stays: it
-- still identifies its readings).
with source as (

    select * from {{ source('citymgmt', 'fume__restaurant') }}

),

latest as (

    {{ latest_versions('source', 'restaurant_id') }}

),

renamed as (

    select
        cast(restaurant_id as {{ dbt.type_string() }}) as restaurant_id,
        cast(name as {{ dbt.type_string() }}) as restaurant_name,
        {{ normalise_code('uscc') }} as uscc,
        {{ normalise_code('street_code') }} as street_code_as_served,
        {{ normalise_code('community_code') }} as community_code_as_served,
        cast(address as {{ dbt.type_string() }}) as address,
        {{ citymgmt_usable_coordinate('lat', 'lat', 'lon') }} as lat,
        {{ citymgmt_usable_coordinate('lon', 'lat', 'lon') }} as lon,
        {{ citymgmt_point_was_nulled('lat', 'lon') }} as point_nulled,
        cast(seats as integer) as seats,
        cast(updated_at as {{ type_instant() }}) as updated_at,
        extra_fields,
        _batch_id as batch_id,
        _ingested_at as ingested_at

    from latest
    where deleted_at is null

)

select * from renamed
