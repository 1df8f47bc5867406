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
    Each domain below names its staging model (read as `readings`) and the expressions it has for these columns;
    a column it does not name is the common case (`iot_reading_defaults`). Only the domain asked for is ref'd, so
    a model depends on the staging models of the domains it reads. Callers filter the select they wrap (DuckDB
    pushes the filter down to the staging scan). -#}
{% macro iot_readings(domain_code) -%}
    {%- if domain_code == 'road_dust' -%}
        {%- set reading = {
            'model': 'stg_citymgmt__dust_readings', 'sensor_id': 'sensor_id', 'place_id': 'road_id',
            'reading_id': 'dust_reading_id', 'reading_at': 'measured_at',
            'value_unchanged_since': 'value_unchanged_since', 'measured_value': 'cast(dust_load_g_m2 as double)',
            'is_stuck': 'is_stuck', 'is_over_threshold': 'is_exceedance', 'is_over_severe': 'is_severe',
        } -%}
    {%- elif domain_code == 'cooking_fume' -%}
        {%- set reading = {
            'model': 'stg_citymgmt__fume_readings', 'sensor_id': 'restaurant_id', 'reading_id': 'fume_reading_id',
            'reading_at': 'measured_at', 'value_unchanged_since': 'value_unchanged_since',
            'measured_value': 'cast(concentration_mg_m3 as double)', 'is_stuck': 'is_stuck',
            'is_over_threshold': 'is_exceedance',
        } -%}
    {%- elif domain_code == 'garbage_sorting' -%}
        {%- set reading = {
            'model': 'stg_citymgmt__garbage_collections', 'sensor_id': 'station_id', 'reading_id': 'collection_id',
            'reading_at': 'collected_at', 'measured_value': 'cast(weight_kg as double)',
        } -%}
    {%- elif domain_code == 'sanitation_vehicle' -%}
        {%- set reading = {
            'model': 'stg_citymgmt__vehicle_positions', 'sensor_id': 'vehicle_id',
            'reading_id': 'vehicle_position_id', 'reading_at': 'recorded_at', 'is_active': 'coalesce(working, false)',
        } -%}
    {%- elif domain_code == 'personnel' -%}
        {%- set reading = {
            'model': 'stg_citymgmt__staff_positions', 'sensor_id': 'worker_id', 'reading_id': 'staff_position_id',
            'reading_at': 'recorded_at', 'is_active': 'coalesce(on_duty, false)',
        } -%}
    {%- elif domain_code == 'static_traffic' -%}
        {#- saturation (reference.md): occupied over the share of the lot's spaces; a lot without a capacity has
            none. The lot register gives the capacity. -#}
        {%- set reading = {
            'model': 'stg_citymgmt__parking_occupancy', 'sensor_id': 'readings.lot_id',
            'reading_id': 'readings.occupancy_id', 'reading_at': 'readings.recorded_at',
            'measured_value': 'case when lots.capacity > 0 then readings.occupied / lots.capacity end',
            'is_over_threshold': 'coalesce(lots.capacity > 0 and readings.occupied > '
                ~ var('threshold_parking_saturation') ~ ' * lots.capacity, false)',
            'capacity': 'lots.capacity',
            'join': 'left join ' ~ ref('stg_citymgmt__parking_lots') ~ ' as lots on lots.lot_id = readings.lot_id',
        } -%}
    {%- elif domain_code == 'heavy_diesel' -%}
        {%- set reading = {
            'model': 'stg_citymgmt__diesel_obd', 'sensor_id': 'readings.vin_hash', 'place_id': 'null::' ~ dbt.type_string(),
            'reading_id': 'readings.obd_id', 'reading_at': 'readings.recorded_at',
            'measured_value': 'cast(readings.nox_ppm as double)', 'is_over_threshold': 'readings.is_exceedance',
            'fix_grid_code': 'located.grid_code', 'fix_street_code': 'located.street_code',
            'join': 'left join ' ~ ref('int_obd_fixes_located') ~ ' as located on located.obd_id = readings.obd_id',
        } -%}
    {%- else -%}
        {{ exceptions.raise_compiler_error("iot_readings: no observation table for domain " ~ domain_code) }}
    {%- endif -%}
    {%- set columns = iot_reading_defaults(reading.sensor_id) -%}
    {%- do columns.update(reading) %}
    select
        '{{ domain_code }}' as domain_code,
        {{ columns.sensor_id }} as sensor_id,
        {{ columns.place_id }} as place_id,
        cast({{ columns.reading_id }} as {{ dbt.type_string() }}) as reading_id,
        {{ columns.reading_at }} as reading_at,
        readings.ingested_at,
        {{ columns.value_unchanged_since }} as value_unchanged_since,
        {{ columns.measured_value }} as measured_value,
        readings.is_spike,
        {{ columns.is_stuck }} as is_stuck,
        {{ columns.is_over_threshold }} as is_over_threshold,
        {{ columns.is_over_severe }} as is_over_severe,
        {{ columns.is_active }} as is_active,
        {{ columns.capacity }} as capacity,
        {{ columns.fix_grid_code }} as fix_grid_code,
        {{ columns.fix_street_code }} as fix_street_code
    from {{ ref(columns.model) }} as readings
    {{ columns.join }}
    where {{ columns.sensor_id }} is not null
{%- endmacro %}


{#- The common case of a reading's columns in iot_readings: its place is its sensor (a restaurant, a lot, a
    station, a vehicle, a worker); no stuck rule, no threshold, no measured value (positions), no activity flag,
    no capacity, no fix location; no register joined. -#}
{% macro iot_reading_defaults(sensor_id) -%}
    {{ return({
        'place_id': sensor_id, 'value_unchanged_since': 'null::' ~ type_instant(), 'measured_value': 'null::double',
        'is_stuck': 'false', 'is_over_threshold': 'false', 'is_over_severe': 'false', 'is_active': 'null::boolean',
        'capacity': 'null::integer', 'fix_grid_code': 'null::' ~ dbt.type_string(), 'fix_street_code': 'null::' ~ dbt.type_string(),
        'join': '',
    }) }}
{%- endmacro %}


{#- The Beijing date of an instant, by arithmetic on the epoch: Beijing time is UTC+8 all year (China has kept no
    daylight saving time since 1991). The same date as `cast((expr at time zone 'Asia/Shanghai') as date)`, but
    that conversion goes through ICU's calendar per row: over the tens of millions of readings a day's build
    groups, it took most of int_sensor_days_aggregated's time (bench/pipeline.py), this a fifth of it. -#}
{% macro iot_local_date(expr) -%}
    {{ return(adapter.dispatch('iot_local_date', 'gridlake')(expr)) }}
{%- endmacro %}

{% macro default__iot_local_date(expr) -%}
    (date '1970-01-01' + cast(floor((epoch_us({{ expr }}) + 28800000000) / 86400000000) as integer))
{%- endmacro %}

{#- Spark: its cast to a date reads the instant in the session time zone (Asia/Shanghai), without a calendar
    library per row. -#}
{% macro spark__iot_local_date(expr) -%}
    {{ local_date(expr) }}
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
