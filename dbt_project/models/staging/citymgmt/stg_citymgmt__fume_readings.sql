-- One row per cooking-fume reading (fume.reading): its latest version, soft-deleted readings left out; flagged, not
-- dropped: stuck runs, spikes, exceedances of the fume limit, the first reading after a gap. A restaurant's analyser is
-- the series. Incremental: each run reads only the raw batches it has not seen and recomputes the flags of the stretch
-- of each series they touch (macros/citymgmt_readings.sql).
with {{ citymgmt_incremental_source('fume__reading', key='reading_id', unique_key='fume_reading_id') }},

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

{% call citymgmt_flagged(
    series_by='restaurant_id', at='measured_at', key='fume_reading_id', neighbours={'value': 'concentration_mg_m3'},
    runs=true,
) -%}
        -- a kitchen's exhaust does not jump by more than 2 mg/m3 (twice the limit) for one ten-minute reading
        {{ citymgmt_scalar_spike('concentration_mg_m3', 'measured_at', '2.0', '30 minutes') }} as is_spike,
        coalesce(concentration_mg_m3 > {{ var('threshold_fume_mg_m3') }}, false) as is_exceedance,
        -- an analyser reports only while the kitchen is open, and the platform serves no opening hours: a gap
        -- here is a closed kitchen as often as an analyser offline (marts do not count these as offline)
        {{ citymgmt_gap_before_minutes('measured_at') }} as gap_before_minutes,
        {{ citymgmt_is_after_gap('measured_at') }} as is_after_gap
{%- endcall %}

select * from final
