{#- Window functions one dialect lacks. -#}

{#- How many distinct values of `expr` among the rows of the window where `condition` holds. DuckDB counts
    distinct over a window; Spark cannot (DISTINCT_WINDOW_FUNCTION_UNSUPPORTED), so it sizes the set collected. -#}
{% macro count_distinct_over(expr, condition, window) -%}
    {{ return(adapter.dispatch('count_distinct_over', 'gridlake')(expr, condition, window)) }}
{%- endmacro %}

{% macro default__count_distinct_over(expr, condition, window) -%}
    count(distinct {{ expr }}) filter (where {{ condition }}) over ({{ window }})
{%- endmacro %}

{% macro spark__count_distinct_over(expr, condition, window) -%}
    size(collect_set(case when {{ condition }} then {{ expr }} end) over ({{ window }}))
{%- endmacro %}
