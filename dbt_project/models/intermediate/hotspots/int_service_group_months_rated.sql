-- One row per service group (seed service_groups) and month of year (1-12): kpis.md's seasonal rule. A month's ratio
-- is its orders over the group's yearly mean (the year's orders / 12), rated only in calendar years the data cover
-- wholly (a mean over the months seen would carry the season itself). month_ratio pools the complete years,
-- years_above_ratio counts those in which the month exceeded seasonal_ratio, and a group is seasonal when one
-- month of year did so in two or more years; with fewer than two complete years it is not judged (null).
with orders as (

    select service_group, period_month
    from {{ ref('int_hotspot_orders_windowed') }}
    where service_group is not null

),

days as (

    select * from {{ ref('int_hotline_days_observed') }}

),

groups as (

    select service_group from {{ ref('service_groups') }}

),

months_observed as (

    select
        period_month,
        count(*) = any_value(days_in_month) as is_month_complete
    from days
    group by period_month

),

complete_years as (

    select year(period_month) as calendar_year
    from months_observed
    where is_month_complete
    group by year(period_month)
    having count(*) = 12

),

-- every group and month of the complete years, with its orders (0 when none)
month_counts as (

    select
        groups.service_group,
        months_observed.period_month,
        count(orders.service_group) as orders
    from groups
    cross join months_observed
    inner join complete_years
        on complete_years.calendar_year = year(months_observed.period_month)
    left join orders
        on orders.service_group = groups.service_group
        and orders.period_month = months_observed.period_month
    group by groups.service_group, months_observed.period_month

),

month_ratios as (

    select
        service_group,
        period_month,
        orders,
        sum(orders) over (partition by service_group, year(period_month)) as yearly_orders
    from month_counts

),

rated as (

    select
        service_group,
        cast(month(period_month) as integer) as month_of_year,
        cast(sum(orders) as double) * 12 / nullif(cast(sum(yearly_orders) as double), 0) as month_ratio,
        count(*) filter (
            where cast(orders as double) * 12 / nullif(cast(yearly_orders as double), 0) > {{ var('seasonal_ratio') }}
        ) as years_above_ratio
    from month_ratios
    group by service_group, month(period_month)

),

months_of_year as (

    select {{ integer_series(1, 13) }} as month_of_year

),

months_complete as (

    select cast(month(period_month) as integer) as month_of_year, count(*) as months_complete
    from months_observed
    where is_month_complete
    group by month(period_month)

),

seasonal_months as (

    select service_group, {{ ordered_list('month_of_year', 'month_of_year') }} as seasonal_months
    from rated
    where years_above_ratio >= 2
    group by service_group

),

final as (

    select
        groups.service_group,
        months_of_year.month_of_year,
        cast(coalesce(months_complete.months_complete, 0) as integer) as months_complete,
        rated.month_ratio,
        cast(coalesce(rated.years_above_ratio, 0) as integer) as years_above_ratio,
        cast((select count(*) from months_observed) as integer) as months_observed,
        cast((select count(*) from complete_years) as integer) as complete_years_observed,
        case when (select count(*) from complete_years) >= 2 then seasonal_months.service_group is not null end
            as is_seasonal,
        cast(coalesce(seasonal_months.seasonal_months, {{ empty_list() }}) as {{ type_list('integer') }})
            as seasonal_months
    from groups
    cross join months_of_year
    left join months_complete
        on months_complete.month_of_year = months_of_year.month_of_year
    left join rated
        on rated.service_group = groups.service_group
        and rated.month_of_year = months_of_year.month_of_year
    left join seasonal_months
        on seasonal_months.service_group = groups.service_group

)

select * from final
