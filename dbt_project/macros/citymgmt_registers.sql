{#- The point of a city-management register row (restaurant, garbage station, parking lot, grid cell) when it
    is usable: not (0, 0) and inside Beijing municipality, the box the citymgmt connector applies to observations
    (connectors/citymgmt/rules.py, BEIJING_BOX: lat 39.40-41.10, lon 115.40-117.55). The connector lands register
    rows with bad points as served (the row still identifies its readings); staging keeps the row and nulls the
    point. False for a null or NaN coordinate. -#}
{% macro citymgmt_point_is_usable(lat, lon) -%}
    coalesce(
        not ({{ lat }} = 0 and {{ lon }} = 0)
        and {{ lat }} between 39.40 and 41.10
        and {{ lon }} between 115.40 and 117.55,
        false
    )
{%- endmacro %}

{#- `expr` (a coordinate) when the row's point is usable, else null. -#}
{% macro citymgmt_usable_coordinate(expr, lat, lon) -%}
    case when {{ citymgmt_point_is_usable(lat, lon) }} then cast({{ expr }} as double) end
{%- endmacro %}

{#- True when the platform served a point (either coordinate set) that is not usable: staging nulled it. -#}
{% macro citymgmt_point_was_nulled(lat, lon) -%}
    (({{ lat }} is not null or {{ lon }} is not null) and not {{ citymgmt_point_is_usable(lat, lon) }})
{%- endmacro %}
