{#- An enterprise's name made comparable across the platforms: full-width brackets （） made half-width, the
    ideographic space made a plain one, runs of spaces collapsed to one, then removed where they touch a Chinese
    (non-ASCII) character or sit just inside a bracket: 北京某某（ 东城 ） 有限公司 → 北京某某(东城)有限公司, while
    the spaces between Latin words stay. Nothing else changes (full-width letters and digits of a registered
    name stay as registered). Null or blank gives null. -#}
{% macro enterprise_clean_name(expr) -%}
    nullif(trim(replace(replace(
        {{ regexp_replace_all(
            regexp_replace_all("translate(" ~ expr ~ ", '（）　', '() ')", '\\s+', ' '), ' ?([^\\x00-\\x7F]) ?', '\\1'
        ) }},
        '( ', '('), ' )', ')')), '')
{%- endmacro %}
