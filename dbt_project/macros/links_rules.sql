{#- The limits of the links found by place, matter and time (int_events_linked), in one place: the district's
    working choices where the specs are silent, settings in gridlake/settings.py (`links`, GRIDLAKE_LINKS__*),
    passed as vars. The numbers in the notes below are the defaults. -#}

{#- Two cases are of one place when their points lie within about one unit grid (100 m) of each other. -#}
{% macro links_case_radius_m() -%}
    {{ var('link_case_radius_m') }}
{%- endmacro %}

{#- A grid case that carries no work order follows a call about the same matter there within 2 days (a grid
    case is filed 15-120 minutes after a call; a day's delay over a weekend). It may be filed up to an hour
    before the call is logged (the inspector saw it first). -#}
{% macro links_report_window_hours() -%}
    {{ var('link_report_window_hours') }}
{%- endmacro %}

{% macro links_report_lead_hours() -%}
    {{ var('link_report_lead_hours') }}
{%- endmacro %}

{#- An enforcement case follows the calls and grid cases about its enterprise from the 14 days before it was
    filed (repeated complaints about one enterprise over two weeks, then the team acts; the complex orders'
    resolve limit is 15 days). -#}
{% macro links_enforcement_window_days() -%}
    {{ var('link_enforcement_window_days') }}
{%- endmacro %}

{#- Without an enterprise in common, only a place and a matter: an enforcement case follows a grid case filed
    within the grid's dispatch and handling limits (reference.md: 1 h + 3 days for a component, the longer), and
    a work order within its resolve limit (a normal order's 7 days). -#}
{% macro links_enforcement_after_grid_hours() -%}
    ({{ var('grid_dispatch_hours') }} + greatest({{ var('grid_handle_component_hours') }},
        {{ var('grid_handle_event_hours') }}))
{%- endmacro %}

{% macro links_enforcement_after_order_hours() -%}
    {{ var('resolve_hours_normal') }}
{%- endmacro %}

{#- Two reports are of one matter: the same enforcement matter when both have one; else the same matter name
    (a service name that is a grid subcategory); else the same domain, when the domain is one business line
    (not the catch-alls `enforcement` and `grid_supervision`, which hold dozens of unrelated matters). -#}
{% macro links_same_matter(a, b) -%}
    (
        ({{ a }}_matter is not null and {{ b }}_matter is not null and {{ a }}_matter = {{ b }}_matter)
        or (({{ a }}_matter is null or {{ b }}_matter is null) and (
            {{ a }}_matter_name = {{ b }}_matter_name
            or ({{ a }}_domain = {{ b }}_domain and {{ a }}_domain not in ('enforcement', 'grid_supervision'))
        ))
    )
{%- endmacro %}

{#- A complaint is about a sensor's exceedance when it comes at most 3 hours before the first exceeding
    reading of that day or after its last one (the smell outlasts the reading; a caller waits a while). The same
    margin holds around a dust or diesel NOx episode's span (int_events_linked: street_time, place_time); a parking
    violation and a parking call use the case radius and the report window (a violation from a hotline report
    may be logged up to the report lead before the call). -#}
{% macro links_exceedance_margin_hours() -%}
    {{ var('link_exceedance_margin_hours') }}
{%- endmacro %}
