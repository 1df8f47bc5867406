{#- Lists (DuckDB) and arrays (Spark): the functions the two name differently. -#}

{#- How many elements; null for a null list (Spark's size() too, with the profile's spark.sql.legacy.sizeOfNull
    false). -#}
{% macro list_length(list) -%}
    {{ return(adapter.dispatch('list_length', 'gridlake')(list)) }}
{%- endmacro %}

{% macro default__list_length(list) -%}
    len({{ list }})
{%- endmacro %}

{% macro spark__list_length(list) -%}
    size({{ list }})
{%- endmacro %}

{#- The keys of a JSON object (text), sorted: the names of the fields a source added (extra_fields). -#}
{% macro json_keys_sorted(json) -%}
    {{ return(adapter.dispatch('json_keys_sorted', 'gridlake')(json)) }}
{%- endmacro %}

{% macro default__json_keys_sorted(json) -%}
    list_sort(json_keys({{ json }}))
{%- endmacro %}

{% macro spark__json_keys_sorted(json) -%}
    array_sort(json_object_keys({{ json }}))
{%- endmacro %}

{#- An empty list, to coalesce a missing list to (DuckDB's [] literal; Spark's array(), typed by the other side). -#}
{% macro empty_list() -%}
    {{ return(adapter.dispatch('empty_list', 'gridlake')()) }}
{%- endmacro %}

{% macro default__empty_list() -%}
    []
{%- endmacro %}

{% macro spark__empty_list() -%}
    array()
{%- endmacro %}
