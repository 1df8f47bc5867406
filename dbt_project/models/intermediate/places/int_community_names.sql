-- Every spelling of a Dongcheng community that sources write, one row each, keyed by the spelling as normalise_code
-- makes it: the 12-digit code, the full name (多福巷社区居委会) and the name without 居委会 (多福巷社区), with the
-- street the community belongs to. The same lookup for communities as int_street_names is for streets.
with communities as (

    select * from {{ ref('dongcheng_communities') }}

),

spellings as (

    select community_code, community_name, street_code, community_code as spelling, 'code' as spelling_kind,
        1 as preference
    from communities
    union all
    select community_code, community_name, street_code, community_name, 'name', 2
    from communities
    union all
    select community_code, community_name, street_code, regexp_replace(community_name, '居委会$', ''),
        'short_name', 3
    from communities

),

renamed as (

    select
        {{ normalise_code('spelling') }} as community_spelling,
        spelling_kind,
        community_code,
        community_name,
        street_code

    from spellings
    where {{ normalise_code('spelling') }} is not null
    qualify row_number() over (partition by {{ normalise_code('spelling') }} order by preference) = 1

)

select * from renamed
