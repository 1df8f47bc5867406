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

-- one row per return (退单) a unit made on a due order, in the order's month
order_returns as (

    select
        dispatches.unit_type,
        dispatches.unit_code,
        requests.period_month
    from dispatches
    inner join {{ ref('int_hotline_requests_enriched') }} as requests
        on requests.request_id = dispatches.request_id
    where dispatches.is_returned and requests.is_due

),

kpis as (

    {{ hotline_unit_kpis('requests', 'order_returns', 'dispatches', ['period_month']) }}

),

final as (

    select
        concat_ws('|', kpis.unit_type, kpis.unit_code, {{ format_time('kpis.period_month', '%Y-%m') }})
            as unit_month_key,
        kpis.*,
        last_day(kpis.period_month) < {{ local_date('as_of.data_as_of') }} as is_period_complete,
        as_of.data_as_of
    from kpis
    cross join (select max(data_as_of) as data_as_of from {{ ref('int_hotline_requests_enriched') }}) as as_of

)

select * from final
