{#- A span of time from a number (double or integer) of `unit`s (seconds, minutes, hours, days), to add to an
    instant: DuckDB's to_seconds() and kin; Spark's make_dt_interval (days, hours, minutes, seconds with
    microseconds). -#}
{% macro interval_of(amount, unit) -%}
    {{ return(adapter.dispatch('interval_of', 'gridlake')(amount, unit)) }}
{%- endmacro %}

{% macro default__interval_of(amount, unit) -%}
    to_{{ unit }}({{ amount }})
{%- endmacro %}

{% macro spark__interval_of(amount, unit) -%}
    {%- set seconds = {'days': 86400, 'hours': 3600, 'minutes': 60, 'seconds': 1}[unit] -%}
    make_dt_interval(0, 0, 0, cast(({{ amount }}) * {{ seconds }} as decimal(18, 6)))
{%- endmacro %}
