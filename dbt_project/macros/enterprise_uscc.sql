{#- Why a normalised code (normalise_code) cannot identify an enterprise; null when it can (uscc_is_valid).
    The reasons, first that applies: `missing` (null or blank), `registration_number` (the old 15-digit business
    registration number), `wrong_length` (not 18 characters), `bad_character` (18 characters, one of them not
    in the GB 32100-2015 alphabet: I, O, Z, S, V or a sign), `bad_check` (the check character does not match). -#}
{% macro enterprise_uscc_rejection_reason(expr) -%}
    case
        when {{ expr }} is null then 'missing'
        when {{ regexp_matches_whole(expr, '[0-9]{15}') }} then 'registration_number'
        when length({{ expr }}) <> 18 then 'wrong_length'
        when not {{ regexp_matches_whole(expr, '[0-9A-HJ-NPQRTUWXY]{18}') }} then 'bad_character'
        when not {{ uscc_is_valid(expr) }} then 'bad_check'
    end
{%- endmacro %}
