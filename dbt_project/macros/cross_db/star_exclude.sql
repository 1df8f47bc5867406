{#- Every column but some: `select * {{ star_exclude() }} (a, b)`. DuckDB says exclude, Spark except. -#}
{% macro star_exclude() -%}
    {{ return(adapter.dispatch('star_exclude', 'gridlake')()) }}
{%- endmacro %}

{% macro default__star_exclude() -%}
    {{ return('exclude') }}
{%- endmacro %}

{% macro spark__star_exclude() -%}
    {{ return('except') }}
{%- endmacro %}
