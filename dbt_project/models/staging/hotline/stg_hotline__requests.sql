-- One row per work order: its latest version (the platform serves every change as a new version), typed and
-- normalised. The complainant is only a keyed hash here (the connector never lands the phone or the name).
with source as (

    select * from {{ source('hotline', 'requests') }}

),

latest as (

    select *
    from source
    qualify row_number() over (
        partition by service_request_id
        order by updated_datetime desc, _ingested_at desc
    ) = 1

),

renamed as (

    select
        service_request_id as request_id,
        status,
        {{ normalise_code('service_code') }} as service_code,
        service_name,
        description,
        agency_responsible,
        requested_datetime as received_at,
        updated_datetime as updated_at,
        expected_datetime as expected_at,
        address,
        lat,
        long as lon,
        channel,
        request_type,
        urgency,
        {{ normalise_code('street_code') }} as street_code_as_served,
        {{ normalise_code('community_code') }} as community_code_as_served,
        dispatches,
        coalesce({{ list_length('dispatches') }}, 0) as dispatch_count,
        responded_datetime as responded_at,
        resolved_datetime as resolved_at,
        return_visit.visited_at as return_visited_at,
        return_visit.is_resolved as return_visit_resolved,
        return_visit.satisfaction as return_visit_satisfaction,
        repeat_of as repeat_of_request_id,
        complainant_phone_hash,
        coalesce(is_excluded, false) as is_excluded,
        extra_fields,
        _batch_id as batch_id,
        _ingested_at as ingested_at

    from latest

)

select * from renamed
