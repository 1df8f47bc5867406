{#- The sensors' side (models/intermediate/iot, models/marts/iot): the city-management observation tables read in
    one shape, per domain (reference.md's domain codes), so that the exceedances and the daily aggregates treat
    them alike. Staging flags, never deletes (stuck runs, spikes); what counts here:
    - a reading is valid when it is neither a spike nor in a stuck span (reference.md quarantines stuck readings);
    - an exceedance is a valid reading over its threshold (staging's `is_exceedance`, the vars' thresholds; a lot's
      saturation is computed here: it needs the lot register's capacity). -#}


{#- The domains with an observation table, in reference.md's order. -#}
{% macro iot_domains() -%}
    {{ return(['road_dust', 'cooking_fume', 'garbage_sorting', 'sanitation_vehicle', 'personnel',
               'static_traffic', 'heavy_diesel']) }}
{%- endmacro %}


{#- The domains whose readings have a threshold (reference.md "Sensor thresholds"); the others' exceedance
    figures are null, not 0. -#}
{% macro iot_threshold_domains() -%}
    {{ return(['road_dust', 'cooking_fume', 'static_traffic', 'heavy_diesel']) }}
{%- endmacro %}


{#- The domains whose series have a stuck rule (staging's `is_stuck`: dust and fume); the others' stuck figures
    are null. -#}
{% macro iot_stuck_domains() -%}
    {{ return(['road_dust', 'cooking_fume']) }}
{%- endmacro %}


{#- The domains of position fixes (GPS fixes, units active). -#}
{% macro iot_position_domains() -%}
    {{ return(['sanitation_vehicle', 'personnel', 'heavy_diesel']) }}
{%- endmacro %}


{#- The longest lapse inside one exceedance episode: two valid exceeding readings of a sensor at most this far
    apart belong to the same episode (a dip under the threshold, a left-out spike or a short gap in between does
    not end it). 30 minutes: six dust readings, three fume readings, two parking counts. -#}
{% macro iot_episode_gap_minutes() -%}
    30
{%- endmacro %}


{#- The readings of one domain in one shape, a select over its staging model (readings without a sensor belong
    to no series and are left out):
    domain_code, sensor_id (the series: a road's dust sensor, a restaurant's analyser = restaurant_id, a lot's
    counter = lot_id, a station = station_id, a vehicle, a worker, a VIN hash), place_id (the register row the
    reading is at: road, restaurant, lot, station, vehicle, worker; null for diesel, whose place is its fix),
    reading_id, reading_at, ingested_at, value_unchanged_since (where the reading's run of one value began; null
    without a stuck rule), measured_value (load, concentration, occupancy ratio, NOx, pick-up weight; null for
    positions), is_spike, is_stuck, is_over_threshold, is_over_severe, is_active (a fix while working / on duty),
    capacity (lots), fix_grid_code and fix_street_code (a diesel fix's unit grid and street, int_obd_fixes_located).
    Callers filter the select they wrap (DuckDB pushes the filter down to the staging scan). -#}
{% macro iot_readings(domain_code) -%}
    {%- if domain_code == 'road_dust' %}
    select
        'road_dust' as domain_code,
        sensor_id,
        road_id as place_id,
        cast(dust_reading_id as varchar) as reading_id,
        measured_at as reading_at,
        ingested_at,
        value_unchanged_since,
        cast(dust_load_g_m2 as double) as measured_value,
        is_spike,
        is_stuck,
        is_exceedance as is_over_threshold,
        is_severe as is_over_severe,
        null::boolean as is_active,
        null::integer as capacity,
        null::varchar as fix_grid_code,
        null::varchar as fix_street_code
    from {{ ref('stg_citymgmt__dust_readings') }}
    where sensor_id is not null
    {%- elif domain_code == 'cooking_fume' %}
    select
        'cooking_fume' as domain_code,
        restaurant_id as sensor_id,
        restaurant_id as place_id,
        cast(fume_reading_id as varchar) as reading_id,
        measured_at as reading_at,
        ingested_at,
        value_unchanged_since,
        cast(concentration_mg_m3 as double) as measured_value,
        is_spike,
        is_stuck,
        is_exceedance as is_over_threshold,
        false as is_over_severe,
        null::boolean as is_active,
        null::integer as capacity,
        null::varchar as fix_grid_code,
        null::varchar as fix_street_code
    from {{ ref('stg_citymgmt__fume_readings') }}
    where restaurant_id is not null
    {%- elif domain_code == 'garbage_sorting' %}
    select
        'garbage_sorting' as domain_code,
        station_id as sensor_id,
        station_id as place_id,
        cast(collection_id as varchar) as reading_id,
        collected_at as reading_at,
        ingested_at,
        null::timestamptz as value_unchanged_since,
        cast(weight_kg as double) as measured_value,
        is_spike,
        false as is_stuck,
        false as is_over_threshold,
        false as is_over_severe,
        null::boolean as is_active,
        null::integer as capacity,
        null::varchar as fix_grid_code,
        null::varchar as fix_street_code
    from {{ ref('stg_citymgmt__garbage_collections') }}
    where station_id is not null
    {%- elif domain_code == 'sanitation_vehicle' %}
    select
        'sanitation_vehicle' as domain_code,
        vehicle_id as sensor_id,
        vehicle_id as place_id,
        cast(vehicle_position_id as varchar) as reading_id,
        recorded_at as reading_at,
        ingested_at,
        null::timestamptz as value_unchanged_since,
        null::double as measured_value,
        is_spike,
        false as is_stuck,
        false as is_over_threshold,
        false as is_over_severe,
        coalesce(working, false) as is_active,
        null::integer as capacity,
        null::varchar as fix_grid_code,
        null::varchar as fix_street_code
    from {{ ref('stg_citymgmt__vehicle_positions') }}
    where vehicle_id is not null
    {%- elif domain_code == 'personnel' %}
    select
        'personnel' as domain_code,
        worker_id as sensor_id,
        worker_id as place_id,
        cast(staff_position_id as varchar) as reading_id,
        recorded_at as reading_at,
        ingested_at,
        null::timestamptz as value_unchanged_since,
        null::double as measured_value,
        is_spike,
        false as is_stuck,
        false as is_over_threshold,
        false as is_over_severe,
        coalesce(on_duty, false) as is_active,
        null::integer as capacity,
        null::varchar as fix_grid_code,
        null::varchar as fix_street_code
    from {{ ref('stg_citymgmt__staff_positions') }}
    where worker_id is not null
    {%- elif domain_code == 'static_traffic' %}
    select
        'static_traffic' as domain_code,
        occupancy.lot_id as sensor_id,
        occupancy.lot_id as place_id,
        cast(occupancy.occupancy_id as varchar) as reading_id,
        occupancy.recorded_at as reading_at,
        occupancy.ingested_at,
        null::timestamptz as value_unchanged_since,
        case when lots.capacity > 0 then occupancy.occupied / lots.capacity end as measured_value,
        occupancy.is_spike,
        false as is_stuck,
        -- saturation (reference.md): occupied over the share of the lot's spaces; a lot without a capacity has none
        coalesce(
            lots.capacity > 0 and occupancy.occupied > {{ var('threshold_parking_saturation') }} * lots.capacity,
            false
        ) as is_over_threshold,
        false as is_over_severe,
        null::boolean as is_active,
        lots.capacity,
        null::varchar as fix_grid_code,
        null::varchar as fix_street_code
    from {{ ref('stg_citymgmt__parking_occupancy') }} as occupancy
    left join {{ ref('stg_citymgmt__parking_lots') }} as lots
        on lots.lot_id = occupancy.lot_id
    where occupancy.lot_id is not null
    {%- elif domain_code == 'heavy_diesel' %}
    select
        'heavy_diesel' as domain_code,
        obd.vin_hash as sensor_id,
        null::varchar as place_id,
        cast(obd.obd_id as varchar) as reading_id,
        obd.recorded_at as reading_at,
        obd.ingested_at,
        null::timestamptz as value_unchanged_since,
        cast(obd.nox_ppm as double) as measured_value,
        obd.is_spike,
        false as is_stuck,
        obd.is_exceedance as is_over_threshold,
        false as is_over_severe,
        null::boolean as is_active,
        null::integer as capacity,
        located.grid_code as fix_grid_code,
        located.street_code as fix_street_code
    from {{ ref('stg_citymgmt__diesel_obd') }} as obd
    left join {{ ref('int_obd_fixes_located') }} as located
        on located.obd_id = obd.obd_id
    where obd.vin_hash is not null
    {%- else %}
    {{ exceptions.raise_compiler_error("iot_readings: no observation table for domain " ~ domain_code) }}
    {%- endif %}
{%- endmacro %}


{#- The Beijing date of an instant (the profile's session time zone is Asia/Shanghai; explicit all the same). -#}
{% macro iot_local_date(expr) -%}
    cast(({{ expr }} at time zone 'Asia/Shanghai') as date)
{%- endmacro %}


{#- The newest batch (`ingested_at`) each domain's rows of an incremental iot model came from, as literals read
    before the model's SQL runs (so DuckDB can skip older row groups of the staging tables by their min/max):
    domain_code → 'YYYY-MM-DD HH:MM:SS.ffffff+00'. Empty on a full build or for an empty model. `column`: the
    model's column holding the batch time. -#}
{% macro iot_watermarks(column='max_ingested_at') -%}
    {%- set marks = {} -%}
    {%- if is_incremental() and execute -%}
        {%- set rows = run_query(
            "select domain_code, strftime(max(" ~ column ~ ") at time zone 'UTC', '%Y-%m-%d %H:%M:%S.%f') from "
            ~ this ~ " group by domain_code"
        ).rows -%}
        {%- for row in rows if row[1] is not none -%}
            {%- do marks.update({row[0]: row[1] ~ '+00'}) -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(marks) }}
{%- endmacro %}


{#- The condition "newer than the domain's watermark" on a wrapped reading (all rows when it has none). -#}
{% macro iot_is_newer(domain_code, watermarks, column='ingested_at') -%}
    {%- if domain_code in watermarks -%}
        {{ column }} > timestamptz '{{ watermarks[domain_code] }}'
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}


{#- A list of strings as an SQL `in` list: ('a', 'b'). -#}
{% macro iot_in_list(values) -%}
    ({%- for value in values %}'{{ value }}'{% if not loop.last %}, {% endif %}{% endfor -%})
{%- endmacro %}
