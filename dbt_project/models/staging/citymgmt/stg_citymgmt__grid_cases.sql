-- One row per grid case (grid.case): its latest version (every step writes a new version with the case's new
-- status), soft-deleted cases left out. Codes normalised; the hotline work order it came from as served (the
-- hotline's request_id). The dirty kinds of the seven-step loop are flagged on stg_citymgmt__grid_case_steps
-- (per step and, repeated on each step, per case): staging does not join the two tables.
with source as (

    select * from {{ source('citymgmt', 'grid__case') }}

),

latest as (

    {{ latest_versions('source', 'case_id') }}

),

renamed as (

    select
        cast(case_id as {{ dbt.type_string() }}) as case_id,
        lower(trim(origin)) as case_origin,
        nullif(trim(hotline_request_id), '') as hotline_request_id,
        lower(trim(kind)) as case_kind,
        cast(category as {{ dbt.type_string() }}) as case_category,
        cast(subcategory as {{ dbt.type_string() }}) as case_subcategory,
        cast(description as {{ dbt.type_string() }}) as case_description,
        {{ normalise_code('street_code') }} as street_code_as_served,
        {{ normalise_code('community_code') }} as community_code_as_served,
        {{ normalise_code('grid_code') }} as grid_code,
        cast(lat as double) as lat,
        cast(lon as double) as lon,
        cast(reported_at as {{ type_instant() }}) as reported_at,
        lower(trim(status)) as case_status,
        {{ normalise_code('responsible_unit_code') }} as responsible_unit_code,
        cast(updated_at as {{ type_instant() }}) as updated_at,
        extra_fields,
        _batch_id as batch_id,
        _ingested_at as ingested_at

    from latest
    where deleted_at is null

)

select * from renamed
