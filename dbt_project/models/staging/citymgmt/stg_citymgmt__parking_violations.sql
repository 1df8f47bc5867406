-- One row per illegal-parking event (traffic.violation): its latest version, soft-deleted events left out. The
-- vehicle only as the platform's plate hash (never a plate); the street normalised (missing on some rows, as
-- served). Points at (0, 0) or outside Beijing never land (the connector quarantines them).
with source as (

    select * from {{ source('citymgmt', 'traffic__violation') }}

),

latest as (

    {{ latest_versions('source', 'violation_id') }}

),

renamed as (

    select
        cast(violation_id as bigint) as violation_id,
        cast(plate_hash as {{ dbt.type_string() }}) as plate_hash,
        {{ normalise_code('street_code') }} as street_code_as_served,
        cast(lat as double) as lat,
        cast(lon as double) as lon,
        cast(observed_at as {{ type_instant() }}) as observed_at,
        lower(trim(latest.source)) as violation_source,
        cast(updated_at as {{ type_instant() }}) as updated_at,
        extra_fields,
        _batch_id as batch_id,
        _ingested_at as ingested_at

    from latest
    where deleted_at is null

)

select * from renamed
