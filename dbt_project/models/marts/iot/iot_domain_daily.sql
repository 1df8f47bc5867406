-- One row per domain, street and Beijing day of the sensor and position domains: readings and how many were valid
-- (not a spike, not stuck), exceedances (valid readings over the threshold, and the episodes that began that day:
-- int_sensor_exceedances), stuck sensors, offline gaps that began that day (dust, parking), sensors reporting
-- against the register (coverage), and for positions the GPS fixes and the units active. A sensor's street is its
-- register row's (road, restaurant, lot, station, vehicle, worker: int_sensor_places_resolved); a diesel vehicle's
-- is each fix's. Days run, per domain, from its first to its last day with readings; a street with registered
-- sensors has a row on each of them, reporting or not.
with days as (

    select * from {{ ref('int_sensor_days_aggregated') }}

),

places as (

    select * from {{ ref('int_sensor_places_resolved') }}

),

exceedances as (

    select * from {{ ref('int_sensor_exceedances') }}

),

located as (

    select
        days.*,
        coalesce(places.street_code, days.fix_street_code) as street_code,
        places.place_id is not null as is_registered
    from days
    left join places
        on places.domain_code = days.domain_code
        and places.place_id = days.place_id

),

counted as (

    select
        domain_code,
        street_code,
        activity_date,
        sum(readings) as readings,
        sum(valid_readings) as valid_readings,
        sum(spike_readings) as spike_readings,
        sum(stuck_readings) as stuck_readings,
        sum(exceedance_readings) as exceedance_readings,
        sum(severe_readings) as severe_readings,
        sum(offline_gaps) as offline_gaps,
        count(distinct sensor_id) as sensors_reporting,
        count(distinct sensor_id) filter (where stuck_readings > 0) as stuck_sensors,
        count(distinct place_id) filter (where is_registered) as registered_sensors_reporting,
        count(distinct sensor_id) filter (where active_readings > 0) as units_active
    from located
    group by all

),

episodes as (

    select
        domain_code,
        street_code,
        episode_date as activity_date,
        count(*) filter (where exceedance_kind <> 'dust_severe') as exceedance_episodes,
        count(*) filter (where exceedance_kind = 'dust_severe') as severe_episodes
    from exceedances
    group by all

),

registered as (

    select domain_code, street_code, count(*) as sensors_registered
    from places
    group by all

),

calendar as (

    select
        domain_code,
        {{ date_series('min(activity_date)', 'max(activity_date)') }}
            as activity_date
    from days
    group by domain_code

),

spine as (

    select calendar.domain_code, registered.street_code, calendar.activity_date
    from calendar
    inner join registered
        on registered.domain_code = calendar.domain_code
    union
    select domain_code, street_code, activity_date from counted
    union
    select domain_code, street_code, activity_date from episodes

),

joined as (

    select
        spine.domain_code,
        spine.street_code,
        spine.activity_date,
        coalesce(counted.readings, 0) as readings,
        coalesce(counted.valid_readings, 0) as valid_readings,
        coalesce(counted.spike_readings, 0) as spike_readings,
        coalesce(counted.stuck_readings, 0) as stuck_readings,
        coalesce(counted.exceedance_readings, 0) as exceedance_readings,
        coalesce(episodes.exceedance_episodes, 0) as exceedance_episodes,
        coalesce(counted.severe_readings, 0) as severe_readings,
        coalesce(episodes.severe_episodes, 0) as severe_episodes,
        coalesce(counted.offline_gaps, 0) as offline_gaps,
        coalesce(counted.sensors_reporting, 0) as sensors_reporting,
        coalesce(counted.stuck_sensors, 0) as stuck_sensors,
        coalesce(registered.sensors_registered, 0) as sensors_registered,
        coalesce(counted.registered_sensors_reporting, 0) as registered_sensors_reporting,
        coalesce(counted.units_active, 0) as units_active
    from spine
    left join counted
        on counted.domain_code = spine.domain_code
        and counted.street_code is not distinct from spine.street_code
        and counted.activity_date = spine.activity_date
    left join episodes
        on episodes.domain_code = spine.domain_code
        and episodes.street_code is not distinct from spine.street_code
        and episodes.activity_date = spine.activity_date
    left join registered
        on registered.domain_code = spine.domain_code
        and registered.street_code is not distinct from spine.street_code

),

final as (

    select
        concat_ws('|', domain_code, coalesce(street_code, 'unresolved'), {{ format_time('activity_date', '%Y-%m-%d') }})
            as domain_day_key,
        domain_code,
        street_code,
        activity_date,
        cast(readings as integer) as readings,
        cast(valid_readings as integer) as valid_readings,
        cast(spike_readings as integer) as spike_readings,
        -- figures without a rule in the domain are null, not 0
        cast(case when domain_code in {{ iot_in_list(iot_stuck_domains()) }} then stuck_readings end as integer)
            as stuck_readings,
        cast(case when domain_code in {{ iot_in_list(iot_threshold_domains()) }} then exceedance_readings end
            as integer) as exceedance_readings,
        cast(case when domain_code in {{ iot_in_list(iot_threshold_domains()) }} then exceedance_episodes end
            as integer) as exceedance_episodes,
        cast(case when domain_code = 'road_dust' then severe_readings end as integer) as severe_readings,
        cast(case when domain_code = 'road_dust' then severe_episodes end as integer) as severe_episodes,
        cast(case when domain_code in {{ iot_in_list(iot_offline_gap_domains()) }} then offline_gaps end as integer)
            as offline_gaps,
        cast(sensors_reporting as integer) as sensors_reporting,
        cast(case when domain_code in {{ iot_in_list(iot_stuck_domains()) }} then stuck_sensors end as integer)
            as stuck_sensors,
        -- heavy-diesel vehicles come from outside the district: no register, no coverage
        cast(case when domain_code <> 'heavy_diesel' then sensors_registered end as integer) as sensors_registered,
        cast(case when domain_code <> 'heavy_diesel' then registered_sensors_reporting end as integer)
            as registered_sensors_reporting,
        case when domain_code <> 'heavy_diesel' and sensors_registered > 0
            then registered_sensors_reporting / sensors_registered end as coverage_rate,
        cast(case when domain_code in {{ iot_in_list(iot_position_domains()) }} then readings end as integer)
            as gps_fixes,
        cast(case when domain_code in ('sanitation_vehicle', 'personnel') then units_active end as integer)
            as units_active
    from joined

)

select * from final
