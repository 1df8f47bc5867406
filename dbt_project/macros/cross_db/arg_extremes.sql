{#- The value of `arg` at the row with the largest (smallest) `key`, as an aggregate; `key` may be a row of
    several, `(a, b)`, compared in order. DuckDB's arg_max and arg_min skip the rows whose arg is null (its
    arg_min_null does not); Spark's max_by and min_by do not, so they are given no key on those rows. Ties go to
    any of the rows on both: the models break them with the key's last column. -#}
{% macro arg_max(arg, key) -%}
    {{ return(adapter.dispatch('arg_max', 'gridlake')(arg, key)) }}
{%- endmacro %}

{% macro default__arg_max(arg, key) -%}
    arg_max({{ arg }}, {{ key }})
{%- endmacro %}

{% macro spark__arg_max(arg, key) -%}
    max_by({{ arg }}, case when {{ arg }} is not null then {{ gridlake.spark_row(key) }} end)
{%- endmacro %}

{% macro arg_min(arg, key) -%}
    {{ return(adapter.dispatch('arg_min', 'gridlake')(arg, key)) }}
{%- endmacro %}

{% macro default__arg_min(arg, key) -%}
    arg_min({{ arg }}, {{ key }})
{%- endmacro %}

{% macro spark__arg_min(arg, key) -%}
    min_by({{ arg }}, case when {{ arg }} is not null then {{ gridlake.spark_row(key) }} end)
{%- endmacro %}

{#- arg_min over every row, a null arg included. -#}
{% macro arg_min_null(arg, key) -%}
    {{ return(adapter.dispatch('arg_min_null', 'gridlake')(arg, key)) }}
{%- endmacro %}

{% macro default__arg_min_null(arg, key) -%}
    arg_min_null({{ arg }}, {{ key }})
{%- endmacro %}

{% macro spark__arg_min_null(arg, key) -%}
    min_by({{ arg }}, {{ gridlake.spark_row(key) }})
{%- endmacro %}

{#- A row key `(a, b)` as a Spark struct (compared field by field); a single expression as it is. -#}
{% macro spark_row(key) -%}
    {%- if key.strip().startswith('(') and key.strip().endswith(')') -%}
        struct{{ key.strip() }}
    {%- else -%}
        {{ key }}
    {%- endif -%}
{%- endmacro %}
