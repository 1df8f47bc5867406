-- One row per road-dust reading (dust.reading): its latest version, soft-deleted readings left out; flagged, not
-- dropped: stuck runs, spikes, exceedances, the first reading after an offline gap. Incremental: each run reads only
-- the raw batches it has not seen and recomputes the flags of the stretch of each sensor's series they touch
-- (macros/citymgmt_readings.sql).
{{ config(
    materialized='incremental',
    unique_key='dust_reading_id',
    incremental_strategy='delete+insert',
    post_hook="{{ citymgmt_drop_deleted() }}",
    on_schema_change='fail',
) }}

with source as (

    select * from {{ source('citymgmt', 'dust__reading') }}
    {{ citymgmt_new_batches() }}

),

latest as (

    select *
    from source
    qualify row_number() over (
        partition by reading_id
        order by updated_at desc, _ingested_at desc, _batch_id desc
    ) = 1

),

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

neighbours as (

    select
        *,
        lag(dust_load_g_m2) over in_order as previous_value,
        lead(dust_load_g_m2) over in_order as next_value,
        lag(measured_at) over in_order as previous_at,
        lead(measured_at) over in_order as next_at
    from series
    window in_order as ({{ citymgmt_in_order('sensor_id', 'measured_at', 'dust_reading_id') }})

),

runs as (

    select
        *,
        count(*) filter (where previous_at is null or dust_load_g_m2 is distinct from previous_value) over (
            {{ citymgmt_in_order('sensor_id', 'measured_at', 'dust_reading_id') }}
        ) as run_number
    from neighbours

),

flagged as (

    select
        * exclude (previous_value, next_value, previous_at, next_at, run_number),
        min(measured_at) over one_run as value_unchanged_since,
        {{ citymgmt_is_stuck(
            'dust_load_g_m2', 'min(measured_at) over one_run', 'max(measured_at) over one_run') }} as is_stuck,
        -- a road's silt load does not rise or fall by more than 1 g/m2 within minutes and come back
        {{ citymgmt_scalar_spike('dust_load_g_m2', 'measured_at', '1.0', '15 minutes') }} as is_spike,
        coalesce(dust_load_g_m2 > {{ var('threshold_dust_load_g_m2') }}, false) as is_exceedance,
        coalesce(dust_load_g_m2 > {{ var('threshold_dust_load_severe_g_m2') }}, false) as is_severe,
        -- a reading every 5 minutes: a longer silence is a sensor offline
        {{ citymgmt_gap_before_minutes('measured_at') }} as gap_before_minutes,
        {{ citymgmt_is_after_gap('measured_at') }} as is_after_gap
    from runs
    window one_run as (
        partition by {{ citymgmt_series_partition('sensor_id', 'measured_at', 'dust_reading_id') }}, run_number
    )

),

final as (

    select * exclude (is_context) from flagged where not is_context
    union all by name
    select * from deleted

)

select * from final
