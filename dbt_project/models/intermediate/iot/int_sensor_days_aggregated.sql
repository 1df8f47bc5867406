-- One row per domain, sensor, Beijing day and place of the readings (the register row; for a diesel vehicle the
-- street of each fix): the day's readings, how many were valid (not a spike, not stuck), spikes, stuck readings,
-- valid readings over the threshold (and over the severe load), fixes while working / on duty, offline gaps that
-- began that day (macros/offline_gaps.sql), and the batch time of the newest of them. The daily figures of
-- iot_domain_daily are sums and counts of these rows.
--
-- Incremental (the observation tables are millions of rows): a run recomputes, per sensor, every day from the
-- first day a new batch can have changed through the sensor's last day, and leaves the other days as held:
--   - the days of the versions staged since this model's newest batch (`ingested_at` over the domain's
--     watermark: new readings, corrections);
--   - the days whose staged reading count differs from the held one (a soft delete leaves staging without a
--     trace but the count; a correction that moves a reading leaves its old day one short);
--   - reaching back to where the runs of one value on those days began (`value_unchanged_since`: a reading can
--     make a run that began days ago stuck, or split one) and to the sensor's previous reporting day (its last
--     reading's spike flag depends on the next one; staging re-flags both with their old batch time; an offline
--     gap that a new or deleted reading changes began on it at the earliest);
--   - for a lot whose capacity changed in the register, every day (its saturation is computed here).
-- Recomputed (domain, sensor, day) partitions replace the held ones whole (delete+insert); a partition left
-- without readings is written as a row of 0 readings, which the post-hook removes. A change of a threshold var,
-- of stuck_sensor_hours, of offline_gap_minutes or of the grid register needs `--full-refresh`, as for staging.
{{ config(
    materialized=incremental_materialization(),
    unique_key=['domain_code', 'sensor_id', 'activity_date'],
    incremental_strategy='delete+insert',
    post_hook=["delete from {{ this }} where readings = 0"] if incremental_materialization() == 'incremental' else [],
    on_schema_change='fail',
) }}

{%- set watermarks = iot_watermarks() %}

