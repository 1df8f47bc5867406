-- One row per service (事项分类) of the platform's current list: the newest snapshot batch that holds rows (each
-- load lands the whole list), the service code normalised like the orders' service_code, the group lower case.
with source as (

    select * from {{ source('hotline', 'services') }}

),

latest as (

    select *
    from source
    qualify _batch_id = first(_batch_id) over (order by _ingested_at desc, _batch_id desc)

),

renamed as (

    select
        {{ normalise_code('service_code') }} as service_code,
        trim(service_name) as service_name,
        description as service_description,
        nullif(lower(trim({{ adapter.quote('group') }})), '') as service_group,
        type as service_type,
        keywords,
        metadata as has_metadata,
        extra_fields,
        _batch_id as batch_id,
        _ingested_at as ingested_at

    from latest
    where {{ normalise_code('service_code') }} is not null
    -- a code listed twice in one snapshot (the platform repeats itself now and then) counts once
    qualify row_number() over (partition by {{ normalise_code('service_code') }} order by service_name) = 1

)

select * from renamed
