{#- Codes as sources write them, made comparable: full-width digits and letters to half-width, spaces (also
    the ideographic space) removed, upper case. The same normalisation as gridlake.reference.to_half_width and
    gridlake.uscc.normalise, so a code the connectors accepted normalises the same way here. -#}
{% macro normalise_code(expr) -%}
    nullif(upper(replace(replace(translate({{ expr }}, '０１２３４５６７８９ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺａｂｃｄｅｆｇｈｉｊｋｌｍｎｏｐｑｒｓｔｕｖｗｘｙｚ', '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'), ' ', ''), '　', '')), '')
{%- endmacro %}
