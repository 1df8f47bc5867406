-- One row per handling unit (street office or department) and month: the orders whose resolve deadline fell in
-- the month and has passed, held last by the unit (kpis.md), the three rates, the composite score and the rank
-- among the unit's kind; the returns (退单) the unit made on orders of the month count against it.
with requests as (

    select * from {{ ref('int_hotline_requests_enriched') }}
    where is_due and final_unit_type in ('street', 'department')

),

dispatches as (

    select * from {{ ref('int_hotline_dispatches_unnested') }}
    where unit_type in ('street', 'department')

),

held as (

    select
        final_unit_type as unit_type,
        final_unit_code as unit_code,
        period_month,
        count(*) as orders,
        count(*) filter (where is_counted_in_rates) as orders_counted,
        count(*) filter (where is_counted_in_rates and is_responded_in_time) as responded_in_time,
        count(*) filter (where is_counted_in_rates and is_visit_answered) as visits_answered,
        count(*) filter (where is_counted_in_rates and is_visit_resolved) as visits_resolved,
        count(*) filter (where is_counted_in_rates and is_visit_satisfied) as visits_satisfied,
        count(*) filter (where is_counted_in_rates and is_visit_basically_satisfied) as visits_basically_satisfied,
        count(*) filter (where is_repeat) as repeat_orders,
        count(*) filter (where is_excluded) as excluded_orders,
        count(*) filter (where is_overdue) as overdue_orders,
        count(*) filter (where is_late_response) as late_response_orders,
        sum(dispatch_count) as dispatches,
        round(avg(transfer_hours), 6) as mean_transfer_hours  -- rounded: a parallel sum of doubles may differ in its last bit run to run
    from requests
    group by all

),

returned as (

    select
        dispatches.unit_type,
        dispatches.unit_code,
        requests.period_month,
        count(*) as returns
    from dispatches
    inner join {{ ref('int_hotline_requests_enriched') }} as requests
        on requests.request_id = dispatches.request_id
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
        and returned.period_month = held.period_month

),

scored as (

    {{ hotline_unit_scores('counts', 'period_month') }}

),

final as (

    select
        concat_ws('|', scored.unit_type, scored.unit_code, strftime(scored.period_month, '%Y-%m')) as unit_month_key,
        scored.unit_type,
        scored.unit_code,
        unit_names.unit_name,
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
        last_day(scored.period_month) < (as_of.data_as_of at time zone 'Asia/Shanghai')::date as is_period_complete,
        as_of.data_as_of
    from scored
    left join unit_names
        on unit_names.unit_type = scored.unit_type
        and unit_names.unit_code = scored.unit_code
    cross join (select max(data_as_of) as data_as_of from {{ ref('int_hotline_requests_enriched') }}) as as_of

)

select * from final
