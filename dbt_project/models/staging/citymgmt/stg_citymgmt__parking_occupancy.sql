-- One row per parking-lot occupancy count (traffic.occupancy): its latest version, soft-deleted counts left out; spikes
-- and the first count after an offline gap flagged, not dropped. Saturation (occupied over the lot's capacity) needs
-- the lot register: a join, left to intermediate. No stuck rule here: a lot full or empty all night repeats its count
-- legitimately. A lot is the series. Incremental: each run reads only the raw batches it has not seen and recomputes
-- the flags of the stretch of each series they touch (macros/citymgmt_readings.sql).
with {{ citymgmt_incremental_source('traffic__occupancy', key='occupancy_id', unique_key='occupancy_id') }},

renamed as (

    select
        occupancy_id,
        lot_id,
        recorded_at,
        occupied,
        updated_at,
        deleted_at,
        extra_fields,
        _batch_id as batch_id,
        _ingested_at as ingested_at

    from latest

),

{{ citymgmt_series(
    'renamed', key='occupancy_id', series_by='lot_id', at='recorded_at',
    derived=['is_spike', 'gap_before_minutes', 'is_after_gap'],
) }},

{% call citymgmt_flagged(
    series_by='lot_id', at='recorded_at', key='occupancy_id', neighbours={'value': 'occupied'},
) -%}
        -- a lot's gates do not let 100 cars (and half the lot) in and out again within one 15-minute count
        {{ citymgmt_scalar_spike(
            'occupied', 'recorded_at', 'greatest(100, 0.5 * greatest(previous_value, next_value))', '45 minutes'
        ) }} as is_spike,
        -- a count every 15 minutes: a longer silence is a counter offline
        {{ citymgmt_gap_before_minutes('recorded_at') }} as gap_before_minutes,
        {{ citymgmt_is_after_gap('recorded_at') }} as is_after_gap
{%- endcall %}

select * from final
