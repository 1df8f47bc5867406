-- Seasonal and periodic patterns of the hotline per service group (kpis.md): orders by month of year, day of week and
-- hour of day, each over the days the data cover, with each month's ratio to the group's yearly mean and whether the
-- group is seasonal (int_service_group_months_rated). Every group of the seed has all 43 rows, buckets without
-- orders included.
with orders as (

    select service_group, received_date, received_hour, received_iso_weekday
    from {{ ref('int_hotspot_orders_windowed') }}
    where service_group is not null

),

days as (

    select * from {{ ref('int_hotline_days_observed') }}

),

groups as (

    select service_group, service_group_name from {{ ref('service_groups') }}

),

rated as (

    select * from {{ ref('int_service_group_months_rated') }}

),

-- every (pattern, bucket): 12 months of year, 7 ISO weekdays, 24 hours
buckets as (

    select 'month_of_year' as pattern, {{ integer_series(1, 13) }} as bucket
    union all
    select 'day_of_week', {{ integer_series(1, 8) }}
    union all
    select 'hour_of_day', {{ integer_series(0, 24) }}

),

bucket_orders as (

    select service_group, 'month_of_year' as pattern, cast(month(received_date) as integer) as bucket,
        count(*) as orders
    from orders
    group by all
    union all
    select service_group, 'day_of_week', received_iso_weekday, count(*)
    from orders
    group by all
    union all
    select service_group, 'hour_of_day', received_hour, count(*)
    from orders
    group by all

),

-- the days observed in each bucket: a month of year's days, a weekday's days, and every day for each hour
bucket_days as (

    select 'month_of_year' as pattern, cast(month(observed_date) as integer) as bucket, count(*) as days_observed
    from days
    group by all
    union all
    select 'day_of_week', iso_weekday, count(*)
    from days
    group by all
    union all
    select buckets.pattern, buckets.bucket, all_days.days_observed
    from buckets
    cross join (select count(*) as days_observed from days) as all_days
    where buckets.pattern = 'hour_of_day'

),

group_orders as (

    select service_group, count(*) as group_orders
    from orders
    group by service_group

),

-- the group's judgement, the same on each of its months
judged as (

    select distinct service_group, months_observed, complete_years_observed, is_seasonal, seasonal_months
    from rated

),

final as (

    select
        concat_ws('|', groups.service_group, buckets.pattern, lpad(cast(buckets.bucket as {{ dbt.type_string() }}), 2, '0'))
            as seasonal_pattern_key,
        groups.service_group,
        groups.service_group_name,
        buckets.pattern,
        buckets.bucket,
        cast(coalesce(bucket_orders.orders, 0) as integer) as orders,
        cast(coalesce(bucket_days.days_observed, 0) as integer) as days_observed,
        coalesce(bucket_orders.orders, 0) / nullif(bucket_days.days_observed, 0) as orders_per_day,
        coalesce(bucket_orders.orders, 0) / nullif(group_orders.group_orders, 0) as share_of_orders,
        rated.months_complete,
        rated.month_ratio,
        rated.years_above_ratio,
        cast(coalesce(group_orders.group_orders, 0) as integer) as group_orders,
        judged.months_observed,
        judged.complete_years_observed,
        judged.is_seasonal,
        judged.seasonal_months,
        span.observed_from,
        span.observed_to
    from groups
    cross join buckets
    cross join (select min(observed_date) as observed_from, max(observed_date) as observed_to from days) as span
    left join judged
        on judged.service_group = groups.service_group
    left join group_orders
        on group_orders.service_group = groups.service_group
    left join bucket_orders
        on bucket_orders.service_group = groups.service_group
        and bucket_orders.pattern = buckets.pattern
        and bucket_orders.bucket = buckets.bucket
    left join bucket_days
        on bucket_days.pattern = buckets.pattern
        and bucket_days.bucket = buckets.bucket
    left join rated
        on buckets.pattern = 'month_of_year'
        and rated.service_group = groups.service_group
        and rated.month_of_year = buckets.bucket

)

select * from final
