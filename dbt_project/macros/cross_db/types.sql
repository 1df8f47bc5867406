{#- Type names the two dialects spell differently, for casts (`x::{{ type_instant() }}`). The rest are written as
    both know them: bigint, integer, double, date, boolean, decimal(p,s); text is dbt's own dbt.type_string()
    (DuckDB's varchar, Spark's string). -#}

{#- An instant: DuckDB's timestamptz; Spark's timestamp is an instant already (shown in the session time zone). -#}
{% macro type_instant() -%}
    {{ return(adapter.dispatch('type_instant', 'gridlake')()) }}
{%- endmacro %}

{% macro default__type_instant() -%}
    timestamptz
{%- endmacro %}

{% macro spark__type_instant() -%}
    timestamp
{%- endmacro %}

{#- A list of `element` (a type name both know, or one of these macros): DuckDB's element[], Spark's array<element>. -#}
{% macro type_list(element) -%}
    {{ return(adapter.dispatch('type_list', 'gridlake')(element)) }}
{%- endmacro %}

{% macro default__type_list(element) -%}
    {{ element }}[]
{%- endmacro %}

{% macro spark__type_list(element) -%}
    array<{{ element }}>
{%- endmacro %}
