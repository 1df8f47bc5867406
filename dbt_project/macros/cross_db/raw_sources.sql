{#- The raw zone as the sources' relations. DuckDB reads it in place through each source's external_location
    (read_parquet of the entity's folder), so there is nothing to do before a run. Spark has no such source config:
    before a run (on-run-start), a view per source table over the entity's committed files, in a schema named after
    the platform, so that source('hotline', 'requests') is hotline.requests there as well.
    What the view reads: the entity's folder; Spark's listing skips `_schema.parquet` at its root (a name starting
    with `_` is hidden), discovers the `ingest_date=...` partitions, whose column is dropped (DuckDB's glob does not
    add it), and merges the files' schemas (the profile's spark.sql.parquet.mergeSchema), as union_by_name does.
    An entity with no landed rows yet (its folder holds only `_schema.parquet`) cannot be read by Spark: for those,
    gridlake.transform.run_dbt passes the declared columns (var `spark_unlanded_sources`, read from that file), and
    the view is an empty one of those columns. -#}
{% macro raw_sources() -%}
    {{ return(adapter.dispatch('raw_sources', 'gridlake')()) }}
{%- endmacro %}

{% macro default__raw_sources() -%}
{%- endmacro %}

{% macro spark__raw_sources() -%}
    {%- if execute -%}
        {%- set lake = env_var('GRIDLAKE_LAKE') -%}
        {%- set schemas = [] -%}
        {%- for source in graph.sources.values() | sort(attribute='unique_id') -%}
            {%- if source.schema not in schemas -%}
                {%- do run_query('create schema if not exists ' ~ source.schema) -%}
                {%- do schemas.append(source.schema) -%}
            {%- endif -%}
            {%- set declared = var('spark_unlanded_sources', {}).get(source.source_name ~ '.' ~ source.name) -%}
            {%- if declared is none -%}
                {%- set body = 'select * except (ingest_date) from parquet.`' ~ lake ~ '/raw/' ~ source.source_name
                               ~ '/' ~ source.name ~ '`' -%}
            {%- else -%}
                {%- set columns = [] -%}
                {%- for name, type in declared -%}
                    {%- do columns.append('cast(null as ' ~ type ~ ') as ' ~ adapter.quote(name)) -%}
                {%- endfor -%}
                {%- set body = 'select ' ~ columns | join(', ') ~ ' where false' -%}
            {%- endif -%}
            {%- do run_query('create or replace view ' ~ source.schema ~ '.' ~ source.identifier ~ ' as ' ~ body) -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}
