-- One row per work order in its latest state: the matter, the place at community level, the final unit, the flow
-- and the SLA, return-visit and repeat flags the rates are built from. No personal data: no complainant field or
-- hash, and neither the citizen's words nor the address or point (they stay in the intermediate layer).
with enriched as (

    select * from {{ ref('int_hotline_requests_enriched') }}

),

final as (

    select
        request_id,
        status,
        channel,
        request_type,
        urgency,
        service_code,
        service_name,
        service_group,
        domain_code,
        street_code,
        street_resolved_by,
        community_code,
        community_resolved_by,
        received_at,
        responded_at,
        resolved_at,
        updated_at,
        respond_limit_hours,
        resolve_limit_hours,
        respond_deadline,
        resolve_deadline,
        deadline_date,
        period_month,
        final_unit_type,
        final_unit_code,
        final_unit_name,
        final_accepted_at,
        transfer_hours,
        cast(dispatch_count as integer) as dispatch_count,
        cast(return_count as integer) as return_count,
        is_responded_in_time,
        is_late_response,
        is_resolved_in_time,
        is_overdue,
        return_visited_at,
        return_visit_satisfaction,
        is_visit_answered,
        is_visit_resolved,
        is_visit_satisfied,
        is_visit_basically_satisfied,
        is_excluded,
        is_repeat,
        repeat_rule,
        repeats_request_id,
        is_counted_in_rates,
        is_due,
        data_as_of

    from enriched

)

select * from final
