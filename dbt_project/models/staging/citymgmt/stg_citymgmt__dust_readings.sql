-- One row per road-dust reading (dust.reading): its latest version, soft-deleted readings left out; flagged, not
-- dropped: stuck runs, spikes, exceedances, the first reading after an offline gap. Incremental: each run reads only
-- the raw batches it has not seen and recomputes the flags of the stretch of each sensor's series they touch
-- (macros/citymgmt_readings.sql).
with {{ citymgmt_incremental_source('dust__reading', key='reading_id', unique_key='dust_reading_id') }},

renamed as (

    select
        reading_id as dust_reading_id,
        road_id,
        sensor_id,
        measured_at,
        dust_load_g_m2,
        pm10_ug_m3,
        updated_at,
        deleted_at,
        extra_fields,
        _batch_id as batch_id,
        _ingested_at as ingested_at

    from latest

),

{{ citymgmt_series(
    'renamed', key='dust_reading_id', series_by='sensor_id', at='measured_at', runs=true,
    derived=[
        'value_unchanged_since', 'is_stuck', 'is_spike', 'is_exceedance', 'is_severe', 'gap_before_minutes',
        'is_after_gap',
    ],
) }},

{% call citymgmt_flagged(
    series_by='sensor_id', at='measured_at', key='dust_reading_id', neighbours={'value': 'dust_load_g_m2'}, runs=true,
) -%}
        -- a road's silt load does not rise or fall by more than 1 g/m2 within minutes and come back
        {{ citymgmt_scalar_spike('dust_load_g_m2', 'measured_at', '1.0', '15 minutes') }} as is_spike,
        coalesce(dust_load_g_m2 > {{ var('threshold_dust_load_g_m2') }}, false) as is_exceedance,
        coalesce(dust_load_g_m2 > {{ var('threshold_dust_load_severe_g_m2') }}, false) as is_severe,
        -- a reading every 5 minutes: a longer silence is a sensor offline
        {{ citymgmt_gap_before_minutes('measured_at') }} as gap_before_minutes,
        {{ citymgmt_is_after_gap('measured_at') }} as is_after_gap
{%- endcall %}

select * from final
