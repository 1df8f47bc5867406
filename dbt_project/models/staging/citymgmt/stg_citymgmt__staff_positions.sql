-- One row per sanitation worker's position (staff.position, every minute on shift): its latest version,
-- soft-deleted fixes left out; GPS outliers flagged as spikes, not dropped (fixes at (0, 0) or outside Beijing
-- were quarantined by the connector). The worker's id only: names never pass staging. A worker is the series.
-- Incremental: each run reads only the raw batches it has not seen and recomputes the flags of the stretch of each
-- series they touch (macros/citymgmt_readings.sql).
with {{ citymgmt_incremental_source('staff__position', key='position_id', unique_key='staff_position_id') }},

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

{% call citymgmt_flagged(
    series_by='worker_id', at='recorded_at', key='staff_position_id', neighbours={'lat': 'lat', 'lon': 'lon'},
) -%}
        -- out and back faster than 150 km/h (a worker walks, or rides in a sanitation vehicle) and by more than 500 m
        {{ citymgmt_position_spike('recorded_at', 150, 0.5) }} as is_spike
{%- endcall %}

select * from final
