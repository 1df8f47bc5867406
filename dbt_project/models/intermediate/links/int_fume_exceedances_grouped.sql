-- The cooking-fume exceedances as the links see them: one row per restaurant and local (Beijing) day on which
-- its analyser read above var('threshold_fume_mg_m3'), from the first to the last exceeding reading of that day.
-- Readings flagged stuck or spikes (stg_citymgmt__fume_readings) are not exceedances: their values are the
-- device's, not the kitchen's.
with readings as (

    select * from {{ ref('stg_citymgmt__fume_readings') }}

),

exceeding as (

    select
        restaurant_id,
        measured_at,
        concentration_mg_m3,
        {{ local_date('measured_at') }} as exceedance_date
    from readings
    where is_exceedance
        and not is_stuck
        and not is_spike
        and restaurant_id is not null
        and measured_at is not null

),

grouped as (

    select
        restaurant_id || '@' || {{ format_time('exceedance_date', '%Y-%m-%d') }} as exceedance_id,
        restaurant_id,
        exceedance_date,
        min(measured_at) as first_exceeding_at,
        max(measured_at) as last_exceeding_at,
        count(*) as exceeding_reading_count,
        max(concentration_mg_m3) as max_concentration_mg_m3
    from exceeding
    group by restaurant_id, exceedance_date

)

select * from grouped
