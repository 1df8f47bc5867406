{#- Small functions one dialect names differently. -#}

{#- Whether a number is finite (not NaN, not ±infinity); null for null. Spark has no isfinite: NaN sorts above
    infinity there, so a finite value is one whose magnitude is below infinity. -#}
{% macro is_finite(number) -%}
    {{ return(adapter.dispatch('is_finite', 'gridlake')(number)) }}
{%- endmacro %}

{% macro default__is_finite(number) -%}
    isfinite({{ number }})
{%- endmacro %}

{% macro spark__is_finite(number) -%}
    (abs({{ number }}) < double('infinity'))
{%- endmacro %}

{#- The ISO weekday of a date, Monday 1 to Sunday 7. -#}
{% macro iso_weekday(day) -%}
    {{ return(adapter.dispatch('iso_weekday', 'gridlake')(day)) }}
{%- endmacro %}

{% macro default__iso_weekday(day) -%}
    isodow({{ day }})
{%- endmacro %}

{% macro spark__iso_weekday(day) -%}
    extract(dow_iso from {{ day }})
{%- endmacro %}
