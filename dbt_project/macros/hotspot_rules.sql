{#- The hotspot and seasonal rules' settings (kpis.md, "Hotspots and long-standing problems"), from the vars
    gridlake passes. -#}

{#- The repeat-hotspot window in seconds: orders received at most this long before an order are in its window. A
    literal (a double), as a window frame's bound must be one on Spark. -#}
{% macro hotspot_window_seconds() -%}
    {{ var('hotspot_window_days') | float * 86400 }}
{%- endmacro %}
