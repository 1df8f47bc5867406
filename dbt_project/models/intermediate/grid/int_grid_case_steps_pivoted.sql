-- One row per grid case with steps: the seven-step loop (citymgmt.md) pivoted to one time per step, each step's
-- duration from the previous step (kpis.md), the returns, the void and staging's dirty flags, and which figures
-- the case can take part in. A return sends the case back to dispatch: collect and file are the first round's,
-- dispatch to evaluate the final round's (after the last return), each its first occurrence there, so a second
-- verify_close (closed twice) is not the one timed. The final round's dispatch is timed from the return that
-- opened it (the return files the case again), not from the first filing.
with steps as (

    select * from {{ ref('stg_citymgmt__grid_case_steps') }}

),

rounds as (

    select
        *,
        -- a step's loop_round counts the returns before it: the final round is the one after every return, even
        -- when the last return has no step after it yet
        count(*) filter (where step = 'return') over (partition by case_id) as final_round
    from steps

),

pivoted as (

    select
        case_id,
        any_value(final_round) as final_round,
        min(occurred_at) filter (where step = 'collect' and loop_round = 0) as collect_at,
        min(occurred_at) filter (where step = 'file' and loop_round = 0) as file_at,
        min(occurred_at) filter (where step = 'dispatch' and loop_round = final_round) as dispatch_at,
        min(occurred_at) filter (where step = 'handle' and loop_round = final_round) as handle_at,
        min(occurred_at) filter (where step = 'feedback' and loop_round = final_round) as feedback_at,
        min(occurred_at) filter (where step = 'verify_close' and loop_round = final_round) as verify_close_at,
        min(occurred_at) filter (where step = 'evaluate' and loop_round = final_round) as evaluate_at,
        -- the return that opened the final round (each return counts itself in the round before it)
        max(occurred_at) filter (where step = 'return') as last_return_at,
        min(occurred_at) filter (where step = 'void') as voided_at,
        count(*) filter (where step = 'return') as return_count,
        count(*) as step_count,
        -- staging repeats the case flags on every step of the case
        bool_or(case_steps_out_of_order) as case_steps_out_of_order,
        bool_or(case_step_missing) as case_step_missing,
        bool_or(case_closed_twice) as case_closed_twice
    from rounds
    group by case_id

),

flagged as (

    select
        pivoted.*,
        return_count > 0 as is_returned,
        voided_at is not null as is_voided,
        -- closed: the final round reached verify_close (an evaluation only follows a closure)
        verify_close_at is not null or evaluate_at is not null as is_closed,
        -- A loop out of order has negative durations, one missing a step a duration spanning two steps: such a
        -- case is timed not at all (nor judged on time). Closed twice keeps its times: the first close counts.
        -- A voided case has no loop to time.
        voided_at is null and not case_steps_out_of_order and not case_step_missing as is_counted_in_durations,
        -- Return rate: a voided case never reached dispatch, so it cannot be returned; a loop that lost a step
        -- may have lost a return too. Every other case counts as it stands (still open: not returned so far).
        voided_at is null and not case_step_missing as is_counted_in_return_rate
    from pivoted

),

final as (

    select
        case_id,
        final_round,
        step_count,
        collect_at,
        file_at,
        dispatch_at,
        handle_at,
        feedback_at,
        verify_close_at,
        evaluate_at,
        last_return_at,
        voided_at,
        case when is_counted_in_durations then {{ grid_hours_between('collect_at', 'file_at') }} end as file_hours,
        case when is_counted_in_durations then {{ grid_hours_between(
            'case when final_round > 0 then last_return_at else file_at end', 'dispatch_at') }} end
            as dispatch_hours,
        case when is_counted_in_durations then {{ grid_hours_between('dispatch_at', 'handle_at') }} end
            as handle_hours,
        case when is_counted_in_durations then {{ grid_hours_between('handle_at', 'feedback_at') }} end
            as feedback_hours,
        case when is_counted_in_durations then {{ grid_hours_between('feedback_at', 'verify_close_at') }} end
            as verify_close_hours,
        case when is_counted_in_durations then {{ grid_hours_between('verify_close_at', 'evaluate_at') }} end
            as evaluate_hours,
        -- filing to closure, returned rounds included: what the on-time rule compares with the summed limits
        case when is_counted_in_durations then {{ grid_hours_between('file_at', 'verify_close_at') }} end
            as closure_hours,
        cast(return_count as integer) as return_count,
        is_returned,
        is_voided,
        is_closed,
        case_steps_out_of_order,
        case_step_missing,
        case_closed_twice,
        is_counted_in_durations,
        is_counted_in_return_rate
    from flagged

)

select * from final
