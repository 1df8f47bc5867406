{#- A struct of named fields, `fields` a mapping of name to SQL expression (in order): DuckDB's {'name': value}
    literal, Spark's named_struct. -#}
{% macro struct_of(fields) -%}
    {{ return(adapter.dispatch('struct_of', 'gridlake')(fields)) }}
{%- endmacro %}

{% macro default__struct_of(fields) -%}
    { {%- for name, value in fields.items() %}'{{ name }}': {{ value }}{{ ', ' if not loop.last }}{% endfor -%} }
{%- endmacro %}

{% macro spark__struct_of(fields) -%}
    named_struct({%- for name, value in fields.items() %}'{{ name }}', {{ value }}{{ ', ' if not loop.last }}{% endfor -%})
{%- endmacro %}
