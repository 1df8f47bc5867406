-- One row per credit record (licence, penalty, red/black list entry, commitment): its latest version. `revoked`
-- and `valid_until` are kept as served so that "in force on a day" is derived where the day is known
-- (not revoked, decided on or before it, valid_until null or on or after it). A record's uscc is the key to its
-- subject, normalised and flagged by the GB 32100-2015 check; records of a subject the platform does not list
-- are kept.
with source as (

    select * from {{ source('credit', 'records') }}

),

latest as (

    {{ latest_versions('source', 'record_id') }}

),

renamed as (

    select
        record_id,
        {{ normalise_code('uscc') }} as uscc,
        {{ uscc_is_valid(normalise_code('uscc')) }} as uscc_is_valid,
        kind,
        authority,
        decision_no,
        decided_on,
        valid_until,
        content,
        penalty_cny,
        coalesce(revoked, false) as revoked,
        updated_at,
        extra_fields,
        _batch_id as batch_id,
        _ingested_at as ingested_at

    from latest

)

select * from renamed
