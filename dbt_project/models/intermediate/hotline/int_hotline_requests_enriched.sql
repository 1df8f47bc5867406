-- One row per work order (latest version) with what the 接诉即办 rates need (kpis.md): the place resolved to the
-- district's codes, the matter's group and domain, the limits and deadlines of its urgency, the final unit and
-- the flow, the SLA and return-visit flags, the repeat rule, and whether and when the order counts in the rates.
-- The complainant's hash is read for the repeat rule and goes no further.
with requests as (

    select * from {{ ref('stg_hotline__requests') }}

),

dispatches as (

    select * from {{ ref('int_hotline_dispatches_unnested') }}

),

services as (

    select * from {{ ref('stg_hotline__services') }}

),

service_groups as (

    select * from {{ ref('service_groups') }}

),

street_names as (

    select * from {{ ref('int_street_names') }}

),

community_names as (

    select * from {{ ref('int_community_names') }}

),

flow as (

    select
        request_id,
        count(*) as dispatch_count,
        count(*) filter (where is_returned) as return_count,
        any_value(unit_code) filter (where is_final) as final_unit_code,
        any_value(unit_type) filter (where is_final) as final_unit_type,
        any_value(unit_name) filter (where is_final) as final_unit_name,
        any_value(accepted_at) filter (where is_final) as final_accepted_at
    from dispatches
    group by request_id

),

-- kpis.md's repeat rule, second half: the same complainant and service within the window. Each order is
-- compared with the previous order of that complainant and service (received time, then id).
previous_same as (

    select
        request_id,
        lag(request_id) over same_caller as previous_request_id,
        lag(received_at) over same_caller as previous_received_at
    from requests
    where complainant_phone_hash is not null and service_code is not null
    window same_caller as (partition by complainant_phone_hash, service_code order by received_at, request_id)

),

limits as (

    select
        requests.*,
        {{ hotline_limit_hours('respond', 'requests.urgency') }} as respond_limit_hours,
        {{ hotline_limit_hours('resolve', 'requests.urgency') }} as resolve_limit_hours,
        max(requests.updated_at) over () as data_as_of
    from requests

),

joined as (

    select
        limits.request_id,
        limits.status,
        limits.channel,
        limits.request_type,
        limits.urgency,
        limits.received_at,
        limits.updated_at,
        limits.expected_at,
        limits.responded_at,
        limits.resolved_at,
        limits.data_as_of,

        -- place
        {{ places_street_resolved('street_served', 'community') }},
        limits.street_code_as_served,
        community.community_code,
        coalesce(community.spelling_kind, 'unresolved') as community_resolved_by,
        limits.community_code_as_served,
        limits.address,
        limits.lat,
        limits.lon,
        limits.description,

        -- matter
        limits.service_code,
        coalesce(services.service_name, limits.service_name) as service_name,
        services.service_group,
        service_groups.domain_code,

        -- limits and deadlines
        limits.respond_limit_hours,
        limits.resolve_limit_hours,
        limits.received_at + {{ interval_of('limits.respond_limit_hours * 3600', 'seconds') }} as respond_deadline,
        limits.received_at + {{ interval_of('limits.resolve_limit_hours * 3600', 'seconds') }} as resolve_deadline,

        -- flow
        coalesce(flow.dispatch_count, 0) as dispatch_count,
        coalesce(flow.return_count, 0) as return_count,
        flow.final_unit_code,
        flow.final_unit_type,
        flow.final_unit_name,
        flow.final_accepted_at,
        ({{ epoch_seconds('flow.final_accepted_at') }} - {{ epoch_seconds('limits.received_at') }}) / 3600 as transfer_hours,
        limits.agency_responsible,

        -- return visit
        limits.return_visited_at,
        limits.return_visit_satisfaction,
        coalesce(limits.return_visit_satisfaction in ('satisfied', 'basically_satisfied', 'unsatisfied'), false)
            as is_visit_answered,

        -- repeat rule
        limits.repeat_of_request_id,
        previous_same.previous_request_id,
        previous_same.previous_received_at,
        limits.return_visit_resolved,
        limits.is_excluded

    from limits
    left join street_names as street_served
        on street_served.street_spelling = limits.street_code_as_served
    left join community_names as community
        on community.community_spelling = limits.community_code_as_served
    left join services
        on services.service_code = limits.service_code
    left join service_groups
        on service_groups.service_group = services.service_group
    left join flow
        on flow.request_id = limits.request_id
    left join previous_same
        on previous_same.request_id = limits.request_id

),

flagged as (

    select
        joined.* {{ star_exclude() }} (previous_request_id, previous_received_at, return_visit_resolved),

        -- SLA (a deadline not yet reached is not missed)
        coalesce(responded_at <= respond_deadline, false) as is_responded_in_time,
        coalesce(coalesce(responded_at, data_as_of) > respond_deadline, false) as is_late_response,
        coalesce(resolved_at <= resolve_deadline, false) as is_resolved_in_time,
        coalesce(coalesce(resolved_at, data_as_of) > resolve_deadline, false) as is_overdue,

        -- return visit: answered means reached (not unreachable) with a satisfaction
        is_visit_answered and coalesce(return_visit_resolved, false) as is_visit_resolved,
        is_visit_answered and return_visit_satisfaction = 'satisfied' as is_visit_satisfied,
        is_visit_answered and return_visit_satisfaction = 'basically_satisfied' as is_visit_basically_satisfied,

        -- repeat rule: linked by the call taker, else the same complainant and service within the window
        case
            when repeat_of_request_id is not null then 'linked'
            when {{ epoch_seconds('received_at') }} - {{ epoch_seconds('previous_received_at') }}
                <= {{ var('repeat_window_days') }} * 86400
                then 'same_complainant'
        end as repeat_rule,
        case
            when repeat_of_request_id is not null then repeat_of_request_id
            when {{ epoch_seconds('received_at') }} - {{ epoch_seconds('previous_received_at') }}
                <= {{ var('repeat_window_days') }} * 86400
                then previous_request_id
        end as repeats_request_id

    from joined

),

final as (

    select
        flagged.*,
        repeat_rule is not null as is_repeat,
        not is_excluded
            and coalesce(request_type not in ('consult', 'praise'), true)
            and repeat_rule is null as is_counted_in_rates,
        {{ local_date('resolve_deadline') }} as deadline_date,
        date_trunc('month', {{ local_date('resolve_deadline') }})::date as period_month,
        coalesce(resolve_deadline <= data_as_of, false) as is_due
    from flagged

)

select * from final
