{#- The city-management observation tables (dust, fume, occupancy, positions, OBD, pick-ups): millions of rows a
    week, so their staging models are incremental. Each run reads only the raw batches newer than what the model
    holds, replaces the held rows of their keys (delete+insert on the key; a soft-deleted key leaves the table),
    and recomputes the flags that depend on a reading's neighbours (spikes, stuck runs, offline gaps) over just
    the stretch of each series a new version can change. A full refresh computes the same table from the whole raw zone
    (tests/dbt/test_staging_citymgmt_readings.py checks that they agree).

    The window that an incremental run recomputes, per series (a sensor, a lot, a vehicle...):
    - `changed_from`: the earliest time a new version touches (where the new version sits, and where the version it
      replaces sat);
    - `window_from`: for a series with stuck runs, where the run of the last reading held before `changed_from`
      began (`value_unchanged_since`, stored on every row): a new reading can extend that run however long it has
      lasted, so the window reaches back to its first reading, not by a fixed look-back; and the reading before
      `window_from` holds another value, so no run crosses the window's edge. Without runs, the last reading held
      before `changed_from` itself (its next neighbour may change);
    - `context_from`: one reading more, the neighbour before `window_from`, read for the neighbour tests but not
      written back (its own flags cannot change).
    Every held reading of the series from `window_from` on is written again with its flags recomputed. -#}


{#- The post-hook of the incremental models (delete+insert on the key): the run's rows replaced the held rows of
    their keys, soft deletes included; this removes those (inside the run's transaction, so no reader sees them).
    A key deleted before it was ever held goes in and out the same way. delete+insert, not merge: measured on a
    10-million-row position table and a batch of 52,000 versions (50,000 new fixes, 1,000 corrections, 1,000
    deletes) with their 52,000 re-emitted neighbours, applying the run's rows took 0.07 s with delete+insert
    (delete by key, append, this delete) and 0.5-1.0 s with MERGE (update by name in place, delete, insert). -#}
{% macro citymgmt_drop_deleted() -%}
    delete from {{ this }} where deleted_at is not null
{%- endmacro %}


{#- The filter of the source on an incremental run: only the batches ingested after the newest one the model
    holds (`_ingested_at` is the batch's start, the same for all its rows, and batches of an entity commit in the
    order they start: gridlake/lake.py). The bound is read before the model's SQL runs and written as a literal,
    so DuckDB skips the row groups of older files by their statistics (their footers are read, their data is not).
    (Pruning whole files by their `ingest_date=` folder would need hive partitioning, which the sources cannot use:
    they also read the entity's `_schema.parquet`, outside any partition.) Empty on a full build, and when the
    model holds no row (everything deleted): then every batch is read. `column`: the batch time of the rows read
    (`ingested_at` for a model that reads a staging model's rows, int_obd_fixes_located). -#}
{% macro citymgmt_new_batches(column='_ingested_at') -%}
    {%- if is_incremental() and execute -%}
        {%- set newest = run_query(
            "select strftime(max(ingested_at) at time zone 'UTC', '%Y-%m-%d %H:%M:%S.%f') from " ~ this
        ).rows[0][0] -%}
        {%- if newest is not none %}
    where {{ column }} > timestamptz '{{ newest }}+00'
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}


{#- The head of every observation model: its configuration as an incremental model (delete+insert on
    `unique_key`, the soft deletes removed by the post-hook, a changed schema an error: a full refresh decides)
    and its first CTEs, `source` (the raw batches the model has not seen, citymgmt_new_batches) and `latest` (the
    newest version of each `key` among them). A model starts `with {{ citymgmt_incremental_source(...) }},`. -#}
{% macro citymgmt_incremental_source(entity, key, unique_key) -%}
{{ config(
    materialized=incremental_materialization(),
    unique_key=unique_key,
    incremental_strategy='delete+insert',
    post_hook=["{{ citymgmt_drop_deleted() }}"] if incremental_materialization() == 'incremental' else [],
    on_schema_change='fail',
) }}
source as (

    select * from {{ source('citymgmt', entity) }}
    {{ citymgmt_new_batches() }}

),

latest as (

    {{ latest_versions('source', key) }}

)
{%- endmacro %}


{#- CTEs `changed` and `deleted` (citymgmt_changed), and `series`: the live readings whose flags are computed,
    everything on a full build; on an incremental run the recomputed window of the touched series, with
    `is_context` marking the neighbour read but not written back.
    relation: the CTE of the latest new version per key (typed, renamed, with updated_at, deleted_at,
    ingested_at); key: its key; series_by: what a series is (a sensor, a lot...); at: the reading's own time;
    derived: the columns the model computes after `series` (dropped from the held rows, computed again);
    runs: whether the model tracks runs of one value (`value_unchanged_since`). -#}
{% macro citymgmt_series(relation, key, series_by, at, derived, runs=false) -%}
{{ citymgmt_changed(relation, key) }},
{%- if is_incremental() %}

moved as (

    select {{ series_by }}, {{ at }} from changed
    union all
    select held.{{ series_by }}, held.{{ at }}
    from {{ this }} as held
    semi join changed
        on changed.{{ key }} = held.{{ key }}

),

affected as (

    select {{ series_by }}, min({{ at }}) as changed_from
    from moved
    where {{ series_by }} is not null
    group by {{ series_by }}

),

anchored as (

    -- the last reading held before the change; with runs, where its run of one value began
    select
        affected.{{ series_by }},
        coalesce(
            {%- if runs %}
            {{ arg_max('held.value_unchanged_since', 'held.' ~ at) }},
            {%- else %}
            max(held.{{ at }}),
            {%- endif %}
            affected.changed_from
        ) as window_from
    from affected
    left join {{ this }} as held
        on held.{{ series_by }} = affected.{{ series_by }}
        and held.{{ at }} < affected.changed_from
    group by affected.{{ series_by }}, affected.changed_from

),

bounds as (

    -- and the neighbour before the window, read but not written back
    select
        anchored.{{ series_by }},
        anchored.window_from,
        coalesce(max(held.{{ at }}), anchored.window_from) as context_from
    from anchored
    left join {{ this }} as held
        on held.{{ series_by }} = anchored.{{ series_by }}
        and held.{{ at }} < anchored.window_from
    group by anchored.{{ series_by }}, anchored.window_from

),

held_window as {{ cte_hint("materialized") }} (

    -- (materialized: cut to the window first, then compared with the new keys, not the whole table)
    select
        held.* {{ star_exclude() }} ({{ derived | join(', ') }}),
        held.{{ at }} < bounds.window_from as is_context
    from {{ this }} as held
    inner join bounds
        on bounds.{{ series_by }} = held.{{ series_by }}
        and held.{{ at }} >= bounds.context_from

),

series as (

    select *, false as is_context
    from changed
    where deleted_at is null

    union all by name

    select held_window.*
    from held_window
    anti join changed
        on changed.{{ key }} = held_window.{{ key }}

)
{%- else %}

series as (

    select *, false as is_context
    from changed

)
{%- endif %}
{%- endmacro %}


{#- CTEs `changed` (on an incremental run the new versions that replace the held row; on a full build every live
    latest version) and `deleted` (the soft deletes among them, written so that they replace the held row and the
    post-hook removes it; none on a full build, where deleted keys are simply left out). Alone for a table without
    series (pick-ups); citymgmt_series builds on them. -#}
{% macro citymgmt_changed(relation, key) -%}
changed as (

    -- a version replaces the held row when it is newer (an equal version re-landed later wins, as on a full build)
    select new.*
    from {{ relation }} as new
    {%- if is_incremental() %}
    left join {{ this }} as held
        on held.{{ key }} = new.{{ key }}
    where held.{{ key }} is null
        or new.updated_at > held.updated_at
        or (new.updated_at = held.updated_at and new.ingested_at > held.ingested_at)
    {%- else %}
    where new.deleted_at is null
    {%- endif %}

),

deleted as (

    select * from changed where deleted_at is not null

)
{%- endmacro %}


{#- After citymgmt_series, the rest of a series model: CTEs `neighbours`, `runs` (with runs), `flagged` and `final`.
    Each reading of `series` gets its neighbours in the series (previous_<name> and next_<name> of each
    `neighbours` entry name → column, with previous_at and next_at), from which the model computes its flags:
    the body of the call block, `expression as column` lines separated by commas, as in a select list:
        {% call citymgmt_flagged(series_by='lot_id', at='recorded_at', key='occupancy_id',
                                 neighbours={'value': 'occupied'}) %} ... as is_spike {% endcall %}
    The neighbours are dropped again. With runs (a stuck rule: the `value` neighbour's column), also the run of
    one value each reading belongs to: value_unchanged_since (its first reading) and is_stuck. `final`: the
    readings written back (not the context row read for its neighbours) and, on an incremental run, the soft deletes
    (a full build has none: `deleted` is empty). -#}
{% macro citymgmt_flagged(series_by, at, key, neighbours, runs=false) -%}
neighbours as (

    select
        *,
        {%- for name, column in neighbours.items() %}
        lag({{ column }}) over in_order as previous_{{ name }},
        lead({{ column }}) over in_order as next_{{ name }},
        {%- endfor %}
        lag({{ at }}) over in_order as previous_at,
        lead({{ at }}) over in_order as next_at
    from series
    window in_order as ({{ citymgmt_in_order(series_by, at, key) }})

),
{%- if runs %}

runs as (

    select
        *,
        count(*) filter (where previous_at is null or {{ neighbours['value'] }} is distinct from previous_value) over (
            {{ citymgmt_in_order(series_by, at, key) }}
        ) as run_number
    from neighbours

),
{%- endif %}

flagged as (

    select
        * {{ star_exclude() }} (
            {%- for name in neighbours %}previous_{{ name }}, next_{{ name }}, {% endfor -%}
            previous_at, next_at{% if runs %}, run_number{% endif %}),
        {%- if runs %}
        min({{ at }}) over one_run as value_unchanged_since,
        {{ citymgmt_is_stuck(neighbours['value'], 'min(' ~ at ~ ') over one_run', 'max(' ~ at ~ ') over one_run') }}
            as is_stuck,
        {%- endif %}
        {{ caller() | trim }}
    from {{ 'runs' if runs else 'neighbours' }}
    {%- if runs %}
    window one_run as (
        partition by {{ citymgmt_series_partition(series_by, at, key) }}, run_number
    )
    {%- endif %}

),

final as (

    select * {{ star_exclude() }} (is_context) from flagged where not is_context
    {%- if is_incremental() %}
    union all by name
    select * from deleted
    {%- endif %}

)
{%- endmacro %}


{#- A series: the readings of one sensor (lot, vehicle...). A reading without a sensor or a time belongs to no
    series (it is alone in its partition: no neighbours, a run of its own). -#}
{% macro citymgmt_series_partition(series_by, at, key) -%}
    case when {{ series_by }} is not null and {{ at }} is not null then {{ series_by }} end,
    case when {{ series_by }} is null or {{ at }} is null then {{ key }} end
{%- endmacro %}


{#- A series in time order (readings at the same instant by key). -#}
{% macro citymgmt_in_order(series_by, at, key) -%}
    partition by {{ citymgmt_series_partition(series_by, at, key) }} order by {{ at }}, {{ key }}
{%- endmacro %}


{#- A reading that jumps away from both its neighbours in the same direction, each jump larger than `bound`
    (an expression: it may use previous_value and next_value), each neighbour within `max_gap` of it: a
    reading the quantity cannot physically have taken between the two around it. A jump across an offline gap
    or a closed kitchen's afternoon is not a spike. Needs previous_value, next_value, previous_at, next_at. -#}
{% macro citymgmt_scalar_spike(value, at, bound, max_gap) -%}
    coalesce(
        {{ at }} - previous_at <= interval '{{ max_gap }}'
        and next_at - {{ at }} <= interval '{{ max_gap }}'
        and (
            ({{ value }} - previous_value > {{ bound }} and {{ value }} - next_value > {{ bound }})
            or (previous_value - {{ value }} > {{ bound }} and next_value - {{ value }} > {{ bound }})
        ),
        false
    )
{%- endmacro %}


{#- Minutes since the series' previous reading (null for its first, and for a reading in no series). Needs
    previous_at. With the neighbour machinery above, an incremental run gets it right where it matters: a late
    reading inside a gap is written with its previous neighbour, and the readings after it (its next neighbour
    among them) are recomputed; the first reading of the window reads its previous one from the context row. -#}
{% macro citymgmt_gap_before_minutes(at) -%}
    ({{ epoch_seconds(at) }} - {{ epoch_seconds('previous_at') }}) / 60.0
{%- endmacro %}


{#- The first reading after an offline gap: the series was silent longer than var('offline_gap_minutes')
    (settings.thresholds.offline_gap) before it. Needs previous_at. -#}
{% macro citymgmt_is_after_gap(at) -%}
    coalesce(({{ citymgmt_gap_before_minutes(at) }}) > {{ var('offline_gap_minutes') }}, false)
{%- endmacro %}


{#- The great-circle distance in km between two WGS84 points (haversine, mean Earth radius). -#}
{% macro citymgmt_distance_km(lat1, lon1, lat2, lon2) -%}
    (2 * 6371.0088 * asin(sqrt(
        pow(sin(radians({{ lat2 }} - {{ lat1 }}) / 2), 2)
        + cos(radians({{ lat1 }})) * cos(radians({{ lat2 }})) * pow(sin(radians({{ lon2 }} - {{ lon1 }}) / 2), 2)
    )))
{%- endmacro %}


{#- A position fix away from both its neighbours (out and back) by more than `min_km`, each leg faster than
    `max_kmh`: a GPS outlier, not a drive. Needs previous_lat/lon/at and next_lat/lon/at. -#}
{% macro citymgmt_position_spike(at, max_kmh, min_km) -%}
    coalesce(
        {{ citymgmt_distance_km('previous_lat', 'previous_lon', 'lat', 'lon') }} > greatest(
            {{ min_km }}, {{ max_kmh }} * {{ seconds_between('previous_at', at) }} / 3600.0)
        and {{ citymgmt_distance_km('lat', 'lon', 'next_lat', 'next_lon') }} > greatest(
            {{ min_km }}, {{ max_kmh }} * {{ seconds_between(at, 'next_at') }} / 3600.0),
        false
    )
{%- endmacro %}


{#- A reading inside a stuck span: its run of one value (consecutive readings of the series) lasted
    var('stuck_sensor_hours') or more from its first reading (`first_at`) to its last (`last_at`). -#}
{% macro citymgmt_is_stuck(value, first_at, last_at) -%}
    coalesce(
        {{ value }} is not null
        and {{ epoch_seconds(last_at) }} - {{ epoch_seconds(first_at) }} >= {{ var('stuck_sensor_hours') }} * 3600,
        false
    )
{%- endmacro %}
