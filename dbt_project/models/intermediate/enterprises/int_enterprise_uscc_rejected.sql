-- One row per source row whose uscc cannot identify an enterprise (missing, the old 15-digit registration number,
-- the wrong length, a character outside the GB 32100-2015 alphabet, a wrong check character): kept out of
-- int_enterprises_resolved and listed here with its source, its key there and the reason, never dropped
-- silently. `candidate_uscc`: the resolved enterprise of the same cleaned name, when exactly one has it (a hint
-- for whoever repairs the source, not a match the models use).
with mentions as (

    select * from {{ ref('int_enterprise_mentions_unified') }}

),

enterprises as (

    select * from {{ ref('int_enterprises_resolved') }}

),

rejected as (

    select * from mentions where uscc_rejection_reason is not null

),

unique_names as (

    select
        enterprise_name,
        min(uscc) as uscc
    from enterprises
    where enterprise_name is not null
    group by enterprise_name
    having count(*) = 1

),

renamed as (

    select
        rejected.mention_source,
        rejected.source_key,
        rejected.uscc as uscc_as_served,
        rejected.uscc_rejection_reason,
        rejected.enterprise_name,
        unique_names.uscc as candidate_uscc,
        rejected.updated_at

    from rejected
    left join unique_names
        on unique_names.enterprise_name = rejected.enterprise_name

)

select * from renamed
