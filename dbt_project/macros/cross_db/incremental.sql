{#- How the large observation models are materialized. DuckDB: incremental (delete+insert on their key, a post-hook
    removing the soft deletes: macros/citymgmt_readings.sql). Spark without Delta Lake or Iceberg (their jars come
    from Maven, out of reach here) has no DELETE on its Parquet tables, so there they are tables, computed from the
    whole raw zone at every build: is_incremental() is then false, and the models' full-build SQL runs. -#}
{% macro incremental_materialization() -%}
    {{ return(adapter.dispatch('incremental_materialization', 'gridlake')()) }}
{%- endmacro %}

{% macro default__incremental_materialization() -%}
    {{ return('incremental') }}
{%- endmacro %}

{% macro spark__incremental_materialization() -%}
    {{ return('table') }}
{%- endmacro %}

{#- DuckDB's hint on a CTE (`with x as {{ cte_hint('not materialized') }} (`): whether it is computed once and kept,
    or inlined where read. Spark decides by itself (it has no such hint): nothing there. -#}
{% macro cte_hint(hint) -%}
    {{ return(adapter.dispatch('cte_hint', 'gridlake')(hint)) }}
{%- endmacro %}

{% macro default__cte_hint(hint) -%}
    {{ hint }}
{%- endmacro %}

{% macro spark__cte_hint(hint) -%}
{%- endmacro %}
