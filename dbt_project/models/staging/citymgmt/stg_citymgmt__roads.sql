-- One row per monitored road of the road-dust domain (dust.road): its latest version, soft-deleted roads left out
-- (a road whose latest version has deleted_at set is not here). The street as the platform wrote it, normalised.
with source as (

    select * from {{ source('citymgmt', 'dust__road') }}

),

latest as (

    {{ latest_versions('source', 'road_id') }}

),

renamed as (

    select
        cast(road_id as {{ dbt.type_string() }}) as road_id,
        cast(name as {{ dbt.type_string() }}) as road_name,
        {{ normalise_code('street_code') }} as street_code_as_served,
        cast(length_m as integer) as length_m,
        cast(grade as {{ dbt.type_string() }}) as road_grade,
        cast(updated_at as {{ type_instant() }}) as updated_at,
        extra_fields,
        _batch_id as batch_id,
        _ingested_at as ingested_at

    from latest
    where deleted_at is null

)

select * from renamed
