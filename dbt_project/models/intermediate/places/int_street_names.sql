-- Every spelling of a Dongcheng street that sources write, one row each, keyed by the spelling as normalise_code
-- makes it (half-width, no spaces, upper case): the code, the full name (东华门街道), the short name (东华门) and the
-- street office's name (东华门街道办事处, how the hotline names a street as a handling unit). A model resolves a
-- served street with `left join int_street_names on street_names.street_spelling = normalise_code(<served>)`.
with streets as (

    select * from {{ ref('dongcheng_streets') }}

),

spellings as (

    select street_code, street_name, short_name, street_code as spelling, 'code' as spelling_kind, 1 as preference
    from streets
    union all
    select street_code, street_name, short_name, street_name, 'name', 2
    from streets
    union all
    select street_code, street_name, short_name, short_name, 'short_name', 3
    from streets
    union all
    select street_code, street_name, short_name, street_name || '办事处', 'office_name', 4
    from streets

),

renamed as (

    select
        {{ normalise_code('spelling') }} as street_spelling,
        spelling_kind,
        street_code,
        street_name,
        short_name as street_short_name

    from spellings
    where {{ normalise_code('spelling') }} is not null
    -- a spelling two kinds share (a short name equal to a full name) resolves once, by its strongest kind
    qualify row_number() over (partition by {{ normalise_code('spelling') }} order by preference) = 1

)

select * from renamed
