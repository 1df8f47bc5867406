-- One row per market subject (enterprise, individual business) of the credit platform: its latest file version,
-- keyed by the normalised uscc and flagged by the GB 32100-2015 check. The legal representative (a person) is
-- never landed. Names keep the platform's wording with full-width brackets made half-width; re-registrations
-- (one name, two codes) are resolved in intermediate.
with source as (

    select * from {{ source('credit', 'subjects') }}

),

latest as (

    {{ latest_versions('source', normalise_code('uscc')) }}

),

renamed as (

    select
        {{ normalise_code('uscc') }} as uscc,
        {{ uscc_is_valid(normalise_code('uscc')) }} as uscc_is_valid,
        trim(replace(replace(name, '（', '('), '）', ')')) as subject_name,
        name as subject_name_as_served,
        registered_address,
        {{ normalise_code('street_code') }} as street_code_as_served,
        {{ normalise_code('industry_code') }} as industry_code,
        registered_capital_wan_cny,
        established_on,
        status,
        {{ normalise_code('credit_level') }} as credit_level,
        updated_at,
        extra_fields,
        _batch_id as batch_id,
        _ingested_at as ingested_at

    from latest

)

select * from renamed
