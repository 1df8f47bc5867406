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

    select max(data_as_of) as data_as_of, {{ local_date('max(data_as_of)') }} as as_of_date
    from {{ ref('int_hotline_requests_enriched') }}

),

-- every day of every month with due orders, up to the day the data reaches
days as (

    select distinct
        months.period_month,
        {{ date_series('months.period_month', 'least(last_day(months.period_month), as_of.as_of_date)') }} as kpi_date
    from (select distinct period_month from {{ ref('int_hotline_requests_enriched') }} where is_due) as months
    cross join as_of

),

-- each due order once for every day of its month from its deadline on
due_by_day as (

    select
        days.kpi_date,
        days.period_month,
        requests.* {{ star_exclude() }} (period_month),
        requests.is_visit_answered
            and {{ local_date('coalesce(requests.return_visited_at, requests.updated_at)') }}
                <= days.kpi_date as is_answered_by_then
    from days
    inner join requests
        on requests.period_month = days.period_month
        and requests.deadline_date <= days.kpi_date

),

-- one row per return (退单) a unit made on a due order, for every day of the order's month from its deadline on
returns_by_day as (

    select
        dispatches.unit_type,
        dispatches.unit_code,
        days.kpi_date,
        days.period_month
    from dispatches
    inner join {{ ref('int_hotline_requests_enriched') }} as requests
        on requests.request_id = dispatches.request_id
    inner join days
        on days.period_month = requests.period_month
        and requests.deadline_date <= days.kpi_date
    where dispatches.is_returned and requests.is_due

),

kpis as (

    {{ hotline_unit_kpis(
        'due_by_day', 'returns_by_day', 'dispatches', ['kpi_date', 'period_month'], answered='is_answered_by_then'
    ) }}

),

final as (

    select
        concat_ws('|', kpis.unit_type, kpis.unit_code, {{ format_time('kpis.kpi_date', '%Y-%m-%d') }}) as unit_day_key,
        kpis.*,
        as_of.data_as_of
    from kpis
    cross join as_of

)

select * from final
