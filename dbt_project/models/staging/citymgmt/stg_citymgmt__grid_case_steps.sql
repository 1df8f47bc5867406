-- One row per step of a grid case (grid.case_step): its latest version, soft-deleted steps left out. The seven-step
-- closed loop of citymgmt.md (GB/T 30428): collect → file → dispatch → handle → feedback → verify_close →
-- evaluate; a return sends the case back to dispatch (a new round), a void ends it at filing.
--
-- The dirty kinds of citymgmt.md are flagged, never dropped, so the lifecycle mart can use or exclude them. The
-- steps of a case are taken in the order they occurred (occurred_at, then step_id), split into rounds by the
-- returns:
-- - out of order: a step that occurred after a step that comes later in the loop, within its round (handle
--   before dispatch);
-- - missing: a round that reached a step of the loop without one before it (from collect in the first round,
--   from dispatch after a return; a return counts as reaching feedback, a void as standing for file);
-- - closed twice: more than one verify_close.
-- Each is a step flag where a step shows it, and a case flag repeated on every step of the case (staging does not
-- join: grid cases take them by case_id downstream).
with source as (

    select * from {{ source('citymgmt', 'grid__case_step') }}

),

latest as (

    {{ latest_versions('source', 'step_id') }}

),

renamed as (

    select
        cast(step_id as bigint) as step_id,
        cast(case_id as {{ dbt.type_string() }}) as case_id,
        lower(trim(step)) as step,
        {{ normalise_code('unit_code') }} as unit_code,
        cast(occurred_at as {{ type_instant() }}) as occurred_at,
        cast(note as {{ dbt.type_string() }}) as step_note,
        cast(updated_at as {{ type_instant() }}) as updated_at,
        extra_fields,
        _batch_id as batch_id,
        _ingested_at as ingested_at

    from latest
    where deleted_at is null

),

positioned as (

    select
        *,
        -- The step's place in the seven-step loop, as citymgmt.md names it; null for return and void.
        case step
            when 'collect' then 1
            when 'file' then 2
            when 'dispatch' then 3
            when 'handle' then 4
            when 'feedback' then 5
            when 'verify_close' then 6
            when 'evaluate' then 7
        end as loop_position,
        -- Where the step stands in the loop when ordering: a void stands for file, a return follows feedback.
        case step when 'void' then 2 when 'return' then 5.5 end as off_loop_position,
        row_number() over (partition by case_id order by occurred_at, step_id) as step_number,
        coalesce(count(*) filter (where step = 'return') over (
            partition by case_id order by occurred_at, step_id
            rows between unbounded preceding and 1 preceding
        ), 0) as loop_round

    from renamed

),

stepped as (

    select
        *,
        coalesce(loop_position, off_loop_position) as order_position,
        -- How far the round got in the loop (a return: feedback; a void: collect, which it follows)
        max(case step when 'return' then 5 when 'void' then 1 else loop_position end)
            over (partition by case_id, loop_round) as round_reach,
        case when loop_round = 0 then 1 else 3 end as round_start

    from positioned

),

flagged as (

    select
        *,
        coalesce(order_position < max(order_position) over (
            partition by case_id, loop_round order by step_number
            rows between unbounded preceding and 1 preceding
        ), false) as is_out_of_order,
        step = 'verify_close' and count(*) filter (where step = 'verify_close') over (
            partition by case_id order by step_number
            rows between unbounded preceding and 1 preceding
        ) > 0 as is_repeat_close,
        {{ count_distinct_over(
            'loop_position', 'loop_position between round_start and round_reach', 'partition by case_id, loop_round'
        ) }} < greatest(round_reach - round_start + 1, 0) as round_step_missing

    from stepped

),

final as (

    select
        step_id,
        case_id,
        step,
        loop_position,
        step_number,
        loop_round,
        unit_code,
        occurred_at,
        step_note,
        is_out_of_order,
        is_repeat_close,
        bool_or(is_out_of_order) over (partition by case_id) as case_steps_out_of_order,
        bool_or(round_step_missing) over (partition by case_id) as case_step_missing,
        count(*) filter (where step = 'verify_close') over (partition by case_id) > 1 as case_closed_twice,
        updated_at,
        extra_fields,
        batch_id,
        ingested_at

    from flagged

)

select * from final
