-- One row per sanitation worker (staff.worker): its latest version, soft-deleted workers left out. The worker's
-- name is personal data (citymgmt.md) and never passes staging (the connector no longer lands it; batches landed
-- before may hold it, and it is never selected here); nor do the values of the columns the replica adds beyond
-- the spec (extra_fields): on a register of people they may be personal too (a phone, an ID number), so only
-- their names are kept (extra_field_names), enough to see the drift.
with source as (

    select * from {{ source('citymgmt', 'staff__worker') }}

),

latest as (

    {{ latest_versions('source', 'worker_id') }}

),

renamed as (

    select
        cast(worker_id as {{ dbt.type_string() }}) as worker_id,
        {{ normalise_code('street_code') }} as street_code_as_served,
        lower(trim(role)) as worker_role,
        cast(updated_at as {{ type_instant() }}) as updated_at,
        case when extra_fields is not null then {{ json_keys_sorted('extra_fields') }} end as extra_field_names,
        _batch_id as batch_id,
        _ingested_at as ingested_at

    from latest
    where deleted_at is null

)

select * from renamed
