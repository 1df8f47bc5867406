{#- Models land in the schema their folder names (staging, intermediate, marts, reference), not in
    "<target schema>_<name>": departments query marts.hotline_kpi_daily, not main_marts.hotline_kpi_daily. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ (custom_schema_name or target.schema) | trim }}
{%- endmacro %}
