{#- The grid platform's working definitions (reference.md "Grid cases", kpis.md "Grid case step durations")
    shared by the grid case models. -#}

{#- Hours from one instant to another (negative when the second is earlier); null when either is null. -#}
{% macro grid_hours_between(start_at, end_at) -%}
    ({{ epoch_seconds(end_at) }} - {{ epoch_seconds(start_at) }}) / 3600.0
{%- endmacro %}

{#- The handling limit (hours) of a case kind, from the settings passed as vars: 3 days for a component (部件),
    2 days for an event (事件) by default. A kind the district has no limit for gives null, never a default. -#}
{% macro grid_handle_limit_hours(kind) -%}
    case {{ kind }}
        when 'component' then cast({{ var('grid_handle_component_hours') }} as double)
        when 'event' then cast({{ var('grid_handle_event_hours') }} as double)
    end
{%- endmacro %}