-- (not materialized: an incremental run reads it twice, for the staged days and for the recomputed stretch; held
-- whole between the two it was every reading of the history, spilled to disk, where each reading streams through)
with readings as {{ cte_hint("not materialized") }} (

    {%- for domain in iot_domains() %}
    {%- if domain in iot_offline_gap_domains() %}
    select {{ domain }}_readings.*, {{ domain }}_gaps.gap_from
    from ({{ iot_readings(domain) }}) as {{ domain }}_readings
    left join ({{ iot_offline_gap_ends(domain) }}) as {{ domain }}_gaps
        on {{ domain }}_gaps.reading_id = {{ domain }}_readings.reading_id
    {%- else %}
    select *, null::{{ type_instant() }} as gap_from from ({{ iot_readings(domain) }}) as {{ domain }}_readings
    {%- endif %}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

{%- if is_incremental() %}

held as (

    select
        domain_code,
        sensor_id,
        activity_date,
        sum(readings) as readings,
        max(capacity) as capacity
    from {{ this }}
    group by domain_code, sensor_id, activity_date

),

new_versions as (

    {%- for domain in iot_domains() %}
    select domain_code, sensor_id, {{ iot_local_date('reading_at') }} as activity_date
    from ({{ iot_readings(domain) }}) as {{ domain }}_new
    where {{ iot_is_newer(domain, watermarks) }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

staged_days as (

    select
        domain_code,
        sensor_id,
        {{ iot_local_date('reading_at') }} as activity_date,
        count(*) as readings,
        min(coalesce(value_unchanged_since, reading_at)) as runs_from,
        any_value(capacity) as capacity
    from readings
    group by all

),

changed_days as (

    select domain_code, sensor_id, activity_date from new_versions
    union
    select
        coalesce(staged_days.domain_code, held.domain_code),
        coalesce(staged_days.sensor_id, held.sensor_id),
        coalesce(staged_days.activity_date, held.activity_date)
    from staged_days
    full outer join held
        on held.domain_code = staged_days.domain_code
        and held.sensor_id = staged_days.sensor_id
        and held.activity_date = staged_days.activity_date
    where staged_days.readings is distinct from held.readings
    union
    -- a lot whose capacity is not the one its held days were computed with: all of them
    select held.domain_code, held.sensor_id, held.activity_date
    from held
    left join (select distinct sensor_id, capacity from staged_days where domain_code = 'static_traffic') as lots
        on lots.sensor_id = held.sensor_id
    where held.domain_code = 'static_traffic' and held.capacity is distinct from lots.capacity

),

first_changes as (

    select domain_code, sensor_id, min(activity_date) as changed_from
    from changed_days
    group by domain_code, sensor_id

),

reach as (

    -- back to where the runs on the changed days began, and to the previous reporting day
    select
        first_changes.domain_code,
        first_changes.sensor_id,
        least(
            first_changes.changed_from,
            min({{ iot_local_date('staged_days.runs_from') }}) filter (
                where staged_days.activity_date >= first_changes.changed_from),
            max(staged_days.activity_date) filter (where staged_days.activity_date < first_changes.changed_from)
        ) as recompute_from
    from first_changes
    left join staged_days
        on staged_days.domain_code = first_changes.domain_code
        and staged_days.sensor_id = first_changes.sensor_id
    group by first_changes.domain_code, first_changes.sensor_id, first_changes.changed_from

),

bounds as (

    -- and where the run of the reading before recompute_from began (the previous day's runs)
    select
        reach.domain_code,
        reach.sensor_id,
        least(
            reach.recompute_from,
            min({{ iot_local_date('staged_days.runs_from') }})
        ) as recompute_from
    from reach
    left join staged_days
        on staged_days.domain_code = reach.domain_code
        and staged_days.sensor_id = reach.sensor_id
        and staged_days.activity_date = reach.recompute_from
    group by reach.domain_code, reach.sensor_id, reach.recompute_from

),

recomputed as (

    select readings.*
    from readings
    inner join bounds
        on bounds.domain_code = readings.domain_code
        and bounds.sensor_id = readings.sensor_id
        and readings.reading_at >= cast(bounds.recompute_from as timestamp) at time zone 'Asia/Shanghai'

),

emptied as (

    -- held partitions in the recomputed stretch that have no reading any more
    select held.domain_code, held.sensor_id, held.activity_date
    from held
    inner join bounds
        on bounds.domain_code = held.domain_code
        and bounds.sensor_id = held.sensor_id
        and held.activity_date >= bounds.recompute_from
    anti join staged_days
        on staged_days.domain_code = held.domain_code
        and staged_days.sensor_id = held.sensor_id
        and staged_days.activity_date = held.activity_date

),

{%- else %}

recomputed as (

    select * from readings

),

emptied as (

    select null::{{ dbt.type_string() }} as domain_code, null::{{ dbt.type_string() }} as sensor_id, null::date as activity_date
    where false

),

{%- endif %}

aggregated as (

    select
        domain_code,
        sensor_id,
        {{ iot_local_date('reading_at') }} as activity_date,
        place_id,
        fix_street_code,
        count(*) as readings,
        count(*) filter (where not is_spike and not is_stuck) as valid_readings,
        count(*) filter (where is_spike) as spike_readings,
        count(*) filter (where is_stuck) as stuck_readings,
        count(*) filter (where is_over_threshold and not is_spike and not is_stuck) as exceedance_readings,
        count(*) filter (where is_over_severe and not is_spike and not is_stuck) as severe_readings,
        count(*) filter (where is_active) as active_readings,
        min(reading_at) as first_reading_at,
        max(reading_at) as last_reading_at,
        max(ingested_at) as max_ingested_at,
        max(capacity) as capacity
    from recomputed
    group by all

),

gaps_begun as (

    -- an offline gap counts on the day it began (the reading before it; macros/offline_gaps.sql). A gap whose
    -- reading before lies before the recomputed stretch began on a held day, which keeps its count: no version
    -- changed between its two readings (a change there reaches back to the day of the reading before)
    select
        domain_code,
        sensor_id,
        {{ iot_local_date('gap_from') }} as activity_date,
        place_id,
        fix_street_code,
        count(*) as offline_gaps
    from recomputed
    where gap_from is not null
    group by all

),

with_gaps as (

    select
        aggregated.*,
        coalesce(gaps_begun.offline_gaps, 0) as offline_gaps
    from aggregated
    left join gaps_begun
        on gaps_begun.domain_code = aggregated.domain_code
        and gaps_begun.sensor_id = aggregated.sensor_id
        and gaps_begun.activity_date = aggregated.activity_date
        and gaps_begun.place_id is not distinct from aggregated.place_id
        and gaps_begun.fix_street_code is not distinct from aggregated.fix_street_code

),

final as (

    select
        concat_ws('|', domain_code, sensor_id, {{ format_time('activity_date', '%Y-%m-%d') }}, coalesce(place_id, ''),
            coalesce(fix_street_code, '')) as sensor_day_key,
        domain_code,
        sensor_id,
        activity_date,
        place_id,
        fix_street_code,
        cast(readings as integer) as readings,
        cast(valid_readings as integer) as valid_readings,
        cast(spike_readings as integer) as spike_readings,
        cast(stuck_readings as integer) as stuck_readings,
        cast(exceedance_readings as integer) as exceedance_readings,
        cast(severe_readings as integer) as severe_readings,
        cast(active_readings as integer) as active_readings,
        cast(offline_gaps as integer) as offline_gaps,
        first_reading_at,
        last_reading_at,
        max_ingested_at,
        capacity
    from with_gaps

    union all

    select
        concat_ws('|', domain_code, sensor_id, {{ format_time('activity_date', '%Y-%m-%d') }}, '', '')
            as sensor_day_key,
        domain_code,
        sensor_id,
        activity_date,
        null::{{ dbt.type_string() }} as place_id,
        null::{{ dbt.type_string() }} as fix_street_code,
        0 as readings,
        0 as valid_readings,
        0 as spike_readings,
        0 as stuck_readings,
        0 as exceedance_readings,
        0 as severe_readings,
        0 as active_readings,
        0 as offline_gaps,
        null::{{ type_instant() }} as first_reading_at,
        null::{{ type_instant() }} as last_reading_at,
        null::{{ type_instant() }} as max_ingested_at,
        null::integer as capacity
    from emptied

)

select * from final
