{#- A span of time from a number (double or integer) of `unit`s (microseconds, seconds, minutes, hours, days; months,
    whole) to add to an instant or a date: DuckDB's to_seconds() and kin; Spark's make_dt_interval (seconds with
    microseconds) and, for months, make_ym_interval. -#}
{% macro interval_of(amount, unit) -%}
    {{ return(adapter.dispatch('interval_of', 'gridlake')(amount, unit)) }}
{%- endmacro %}

{% macro default__interval_of(amount, unit) -%}
    to_{{ unit }}({{ amount }})
{%- endmacro %}

{% macro spark__interval_of(amount, unit) -%}
    {%- if unit == 'months' -%}
    make_ym_interval(0, cast({{ amount }} as integer))
    {%- elif unit == 'microseconds' -%}
    make_dt_interval(0, 0, 0, cast(cast(({{ amount }}) as decimal(18, 0)) * 0.000001 as decimal(18, 6)))
    {%- else -%}
    {%- set seconds = {'days': 86400, 'hours': 3600, 'minutes': 60, 'seconds': 1}[unit] -%}
    make_dt_interval(0, 0, 0, cast(({{ amount }}) * {{ seconds }} as decimal(18, 6)))
    {%- endif -%}
{%- endmacro %}
