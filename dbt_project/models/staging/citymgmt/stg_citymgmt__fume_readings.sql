-- One row per cooking-fume reading (fume.reading): its latest version, soft-deleted readings left out; flagged, not
-- dropped: stuck runs, spikes, exceedances of the fume limit, the first reading after a gap. A restaurant's analyser is
-- the series. Incremental: each run reads only the raw batches it has not seen and recomputes the flags of the stretch
-- of each series they touch (macros/citymgmt_readings.sql).
{{ config(
    materialized='incremental',
    unique_key='fume_reading_id',
    incremental_strategy='delete+insert',
    post_hook="{{ citymgmt_drop_deleted() }}",
    on_schema_change='fail',
) }}

with source as (

    select * from {{ source('citymgmt', 'fume__reading') }}
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
        reading_id as fume_reading_id,
        restaurant_id,
        measured_at,
        concentration_mg_m3,
        purifier_on,
        fan_on,
        updated_at,
        deleted_at,
        extra_fields,
        _batch_id as batch_id,
        _ingested_at as ingested_at

    from latest

),

{{ citymgmt_series(
    'renamed', key='fume_reading_id', series_by='restaurant_id', at='measured_at', runs=true,
    derived=[
        'value_unchanged_since', 'is_stuck', 'is_spike', 'is_exceedance', 'gap_before_minutes', 'is_after_gap',
    ],
) }},

neighbours as (

    select
        *,
        lag(concentration_mg_m3) over in_order as previous_value,
        lead(concentration_mg_m3) over in_order as next_value,
        lag(measured_at) over in_order as previous_at,
        lead(measured_at) over in_order as next_at
    from series
    window in_order as ({{ citymgmt_in_order('restaurant_id', 'measured_at', 'fume_reading_id') }})

),

runs as (

    select
        *,
        count(*) filter (where previous_at is null or concentration_mg_m3 is distinct from previous_value) over (
            {{ citymgmt_in_order('restaurant_id', 'measured_at', 'fume_reading_id') }}
        ) as run_number
    from neighbours

),

flagged as (

    select
        * exclude (previous_value, next_value, previous_at, next_at, run_number),
        min(measured_at) over one_run as value_unchanged_since,
        {{ citymgmt_is_stuck(
            'concentration_mg_m3', 'min(measured_at) over one_run', 'max(measured_at) over one_run') }} as is_stuck,
        -- a kitchen's exhaust does not jump by more than 2 mg/m3 (twice the limit) for one ten-minute reading
        {{ citymgmt_scalar_spike('concentration_mg_m3', 'measured_at', '2.0', '30 minutes') }} as is_spike,
        coalesce(concentration_mg_m3 > {{ var('threshold_fume_mg_m3') }}, false) as is_exceedance,
        -- an analyser reports only while the kitchen is open, and the platform serves no opening hours: a gap
        -- here is a closed kitchen as often as an analyser offline (marts do not count these as offline)
        {{ citymgmt_gap_before_minutes('measured_at') }} as gap_before_minutes,
        {{ citymgmt_is_after_gap('measured_at') }} as is_after_gap
    from runs
    window one_run as (
        partition by {{ citymgmt_series_partition('restaurant_id', 'measured_at', 'fume_reading_id') }}, run_number
    )

),

final as (

    select * exclude (is_context) from flagged where not is_context
    union all by name
    select * from deleted

)

select * from final
