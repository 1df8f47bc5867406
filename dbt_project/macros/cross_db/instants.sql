{#- Instants as numbers. DuckDB's epoch() is the seconds since 1970 as a double, microseconds included; Spark has
    unix_micros(), divided the same way (so that differences of two instants agree to the last bit). -#}

{#- The seconds of an instant since 1970-01-01 UTC (double). -#}
{% macro epoch_seconds(instant) -%}
    {{ return(adapter.dispatch('epoch_seconds', 'gridlake')(instant)) }}
{%- endmacro %}

{% macro default__epoch_seconds(instant) -%}
    epoch({{ instant }})
{%- endmacro %}

{% macro spark__epoch_seconds(instant) -%}
    (unix_micros({{ instant }}) / 1e6)
{%- endmacro %}

{#- The seconds from one instant to a later one (double; negative when `later` is earlier). DuckDB takes the epoch
    of their difference, an interval; Spark's difference is an interval it cannot turn into a number that way. -#}
{% macro seconds_between(earlier, later) -%}
    {{ return(adapter.dispatch('seconds_between', 'gridlake')(earlier, later)) }}
{%- endmacro %}

{% macro default__seconds_between(earlier, later) -%}
    epoch({{ later }} - {{ earlier }})
{%- endmacro %}

{% macro spark__seconds_between(earlier, later) -%}
    ((unix_micros({{ later }}) - unix_micros({{ earlier }})) / 1e6)
{%- endmacro %}
