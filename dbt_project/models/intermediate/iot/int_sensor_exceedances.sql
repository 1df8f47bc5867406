-- One row per exceedance episode of a sensor: consecutive valid readings of one series over a threshold of
-- reference.md (vars threshold_*), kinds as the generator's truth names them: fume (cooking_fume), dust and
-- dust_severe (road_dust: over the load, over the severe load - a severe episode lies inside a dust one),
-- diesel_nox (heavy_diesel: NOx over the limit at speed) and parking_saturation (static_traffic: occupied over
-- the share of the lot's capacity). A reading counts only when valid: not a spike, not in a stuck span (staging's
-- flags). Episode: the valid exceeding readings of a sensor and kind, a new episode starting where the previous
-- such reading lies more than iot_episode_gap_minutes() (30) earlier; a dip under the threshold, a spike or a
-- stuck reading left out, or a gap shorter than that does not end one. Each episode carries its reading count
-- (the per-reading figure), first and last reading, peak value, the threshold, and its place: the road's,
-- restaurant's or lot's street (and community where the register has one), a diesel vehicle's first exceeding
-- fix's unit grid and street; the restaurant's enterprise (valid uscc). Exceeding readings are few: the table is
-- rebuilt on each run from the flagged rows only.
with readings as (

    {%- for domain in iot_threshold_domains() %}
    select * from ({{ iot_readings(domain) }}) as {{ domain }}_readings
    where is_over_threshold and not is_spike and not is_stuck
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

places as (

    select * from {{ ref('int_sensor_places_resolved') }}

),

exceeding as (

    select
        case domain_code
            when 'road_dust' then 'dust'
            when 'cooking_fume' then 'fume'
            when 'heavy_diesel' then 'diesel_nox'
            when 'static_traffic' then 'parking_saturation'
        end as exceedance_kind,
        *
    from readings

    union all

    select 'dust_severe' as exceedance_kind, *
    from readings
    where domain_code = 'road_dust' and is_over_severe

),

numbered as (

    select
        *,
        count(*) filter (
            where previous_at is null or reading_at - previous_at > interval '{{ iot_episode_gap_minutes() }} minutes'
        ) over (
            partition by exceedance_kind, sensor_id order by reading_at, reading_id rows unbounded preceding
        ) as episode_number
    from (
        select
            *,
            lag(reading_at) over (partition by exceedance_kind, sensor_id order by reading_at, reading_id)
                as previous_at
        from exceeding
    ) as sequenced

),

episodes as (

    select
        exceedance_kind,
        domain_code,
        sensor_id,
        episode_number,
        min(reading_at) as started_at,
        max(reading_at) as ended_at,
        count(*) as exceeding_reading_count,
        max(measured_value) as peak_value,
        {{ arg_min('reading_id', '(reading_at, reading_id)') }} as first_reading_id,
        {{ arg_min_null('place_id', '(reading_at, reading_id)') }} as place_id,
        {{ arg_min_null('fix_grid_code', '(reading_at, reading_id)') }} as fix_grid_code,
        {{ arg_min_null('fix_street_code', '(reading_at, reading_id)') }} as fix_street_code
    from numbered
    group by exceedance_kind, domain_code, sensor_id, episode_number

),

final as (

    select
        episodes.exceedance_kind || ':' || episodes.sensor_id || '@'
            || {{ format_time(local_time('episodes.started_at'), '%Y-%m-%dT%H:%M:%S') }} as exceedance_id,
        episodes.exceedance_kind,
        episodes.domain_code,
        episodes.sensor_id,
        episodes.place_id,
        coalesce(places.street_code, episodes.fix_street_code) as street_code,
        places.community_code,
        episodes.fix_grid_code as grid_code,
        places.uscc,
        episodes.started_at,
        episodes.ended_at,
        {{ iot_local_date('episodes.started_at') }} as episode_date,
        cast(episodes.exceeding_reading_count as integer) as exceeding_reading_count,
        episodes.first_reading_id,
        episodes.peak_value,
        case episodes.exceedance_kind
            when 'dust' then {{ var('threshold_dust_load_g_m2') }}
            when 'dust_severe' then {{ var('threshold_dust_load_severe_g_m2') }}
            when 'fume' then {{ var('threshold_fume_mg_m3') }}
            when 'diesel_nox' then {{ var('threshold_diesel_nox_ppm') }}
            when 'parking_saturation' then {{ var('threshold_parking_saturation') }}
        end::double as threshold_value,
        case episodes.exceedance_kind
            when 'dust' then 'g/m2'
            when 'dust_severe' then 'g/m2'
            when 'fume' then 'mg/m3'
            when 'diesel_nox' then 'ppm'
            when 'parking_saturation' then 'occupied/capacity'
        end as value_unit
    from episodes
    left join places
        on places.domain_code = episodes.domain_code
        and places.place_id = episodes.place_id

)

select * from final
