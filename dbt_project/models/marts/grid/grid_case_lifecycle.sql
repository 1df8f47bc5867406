-- One row per grid case in its latest state: what it is, where (the street and community resolved to the
-- district's codes), its seven-step loop timed step by step (int_grid_case_steps_pivoted), the limits of
-- reference.md in force, on-time closure (kpis.md), returns, and whether the case counts in the on-time and return
-- rates. No personal data: the point and the description are left out (a case from the hotline carries the
-- citizen's point and words), as in hotline_requests.
with cases as (

    select * from {{ ref('stg_citymgmt__grid_cases') }}

),

loops as (

    select * from {{ ref('int_grid_case_steps_pivoted') }}

),

street_names as (

    select * from {{ ref('int_street_names') }}

),

community_names as (

    select * from {{ ref('int_community_names') }}

),

limited as (

    select
        cases.*,
        cast({{ var('grid_dispatch_hours') }} as double) as dispatch_limit_hours,
        {{ grid_handle_limit_hours('cases.case_kind') }} as handle_limit_hours,
        cast({{ var('grid_verify_hours') }} as double) as verify_limit_hours,
        max(cases.updated_at) over () as data_as_of
    from cases

),

joined as (

    select
        limited.case_id,
        limited.case_origin,
        limited.hotline_request_id,
        limited.case_kind,
        limited.case_category,
        limited.case_subcategory,
        limited.case_status,
        limited.responsible_unit_code,

        -- place: the street as served (code or name), else the community's street
        {{ places_street_resolved('street_served', 'community') }},
        community.community_code,
        coalesce(community.spelling_kind, 'unresolved') as community_resolved_by,
        limited.grid_code,

        -- the loop
        limited.reported_at,
        {{ local_date('limited.reported_at') }} as reported_date,
        loops.collect_at,
        loops.file_at,
        loops.dispatch_at,
        loops.handle_at,
        loops.feedback_at,
        loops.verify_close_at,
        loops.evaluate_at,
        loops.last_return_at,
        loops.voided_at,
        loops.file_hours,
        loops.dispatch_hours,
        loops.handle_hours,
        loops.feedback_hours,
        loops.verify_close_hours,
        loops.evaluate_hours,
        loops.closure_hours,

        -- limits
        limited.dispatch_limit_hours,
        limited.handle_limit_hours,
        limited.verify_limit_hours,
        limited.dispatch_limit_hours + limited.handle_limit_hours + limited.verify_limit_hours
            as closure_limit_hours,

        -- returns, end and dirt (a case with no step served yet has none of them)
        coalesce(loops.return_count, 0) as return_count,
        coalesce(loops.is_returned, false) as is_returned,
        coalesce(loops.is_closed, false) as is_closed,
        coalesce(loops.is_voided, false) as is_voided,
        coalesce(loops.case_steps_out_of_order, false) as case_steps_out_of_order,
        coalesce(loops.case_step_missing, false) as case_step_missing,
        coalesce(loops.case_closed_twice, false) as case_closed_twice,
        coalesce(loops.is_counted_in_durations, false) as is_counted_in_durations,
        coalesce(loops.is_counted_in_return_rate, true) as is_counted_in_return_rate,

        limited.updated_at,
        limited.data_as_of

    from limited
    left join loops
        on loops.case_id = limited.case_id
    left join street_names as street_served
        on street_served.street_spelling = limited.street_code_as_served
    left join community_names as community
        on community.community_spelling = limited.community_code_as_served

),

deadlined as (

    select
        joined.*,
        file_at + {{ interval_of('closure_limit_hours * 3600', 'seconds') }} as closure_deadline
    from joined

),

judged as (

    select
        deadlined.*,
        -- kpis.md: closed on time = verify_close within the sum of the limits, counted from filing (where the
        -- dispatch limit starts). Still open: late once the deadline has passed (by data_as_of), undecided (null)
        -- before. Null too for a case not timed (voided, not yet filed, loop out of order or missing a step).
        case
            when not is_counted_in_durations or closure_deadline is null then null
            when verify_close_at is not null then verify_close_at <= closure_deadline
            when closure_deadline < data_as_of then false
        end as is_closed_on_time
    from deadlined

),

final as (

    select
        case_id,
        case_origin,
        hotline_request_id,
        case_kind,
        case_category,
        case_subcategory,
        case_status,
        responsible_unit_code,
        street_code,
        street_resolved_by,
        community_code,
        community_resolved_by,
        grid_code,
        reported_at,
        reported_date,
        collect_at,
        file_at,
        dispatch_at,
        handle_at,
        feedback_at,
        verify_close_at,
        evaluate_at,
        last_return_at,
        voided_at,
        file_hours,
        dispatch_hours,
        handle_hours,
        feedback_hours,
        verify_close_hours,
        evaluate_hours,
        closure_hours,
        dispatch_limit_hours,
        handle_limit_hours,
        verify_limit_hours,
        closure_limit_hours,
        closure_deadline,
        is_closed_on_time,
        is_closed,
        is_voided,
        is_returned,
        return_count,
        case_steps_out_of_order,
        case_step_missing,
        case_closed_twice,
        is_counted_in_durations,
        is_closed_on_time is not null as is_counted_in_on_time_rate,
        is_counted_in_return_rate,
        updated_at,
        data_as_of
    from judged

)

select * from final
