{#- The hotspot and seasonal rules' settings (kpis.md, "Hotspots and long-standing problems"), from the vars
    gridlake passes. -#}

{#- The repeat-hotspot window in seconds: orders received at most this long before an order are in its window. -#}
{% macro hotspot_window_seconds() -%}
    (cast({{ var('hotspot_window_days') }} as double) * 86400)
{%- endmacro %}
