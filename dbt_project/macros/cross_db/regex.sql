{#- Regular expressions. `pattern` and `replacement` are given as bare text (no quotes) and quoted here: Spark's
    ordinary string literals would take the backslashes of \s or \1 as escapes, so it gets raw literals (r'...'). -#}

{#- Whether the whole of `text` matches `pattern` (DuckDB's regexp_full_match; Spark anchors a search). -#}
{% macro regexp_matches_whole(text, pattern) -%}
    {{ return(adapter.dispatch('regexp_matches_whole', 'gridlake')(text, pattern)) }}
{%- endmacro %}

{% macro default__regexp_matches_whole(text, pattern) -%}
    regexp_full_match({{ text }}, '{{ pattern }}')
{%- endmacro %}

{% macro spark__regexp_matches_whole(text, pattern) -%}
    regexp_like({{ text }}, r'^(?:{{ pattern }})$')
{%- endmacro %}

{#- Every match of `pattern` in `text` replaced (DuckDB needs the 'g' option; Spark replaces all, and names groups
    $1 where DuckDB writes \1). -#}
{% macro regexp_replace_all(text, pattern, replacement) -%}
    {{ return(adapter.dispatch('regexp_replace_all', 'gridlake')(text, pattern, replacement)) }}
{%- endmacro %}

{% macro default__regexp_replace_all(text, pattern, replacement) -%}
    regexp_replace({{ text }}, '{{ pattern }}', '{{ replacement }}', 'g')
{%- endmacro %}

{% macro spark__regexp_replace_all(text, pattern, replacement) -%}
    regexp_replace({{ text }}, r'{{ pattern }}', r'{{ replacement | replace("\\", "$") }}')
{%- endmacro %}
