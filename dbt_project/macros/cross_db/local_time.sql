{#- Beijing's calendar and clock from an instant. DuckDB converts explicitly (`at time zone 'Asia/Shanghai'`, the
    zone of the district: no daylight saving time since 1991); Spark's instants are shown, cast to dates and cut into
    hours in the session time zone, which the profile sets to Asia/Shanghai. -#}

{#- The Beijing date of an instant. -#}
{% macro local_date(instant) -%}
    {{ return(adapter.dispatch('local_date', 'gridlake')(instant)) }}
{%- endmacro %}

{% macro default__local_date(instant) -%}
    ({{ instant }} at time zone 'Asia/Shanghai')::date
{%- endmacro %}

{% macro spark__local_date(instant) -%}
    cast({{ instant }} as date)
{%- endmacro %}

{#- An instant as Beijing's wall clock, for hour() and format_time() (Spark: the instant itself, which those read in
    the session time zone). -#}
{% macro local_time(instant) -%}
    {{ return(adapter.dispatch('local_time', 'gridlake')(instant)) }}
{%- endmacro %}

{% macro default__local_time(instant) -%}
    ({{ instant }} at time zone 'Asia/Shanghai')
{%- endmacro %}

{% macro spark__local_time(instant) -%}
    {{ instant }}
{%- endmacro %}

{#- A date or time as text, `format` in DuckDB's strftime notation (%Y %m %d %H %M %S and literals); Spark's
    date_format takes the same fields as yyyy MM dd HH mm ss, literals quoted. -#}
{% macro format_time(value, format) -%}
    {{ return(adapter.dispatch('format_time', 'gridlake')(value, format)) }}
{%- endmacro %}

{% macro default__format_time(value, format) -%}
    strftime({{ value }}, '{{ format }}')
{%- endmacro %}

{% macro spark__format_time(value, format) -%}
    date_format({{ value }}, "{{ gridlake.spark_datetime_pattern(format) }}")
{%- endmacro %}

{#- Text to a date, `format` in DuckDB's strptime notation. -#}
{% macro parse_date(text, format) -%}
    {{ return(adapter.dispatch('parse_date', 'gridlake')(text, format)) }}
{%- endmacro %}

{% macro default__parse_date(text, format) -%}
    strptime({{ text }}, '{{ format }}')::date
{%- endmacro %}

{% macro spark__parse_date(text, format) -%}
    to_date({{ text }}, "{{ gridlake.spark_datetime_pattern(format) }}")
{%- endmacro %}

{#- A strftime format as Spark's datetime pattern: letters between fields quoted. -#}
{% macro spark_datetime_pattern(format) -%}
    {%- set fields = {'Y': 'yyyy', 'm': 'MM', 'd': 'dd', 'H': 'HH', 'M': 'mm', 'S': 'ss'} -%}
    {%- set parts = format.split('%') -%}
    {%- set out = [parts[0]] -%}
    {%- for part in parts[1:] -%}
        {%- set literal = part[1:] -%}
        {%- do out.append(fields[part[0]] ~ (("'" ~ literal ~ "'") if literal | select('in', 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ') | list else literal)) -%}
    {%- endfor -%}
    {{- out | join('') -}}
{%- endmacro %}
