{#- Rows from a series, in a select list (one row per element; `select {{ integer_series(1, 13) }} as month`).
    DuckDB unnests a generated list; Spark explodes a sequence (bounds included, hence the stop minus one for
    integers), already typed, so no cast around its generator (which Spark does not allow). -#}

{#- The integers from `start` up to `stop`, `stop` left out (Python's range). -#}
{% macro integer_series(start, stop) -%}
    {{ return(adapter.dispatch('integer_series', 'gridlake')(start, stop)) }}
{%- endmacro %}

{% macro default__integer_series(start, stop) -%}
    cast(unnest(range({{ start }}, {{ stop }})) as integer)
{%- endmacro %}

{% macro spark__integer_series(start, stop) -%}
    explode(sequence(cast({{ start }} as integer), cast({{ stop }} as integer) - 1))
{%- endmacro %}

{#- The dates from `first` to `last`, both included. -#}
{% macro date_series(first, last) -%}
    {{ return(adapter.dispatch('date_series', 'gridlake')(first, last)) }}
{%- endmacro %}

{% macro default__date_series(first, last) -%}
    cast(unnest(generate_series({{ first }}, {{ last }}, interval 1 day)) as date)
{%- endmacro %}

{% macro spark__date_series(first, last) -%}
    explode(sequence(cast({{ first }} as date), cast({{ last }} as date), interval 1 day))
{%- endmacro %}

{#- A join of each row to the elements of its list `list`, numbered from 1 (`from t {{ join_unnested(...) }}`): the
    table `alias` with the columns `value` and `ordinal`. DuckDB: unnest with ordinality; Spark: a lateral view of
    the elements paired with their number. A null or empty list gives no row. -#}
{% macro join_unnested(list, alias, value, ordinal) -%}
    {{ return(adapter.dispatch('join_unnested', 'gridlake')(list, alias, value, ordinal)) }}
{%- endmacro %}

{% macro default__join_unnested(list, alias, value, ordinal) -%}
    , unnest({{ list }}) with ordinality as {{ alias }} ({{ value }}, {{ ordinal }})
{%- endmacro %}

{% macro spark__join_unnested(list, alias, value, ordinal) -%}
    lateral view inline(transform({{ list }}, (element, position) -> struct(element, position + 1)))
        {{ alias }} as {{ value }}, {{ ordinal }}
{%- endmacro %}
