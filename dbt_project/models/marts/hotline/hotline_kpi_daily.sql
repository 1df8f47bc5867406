-- One row per handling unit (street office or department) and day: the month to date as it stood at the end of
-- the day (kpis.md, "daily (running month to date)"). The orders of the day's month whose resolve deadline fell
-- on or before the day, held last by the unit; a return visit counts from the day it was made. The rates, the
-- composite score and the rank among the unit's kind on that day, as in hotline_kpi_monthly.
with requests as (

    select * from {{ ref('int_hotline_requests_enriched') }}
    where is_due and final_unit_type in ('street', 'department')

),

dispatches as (

    select * from {{ ref('int_hotline_dispatches_unnested') }}
    where unit_type in ('street', 'department')

),

as_of as (

    select max(data_as_of) as data_as_of, (max(data_as_of) at time zone 'Asia/Shanghai')::date as as_of_date
    from {{ ref('int_hotline_requests_enriched') }}

),

-- every day of every month with due orders, up to the day the data reaches
days as (

    select distinct
        months.period_month,
        cast(unnest(generate_series(
            months.period_month, least(last_day(months.period_month), as_of.as_of_date), interval 1 day
        )) as date) as kpi_date
    from (select distinct period_month from {{ ref('int_hotline_requests_enriched') }} where is_due) as months
    cross join as_of

),

-- each due order once for every day of its month from its deadline on
due_by_day as (

    select
        days.kpi_date,
        days.period_month,
        requests.*  exclude (period_month),
        requests.is_visit_answered
            and (coalesce(requests.return_visited_at, requests.updated_at) at time zone 'Asia/Shanghai')::date
                <= days.kpi_date as is_answered_by_then
    from days
    inner join requests
        on requests.period_month = days.period_month
        and requests.deadline_date <= days.kpi_date

),

held as (

    select
        final_unit_type as unit_type,
        final_unit_code as unit_code,
        kpi_date,
        period_month,
        count(*) as orders,
        count(*) filter (where is_counted_in_rates) as orders_counted,
        count(*) filter (where is_counted_in_rates and is_responded_in_time) as responded_in_time,
        count(*) filter (where is_counted_in_rates and is_answered_by_then) as visits_answered,
        count(*) filter (where is_counted_in_rates and is_answered_by_then and is_visit_resolved) as visits_resolved,
        count(*) filter (where is_counted_in_rates and is_answered_by_then and is_visit_satisfied) as visits_satisfied,
        count(*) filter (where is_counted_in_rates and is_answered_by_then and is_visit_basically_satisfied)
            as visits_basically_satisfied,
        count(*) filter (where is_repeat) as repeat_orders,
        count(*) filter (where is_excluded) as excluded_orders,
        count(*) filter (where is_overdue) as overdue_orders,
        count(*) filter (where is_late_response) as late_response_orders,
        sum(dispatch_count) as dispatches,
        round(avg(transfer_hours), 6) as mean_transfer_hours  -- rounded: a parallel sum of doubles may differ in its last bit run to run
    from due_by_day
    group by all

),

returned as (

    select
        dispatches.unit_type,
        dispatches.unit_code,
        days.kpi_date,
        days.period_month,
        count(*) as returns
    from dispatches
    inner join {{ ref('int_hotline_requests_enriched') }} as requests
        on requests.request_id = dispatches.request_id
    inner join days
        on days.period_month = requests.period_month
        and requests.deadline_date <= days.kpi_date
    where dispatches.is_returned and requests.is_due
    group by all

),

unit_names as (

    select unit_type, unit_code, arg_max(unit_name, dispatched_at) as unit_name
    from dispatches
    group by all

),

counts as (

    select
        coalesce(held.unit_type, returned.unit_type) as unit_type,
        coalesce(held.unit_code, returned.unit_code) as unit_code,
        coalesce(held.kpi_date, returned.kpi_date) as kpi_date,
        coalesce(held.period_month, returned.period_month) as period_month,
        coalesce(held.orders, 0) as orders,
        coalesce(held.orders_counted, 0) as orders_counted,
        coalesce(held.responded_in_time, 0) as responded_in_time,
        coalesce(held.visits_answered, 0) as visits_answered,
        coalesce(held.visits_resolved, 0) as visits_resolved,
        coalesce(held.visits_satisfied, 0) as visits_satisfied,
        coalesce(held.visits_basically_satisfied, 0) as visits_basically_satisfied,
        coalesce(held.repeat_orders, 0) as repeat_orders,
        coalesce(held.excluded_orders, 0) as excluded_orders,
        coalesce(held.overdue_orders, 0) as overdue_orders,
        coalesce(held.late_response_orders, 0) as late_response_orders,
        coalesce(held.dispatches, 0) as dispatches,
        coalesce(returned.returns, 0) as returns,
        held.mean_transfer_hours
    from held
    full outer join returned
        on returned.unit_type = held.unit_type
        and returned.unit_code = held.unit_code
        and returned.kpi_date = held.kpi_date

),

scored as (

    {{ hotline_unit_scores('counts', 'kpi_date') }}

),

final as (

    select
        concat_ws('|', scored.unit_type, scored.unit_code, strftime(scored.kpi_date, '%Y-%m-%d')) as unit_day_key,
        scored.unit_type,
        scored.unit_code,
        unit_names.unit_name,
        scored.kpi_date,
        scored.period_month,
        cast(scored.orders as integer) as orders,
        cast(scored.orders_counted as integer) as orders_counted,
        cast(scored.responded_in_time as integer) as responded_in_time,
        cast(scored.visits_answered as integer) as visits_answered,
        cast(scored.visits_resolved as integer) as visits_resolved,
        cast(scored.visits_satisfied as integer) as visits_satisfied,
        cast(scored.visits_basically_satisfied as integer) as visits_basically_satisfied,
        scored.response_rate,
        scored.resolution_rate,
        scored.satisfaction_rate,
        scored.composite_score,
        cast(scored.unit_rank as integer) as unit_rank,
        cast(scored.units_ranked as integer) as units_ranked,
        cast(scored.repeat_orders as integer) as repeat_orders,
        cast(scored.excluded_orders as integer) as excluded_orders,
        cast(scored.overdue_orders as integer) as overdue_orders,
        cast(scored.late_response_orders as integer) as late_response_orders,
        cast(scored.dispatches as integer) as dispatches,
        cast(scored.returns as integer) as returns,
        scored.mean_transfer_hours,
        as_of.data_as_of
    from scored
    left join unit_names
        on unit_names.unit_type = scored.unit_type
        and unit_names.unit_code = scored.unit_code
    cross join as_of

)

select * from final
