-- One row per enforcement case: its latest version (the platform serves every revision as a new version), typed
-- and normalised. The party keeps its kind and, for an enterprise, its code and name; a person's name and ID
-- number never pass (the connector does not land them; the name is dropped here too unless the party is an
-- enterprise). The uscc is checked (GB 32100-2015) and flagged, not dropped.
with source as (

    select * from {{ source('enforcement', 'cases') }}

),

latest as (

    {{ latest_versions('source', 'case_id') }}

),

renamed as (

    select
        case_id,
        origin,
        grid_case_id,
        hotline_request_id,
        {{ normalise_code('matter_code') }} as matter_code,
        party.type as party_type,
        {{ normalise_code('party.uscc') }} as party_uscc,
        {{ uscc_is_valid(normalise_code('party.uscc')) }} as party_uscc_is_valid,
        case when party.type = 'enterprise' then party.name end as party_enterprise_name,
        {{ normalise_code('street_code') }} as street_code_as_served,
        address,
        lat,
        lon,
        filed_at,
        investigated_at,
        decided_at,
        closed_at,
        status,
        penalty_cny,
        coalesce(measures, {{ empty_list() }}) as measures,
        result_text,
        {{ normalise_code('team_code') }} as team_code,
        updated_at,
        extra_fields,
        _batch_id as batch_id,
        _ingested_at as ingested_at

    from latest

)

select * from renamed
