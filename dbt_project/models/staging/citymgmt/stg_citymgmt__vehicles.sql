-- One row per sanitation vehicle (vehicle.vehicle): its latest version, soft-deleted vehicles left out. The plate
-- (a fleet vehicle's, not a person's) and the street normalised.
with source as (

    select * from {{ source('citymgmt', 'vehicle__vehicle') }}

),

latest as (

    {{ latest_versions('source', 'vehicle_id') }}

),

renamed as (

    select
        cast(vehicle_id as {{ dbt.type_string() }}) as vehicle_id,
        {{ normalise_code('plate') }} as plate,
        lower(trim(kind)) as vehicle_kind,
        {{ normalise_code('street_code') }} as street_code_as_served,
        cast(updated_at as {{ type_instant() }}) as updated_at,
        extra_fields,
        _batch_id as batch_id,
        _ingested_at as ingested_at

    from latest
    where deleted_at is null

)

select * from renamed
