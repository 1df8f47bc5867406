{#- Offline gaps on the sensors' side (models/intermediate/iot, models/marts/iot): staging flags the first reading
    after a sensor's silence longer than var('offline_gap_minutes') (`is_after_gap`, macros/citymgmt_readings.sql);
    a gap begins at the reading before it, so it is counted on that reading's Beijing day. -#}


{#- The domains whose sensors report at a fixed rate around the clock, so that a silence is an outage: road dust
    (every 5 minutes) and parking counters (every 15). A fume analyser reports only while its kitchen is open and
    the platform serves no opening hours: its gaps are mostly closed kitchens, not counted. -#}
{% macro iot_offline_gap_domains() -%}
    {{ return(['road_dust', 'static_traffic']) }}
{%- endmacro %}


{#- The readings of a domain that end an offline gap, in iot_readings' shape of a reading (reading_id as varchar)
    with the instant the gap began (`gap_from`: the previous reading's time, from gap_before_minutes, rounded to
    the microsecond the timestamps carry). Only for iot_offline_gap_domains(). -#}
{% macro iot_offline_gap_ends(domain_code) -%}
    {%- if domain_code == 'road_dust' %}
    select
        cast(dust_reading_id as {{ dbt.type_string() }}) as reading_id,
        measured_at - {{ interval_of(
            'cast(round(gap_before_minutes * 60000000) as bigint)', 'microseconds',
        ) }} as gap_from
    from {{ ref('stg_citymgmt__dust_readings') }}
    where is_after_gap and sensor_id is not null
    {%- elif domain_code == 'static_traffic' %}
    select
        cast(occupancy_id as {{ dbt.type_string() }}) as reading_id,
        recorded_at - {{ interval_of(
            'cast(round(gap_before_minutes * 60000000) as bigint)', 'microseconds',
        ) }} as gap_from
    from {{ ref('stg_citymgmt__parking_occupancy') }}
    where is_after_gap and lot_id is not null
    {%- else %}
    {{ exceptions.raise_compiler_error("iot_offline_gap_ends: no offline gap rule for domain " ~ domain_code) }}
    {%- endif %}
{%- endmacro %}
