{#- The street of a record that serves both a street (code or name) and a community, as two columns of a select:
    `street_code`, the street as served, else the street of the community as served; `street_resolved_by`, how:
    the spelling of int_street_names that matched (code, name, short_name, office_name), community, or
    unresolved. `street` and `community`: the record's left joins to int_street_names and int_community_names
    on the served spellings. Work orders and grid cases resolve their place this way. -#}
{% macro places_street_resolved(street, community) -%}
    coalesce({{ street }}.street_code, {{ community }}.street_code) as street_code,
    case
        when {{ street }}.street_code is not null then {{ street }}.spelling_kind
        when {{ community }}.street_code is not null then 'community'
        else 'unresolved'
    end as street_resolved_by
{%- endmacro %}
