-- One row per dispatch (派单) of a work order's latest version, in the platform's order (oldest first), the
-- unit resolved: a street office by int_street_names (its code, else its name), any other unit by its code
-- normalised. The final unit of an order is its last dispatch that was accepted and not returned (kpis.md).
with requests as (

    select * from {{ ref('stg_hotline__requests') }}

),

street_names as (

    select * from {{ ref('int_street_names') }}

),

unnested as (

    select
        requests.request_id,
        dispatches.dispatch_seq,
        dispatches.dispatch
    from requests
        {{ join_unnested('requests.dispatches', 'dispatches', 'dispatch', 'dispatch_seq') }}

),

renamed as (

    select
        unnested.request_id,
        cast(unnested.dispatch_seq as integer) as dispatch_seq,
        nullif(lower(trim(unnested.dispatch.unit_type)), '') as unit_type,
        case
            when lower(trim(unnested.dispatch.unit_type)) = 'street'
                then coalesce(by_code.street_code, by_name.street_code, {{ normalise_code('unnested.dispatch.unit_code') }})
            else {{ normalise_code('unnested.dispatch.unit_code') }}
        end as unit_code,
        unnested.dispatch.unit_name as unit_name,
        unnested.dispatch.dispatched_at as dispatched_at,
        unnested.dispatch.accepted_at as accepted_at,
        unnested.dispatch.returned_at as returned_at,
        unnested.dispatch.return_reason as return_reason,
        unnested.dispatch.returned_at is not null as is_returned

    from unnested
    left join street_names as by_code
        on by_code.street_spelling = {{ normalise_code('unnested.dispatch.unit_code') }}
    left join street_names as by_name
        on by_name.street_spelling = {{ normalise_code('unnested.dispatch.unit_name') }}

),

flagged as (

    select
        renamed.*,
        coalesce(
            dispatch_seq = max(case when accepted_at is not null and not is_returned then dispatch_seq end)
                over (partition by request_id),
            false
        ) as is_final
    from renamed

)

select * from flagged
