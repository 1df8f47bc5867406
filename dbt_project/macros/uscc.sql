{#- The unified social credit code (统一社会信用代码, GB 32100-2015), in pure DuckDB SQL: the same check as
    gridlake.uscc.is_valid (tests/dbt/test_staging_enforcement_credit_statistics.py compares the two).
    18 characters from 0-9 and A-Z without I, O, Z, S, V; character 18 is the check character of the first 17:
    (31 - sum(value × weight) mod 31) mod 31, mapped back to its character (reference.md). A code may begin with
    a letter (A, N, Y...), so no position is assumed to be a digit. -#}

{#- The characters in order of their value (0-30). -#}
{% macro uscc_alphabet() -%}
    '0123456789ABCDEFGHJKLMNPQRTUWXY'
{%- endmacro %}

{#- True when `expr` is an already normalised code (normalise_code: half-width, no spaces, upper case) of 18
    allowed characters with the right check character; false otherwise, also for null (as is_valid(None)).
    Normalise first: `uscc_is_valid(normalise_code('uscc'))`. The code is bound once to a lambda parameter
    (`uscc_code`, through a one-element list) rather than written out at each of its 19 uses: inlined, the
    normalisation ran 19 times per row, and the check took seconds over a few tens of thousands of codes. -#}
{% macro uscc_is_valid(expr) -%}
    {{ return(adapter.dispatch('uscc_is_valid', 'gridlake')(expr)) }}
{%- endmacro %}

{% macro default__uscc_is_valid(expr) -%}
    coalesce(
        list_transform([{{ expr }}], lambda uscc_code:
            regexp_full_match(uscc_code, '[0-9A-HJ-NPQRTUWXY]{18}')
            and substr(
                {{ uscc_alphabet() }},
                (31 - list_sum(list_transform(
                    range(1, 18),
                    lambda uscc_position: (strpos({{ uscc_alphabet() }}, substr(uscc_code, uscc_position, 1)) - 1)
                        * [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28][uscc_position]
                ))::bigint % 31) % 31 + 1,
                1
            ) = substr(uscc_code, 18, 1)
        )[1],
        false
    )
{%- endmacro %}

{#- Spark: the same check with its array functions (transform, aggregate, element_at: 1-based like DuckDB's
    lists; a lambda written x -> ...). -#}
{% macro spark__uscc_is_valid(expr) -%}
    coalesce(
        element_at(transform(array({{ expr }}), uscc_code ->
            regexp_like(uscc_code, '^[0-9A-HJ-NPQRTUWXY]{18}$')
            and substr(
                {{ uscc_alphabet() }},
                cast((31 - cast(aggregate(
                    transform(
                        sequence(1, 17),
                        uscc_position -> (instr({{ uscc_alphabet() }}, substr(uscc_code, uscc_position, 1)) - 1)
                            * element_at(array(1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28), uscc_position)
                    ),
                    0,
                    (uscc_sum, uscc_term) -> uscc_sum + uscc_term
                ) as bigint) % 31) % 31 + 1 as int),
                1
            ) = substr(uscc_code, 18, 1)
        ), 1),
        false
    )
{%- endmacro %}
