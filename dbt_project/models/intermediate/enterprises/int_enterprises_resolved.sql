-- One row per enterprise: a valid, normalised uscc named by any of credit subjects, credit records, statistics
-- key enterprises, enforcement case parties or restaurants (rows with a code that fails the check are in
-- int_enterprise_uscc_rejected). The name reconciled across the sources: credit's registered name, else the
-- statistics bureau's (newest month), else the restaurant register's, else an enforcement party's (newest case);
-- each cleaned by enterprise_clean_name. The street as each source serves it, and resolved to the district's
-- street code (int_street_names: code, full or short name) from the first source whose value resolves: credit,
-- then restaurants, then statistics. The industry (credit, else statistics), which sources know the code, and
-- the re-registration links of credit files that share one name.
with mentions as (

    select * from {{ ref('int_enterprise_mentions_unified') }}
    where uscc_rejection_reason is null

),

street_names as (

    select * from {{ ref('int_street_names') }}

),

subjects as (

    select * from {{ ref('stg_credit__subjects') }}
    where uscc_is_valid

),

-- Per uscc and source, the mention that speaks for the source: the newest (statistics: the newest month).
per_source as (

    select *
    from mentions
    qualify row_number() over (
        partition by uscc, mention_source
        order by updated_at desc, source_key desc
    ) = 1

),

presence as (

    select
        uscc,
        bool_or(mention_source = 'credit_subjects') as in_credit_subjects,
        bool_or(mention_source = 'credit_records') as in_credit_records,
        bool_or(mention_source = 'statistics') as in_statistics,
        bool_or(mention_source = 'enforcement_parties') as in_enforcement_parties,
        bool_or(mention_source = 'restaurants') as in_restaurants,
        count(distinct mention_source) as source_count,
        {{ ordered_list('mention_source', 'mention_source', distinct=true) }} as mention_sources,
        count(*) filter (where mention_source = 'restaurants') as restaurant_count,
        count(distinct enterprise_name) as name_variant_count
    from mentions
    group by uscc

),

named as (

    select
        uscc,
        enterprise_name,
        mention_source as name_source
    from per_source
    where enterprise_name is not null
    qualify row_number() over (partition by uscc order by source_rank) = 1

),

-- The street: the first source, in the order credit, restaurants, statistics, whose value resolves; when none
-- does, the first value served, unresolved (a street merged away, a misspelling).
street_chosen as (

    select
        per_source.uscc,
        per_source.mention_source as street_source,
        per_source.street_code_as_served as street_as_served,
        street_names.street_code,
        street_names.street_name
    from per_source
    left join street_names
        on street_names.street_spelling = per_source.street_code_as_served
    where per_source.street_code_as_served is not null
        and per_source.mention_source in ('credit_subjects', 'restaurants', 'statistics')
    qualify row_number() over (
        partition by per_source.uscc
        order by
            street_names.street_code is null,
            case per_source.mention_source when 'credit_subjects' then 1 when 'restaurants' then 2 else 3 end
    ) = 1

),

streets as (

    select
        uscc,
        max(street_code_as_served) filter (where mention_source = 'credit_subjects') as credit_street_as_served,
        max(street_code_as_served) filter (where mention_source = 'restaurants') as restaurant_street_as_served,
        max(street_code_as_served) filter (where mention_source = 'statistics') as statistics_street_as_served,
        max(industry_code) filter (where mention_source = 'credit_subjects') as credit_industry_code,
        max(industry_code) filter (where mention_source = 'statistics') as statistics_industry_code
    from per_source
    group by uscc

),

-- Re-registrations (credit.md): two credit files of one cleaned name and different codes. A cancelled file
-- points to the file that is not cancelled and was established last (its successor), and back.
same_name as (

    select
        {{ enterprise_clean_name('subject_name') }} as enterprise_name,
        uscc,
        status,
        established_on
    from subjects

),

re_registrations as (

    select
        old.uscc as predecessor_uscc,
        new.uscc as successor_uscc
    from same_name as old
    inner join same_name as new
        on new.enterprise_name = old.enterprise_name
        and new.uscc <> old.uscc
        and new.status <> 'cancelled'
    where old.status = 'cancelled'
    qualify row_number() over (
        partition by old.uscc order by new.established_on desc nulls last, new.uscc
    ) = 1

),

resolved as (

    select
        presence.uscc,
        named.enterprise_name,
        named.name_source,
        presence.name_variant_count,
        street_chosen.street_code,
        street_chosen.street_name,
        street_chosen.street_as_served,
        street_chosen.street_source,
        streets.credit_street_as_served,
        streets.restaurant_street_as_served,
        streets.statistics_street_as_served,
        coalesce(streets.credit_industry_code, streets.statistics_industry_code) as industry_code,
        case
            when streets.credit_industry_code is not null then 'credit_subjects'
            when streets.statistics_industry_code is not null then 'statistics'
        end as industry_source,
        presence.in_credit_subjects,
        presence.in_credit_records,
        presence.in_statistics,
        presence.in_enforcement_parties,
        presence.in_restaurants,
        presence.source_count,
        {{ list_join('presence.mention_sources', "','") }} as mention_sources,
        presence.restaurant_count,
        successors.successor_uscc,
        predecessors.predecessor_uscc

    from presence
    left join named
        on named.uscc = presence.uscc
    left join streets
        on streets.uscc = presence.uscc
    left join street_chosen
        on street_chosen.uscc = presence.uscc
    left join re_registrations as successors
        on successors.predecessor_uscc = presence.uscc
    left join re_registrations as predecessors
        on predecessors.successor_uscc = presence.uscc
    -- a file re-registered twice under one name would have two predecessors: keep the newest
    qualify row_number() over (
        partition by presence.uscc order by predecessors.predecessor_uscc desc nulls last
    ) = 1

)

select * from resolved
