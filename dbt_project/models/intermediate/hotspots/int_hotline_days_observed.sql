-- One row per Beijing day the hotline data cover: every day from the day the first work order was received to the
-- day the last one was, days without an order included. Volumes per month, weekday or hour are only comparable
-- over the days observed, and a month is only complete when every one of its days is here.
with received as (

    select {{ local_date('received_at') }} as received_date
    from {{ ref('int_hotline_requests_enriched') }}
    where received_at is not null

),

span as (

    select min(received_date) as first_date, max(received_date) as last_date
    from received

),

days as (

    select {{ date_series('span.first_date', 'span.last_date') }} as observed_date
    from span
    where span.first_date is not null

),

final as (

    select
        observed_date,
        date_trunc('month', observed_date)::date as period_month,
        cast({{ iso_weekday('observed_date') }} as integer) as iso_weekday,
        cast(day(last_day(observed_date)) as integer) as days_in_month
    from days

)

select * from final
