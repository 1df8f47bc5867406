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

{#- The rows' values as a list in a given order (DuckDB's list(value order by ...) filter (where ...)), as an
    aggregate. `order_by`: DuckDB's order by list (`a desc, b`); `condition`: the rows taken (all by default);
    `distinct`: each value once (then ordered by itself: `order_by` is the value). Null when no row is taken, as
    DuckDB's list() over no row. Spark has no ordered aggregate for lists: it collects (order keys, value) structs
    and sorts them with a comparator over the keys, nulls last as DuckDB orders them; with `distinct`, it sorts the
    set it collects, which leaves a null value out (DuckDB's would list it once: the models take no null there). -#}
{% macro ordered_list(value, order_by, condition=none, distinct=false) -%}
    {{ return(adapter.dispatch('ordered_list', 'gridlake')(value, order_by, condition, distinct)) }}
{%- endmacro %}

{% macro default__ordered_list(value, order_by, condition, distinct) -%}
    list({{ 'distinct ' if distinct }}{{ value }} order by {{ order_by }})
    {%- if condition is not none %} filter (where {{ condition }}){% endif %}
{%- endmacro %}

{% macro spark__ordered_list(value, order_by, condition, distinct) -%}
    {%- set taken = ('case when ' ~ condition ~ ' then {} end') if condition is not none else '{}' -%}
    {%- if distinct -%}
        {%- set listed = 'array_sort(collect_set(' ~ taken.replace('{}', value) ~ '))' -%}
    {%- else -%}
        {%- set fields = [] -%}
        {%- set compare = [] -%}
        {%- for item in order_by.split(',') -%}
            {%- set words = item.strip().split(' ') -%}
            {%- set descending = words[-1] | lower == 'desc' -%}
            {%- set expr = (words[:-1] if words[-1] | lower in ('asc', 'desc') else words) | join(' ') -%}
            {%- set l, r = 'l.k' ~ loop.index, 'r.k' ~ loop.index -%}
            {%- do fields.append("'k" ~ loop.index ~ "', " ~ expr) -%}
            {%- do compare.append(
                'when ' ~ l ~ ' is null and ' ~ r ~ ' is not null then 1 '
                ~ 'when ' ~ l ~ ' is not null and ' ~ r ~ ' is null then -1 '
                ~ 'when ' ~ l ~ ' < ' ~ r ~ ' then ' ~ ('1' if descending else '-1') ~ ' '
                ~ 'when ' ~ l ~ ' > ' ~ r ~ ' then ' ~ ('-1' if descending else '1')) -%}
        {%- endfor -%}
        {%- set pair = 'named_struct(' ~ fields | join(', ') ~ ", 'v', " ~ value ~ ')' -%}
        {%- set listed = 'transform(array_sort(collect_list(' ~ taken.replace('{}', pair) ~ '), (l, r) -> case '
                         ~ compare | join(' ') ~ ' else 0 end), pair -> pair.v)' -%}
    {%- endif -%}
    case when size({{ listed }}) > 0 then {{ listed }} end
{%- endmacro %}

{#- The rows' values as a list, in no particular order (an aggregate). -#}
{% macro list_of(value) -%}
    {{ return(adapter.dispatch('list_of', 'gridlake')(value)) }}
{%- endmacro %}

{% macro default__list_of(value) -%}
    list({{ value }})
{%- endmacro %}

{% macro spark__list_of(value) -%}
    collect_list({{ value }})
{%- endmacro %}

{#- A list's element at a 1-based position (null past its end): DuckDB's list[i]; Spark's [] counts from 0. -#}
{% macro list_element(list, position) -%}
    {{ return(adapter.dispatch('list_element', 'gridlake')(list, position)) }}
{%- endmacro %}

{% macro default__list_element(list, position) -%}
    {{ list }}[{{ position }}]
{%- endmacro %}

{% macro spark__list_element(list, position) -%}
    try_element_at({{ list }}, {{ position }})
{%- endmacro %}

{#- A list of the values of `expressions` (SQL, in order) that are not null. -#}
{% macro list_present(expressions) -%}
    {{ return(adapter.dispatch('list_present', 'gridlake')(expressions)) }}
{%- endmacro %}

{% macro default__list_present(expressions) -%}
    list_filter([
            {%- for expression in expressions %}
            {{ expression }}{{ "," if not loop.last }}
            {%- endfor %}
        ], lambda fired: fired is not null)
{%- endmacro %}

{% macro spark__list_present(expressions) -%}
    array_compact(array({{ expressions | join(', ') }}))
{%- endmacro %}

{#- A list of text joined into one text with `separator` between the elements. -#}
{% macro list_join(list, separator) -%}
    {{ return(adapter.dispatch('list_join', 'gridlake')(list, separator)) }}
{%- endmacro %}

{% macro default__list_join(list, separator) -%}
    array_to_string({{ list }}, {{ separator }})
{%- endmacro %}

{% macro spark__list_join(list, separator) -%}
    array_join({{ list }}, {{ separator }})
{%- endmacro %}

{#- Whether a list holds a value. -#}
{% macro list_has(list, value) -%}
    {{ return(adapter.dispatch('list_has', 'gridlake')(list, value)) }}
{%- endmacro %}

{% macro default__list_has(list, value) -%}
    list_contains({{ list }}, {{ value }})
{%- endmacro %}

{% macro spark__list_has(list, value) -%}
    array_contains({{ list }}, {{ value }})
{%- endmacro %}
