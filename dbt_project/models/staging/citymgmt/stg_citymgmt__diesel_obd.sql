-- One row per heavy-diesel OBD record (diesel.obd, every 10 s while the vehicle is in the district): its latest
-- version, soft-deleted records left out; GPS outliers flagged as spikes, NOx exceedances at speed flagged, none
-- dropped (fixes at (0, 0), outside Beijing, over 200 km/h or with a clock ahead were quarantined by the
-- connector). The vehicle (by its VIN's hash, never the VIN) is the series. Incremental: each run reads only the
-- raw batches it has not seen and recomputes the flags of the stretch of each series they touch
-- (macros/citymgmt_readings.sql).
with {{ citymgmt_incremental_source('diesel__obd', key='obd_id', unique_key='obd_id') }},

renamed as (

    select
        obd_id,
        vin_hash,
        recorded_at,
        lat,
        lon,
        nox_ppm,
        speed_kmh,
        updated_at,
        deleted_at,
        extra_fields,
        _batch_id as batch_id,
        _ingested_at as ingested_at

    from latest

),

{{ citymgmt_series(
    'renamed', key='obd_id', series_by='vin_hash', at='recorded_at', derived=['is_spike', 'is_exceedance'],
) }},

{% call citymgmt_flagged(
    series_by='vin_hash', at='recorded_at', key='obd_id', neighbours={'lat': 'lat', 'lon': 'lon'},
) -%}
        -- out and back faster than 150 km/h (a heavy truck's governor stops far below) and by more than 500 m
        {{ citymgmt_position_spike('recorded_at', 150, 0.5) }} as is_spike,
        coalesce(
            nox_ppm > {{ var('threshold_diesel_nox_ppm') }}
            and speed_kmh > {{ var('threshold_diesel_min_speed_kmh') }},
            false
        ) as is_exceedance
{%- endcall %}

select * from final
