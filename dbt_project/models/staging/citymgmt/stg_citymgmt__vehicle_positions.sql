-- One row per sanitation-vehicle position (vehicle.position, every 30 s on shift): its latest version,
-- soft-deleted fixes left out; GPS outliers flagged as spikes, not dropped (fixes at (0, 0), outside Beijing or
-- over 200 km/h were quarantined by the connector). A vehicle is the series. Incremental: each run reads only the
-- raw batches it has not seen and recomputes the flags of the stretch of each series they touch
-- (macros/citymgmt_readings.sql).
with {{ citymgmt_incremental_source('vehicle__position', key='position_id', unique_key='vehicle_position_id') }},

renamed as (

    select
        position_id as vehicle_position_id,
        vehicle_id,
        recorded_at,
        lat,
        lon,
        speed_kmh,
        working,
        updated_at,
        deleted_at,
        extra_fields,
        _batch_id as batch_id,
        _ingested_at as ingested_at

    from latest

),

{{ citymgmt_series(
    'renamed', key='vehicle_position_id', series_by='vehicle_id', at='recorded_at', derived=['is_spike'],
) }},

{% call citymgmt_flagged(
    series_by='vehicle_id', at='recorded_at', key='vehicle_position_id', neighbours={'lat': 'lat', 'lon': 'lon'},
) -%}
        -- out and back faster than 150 km/h (no road in the district allows half that) and by more than 500 m
        {{ citymgmt_position_spike('recorded_at', 150, 0.5) }} as is_spike
{%- endcall %}

select * from final
