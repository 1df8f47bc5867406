-- One row per sanitation worker's position (staff.position, every minute on shift): its latest version,
-- soft-deleted fixes left out; GPS outliers flagged as spikes, not dropped (fixes at (0, 0) or outside Beijing
-- were quarantined by the connector). The worker's id only: names never pass staging. A worker is the series.
-- Incremental: each run reads only the raw batches it has not seen and recomputes the flags of the stretch of each
-- series they touch (macros/citymgmt_readings.sql).
{{ config(
    materialized='incremental',
    unique_key='staff_position_id',
    incremental_strategy='delete+insert',
    post_hook="{{ citymgmt_drop_deleted() }}",
    on_schema_change='fail',
) }}

with source as (

    select * from {{ source('citymgmt', 'staff__position') }}
    {{ citymgmt_new_batches() }}

),

latest as (

    select *
    from source
    qualify row_number() over (
        partition by position_id
        order by updated_at desc, _ingested_at desc, _batch_id desc
    ) = 1

),

renamed as (

    select
        position_id as staff_position_id,
        worker_id,
        recorded_at,
        lat,
        lon,
        on_duty,
        updated_at,
        deleted_at,
        extra_fields,
        _batch_id as batch_id,
        _ingested_at as ingested_at

    from latest

),

{{ citymgmt_series(
    'renamed', key='staff_position_id', series_by='worker_id', at='recorded_at', derived=['is_spike'],
) }},

neighbours as (

    select
        *,
        lag(lat) over in_order as previous_lat,
        lag(lon) over in_order as previous_lon,
        lag(recorded_at) over in_order as previous_at,
        lead(lat) over in_order as next_lat,
        lead(lon) over in_order as next_lon,
        lead(recorded_at) over in_order as next_at
    from series
    window in_order as ({{ citymgmt_in_order('worker_id', 'recorded_at', 'staff_position_id') }})

),

flagged as (

    select
        * exclude (previous_lat, previous_lon, previous_at, next_lat, next_lon, next_at),
        -- out and back faster than 150 km/h (a worker walks, or rides in a sanitation vehicle) and by more than 500 m
        {{ citymgmt_position_spike('recorded_at', 150, 0.5) }} as is_spike
    from neighbours

),

final as (

    select * exclude (is_context) from flagged where not is_context
    union all by name
    select * from deleted

)

select * from final
