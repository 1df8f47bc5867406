-- One row per source row that names an enterprise by its uscc (or should: a restaurant, an enterprise party):
-- credit subjects and records, statistics key-enterprise rows (every month of the newest revisions), enforcement
-- case parties and monitored restaurants, each with its code normalised and, when the code cannot identify an
-- enterprise, why (macro enterprise_uscc_rejection_reason). The name, street and industry as each source serves
-- them; the name cleaned (macro enterprise_clean_name). `source_rank` is the order in which a source's name is
-- preferred (int_enterprises_resolved).
with credit_subjects as (

    select
        'credit_subjects' as mention_source,
        uscc as source_key,
        uscc,
        subject_name as name_as_served,
        street_code_as_served,
        industry_code,
        updated_at,
        1 as source_rank
    from {{ ref('stg_credit__subjects') }}

),

statistics as (

    select
        'statistics' as mention_source,
        release || '#' || source_row as source_key,
        uscc,
        enterprise_name as name_as_served,
        street_code_as_served,
        industry_code,
        -- the month reported, so that the newest month is the one preferred within the source
        period_month::{{ type_instant() }} as updated_at,
        2 as source_rank
    from {{ ref('stg_statistics__key_enterprises') }}

),

restaurants as (

    select
        'restaurants' as mention_source,
        restaurant_id as source_key,
        uscc,
        restaurant_name as name_as_served,
        street_code_as_served,
        null::{{ dbt.type_string() }} as industry_code,
        updated_at,
        3 as source_rank
    from {{ ref('stg_citymgmt__restaurants') }}

),

enforcement_parties as (

    select
        'enforcement_parties' as mention_source,
        case_id as source_key,
        party_uscc as uscc,
        party_enterprise_name as name_as_served,
        -- the place of the violation, not the enterprise's address: not served as the enterprise's street
        null::{{ dbt.type_string() }} as street_code_as_served,
        null::{{ dbt.type_string() }} as industry_code,
        updated_at,
        4 as source_rank
    from {{ ref('stg_enforcement__cases') }}
    where party_type = 'enterprise' or party_uscc is not null

),

credit_records as (

    select
        'credit_records' as mention_source,
        record_id as source_key,
        uscc,
        null::{{ dbt.type_string() }} as name_as_served,
        null::{{ dbt.type_string() }} as street_code_as_served,
        null::{{ dbt.type_string() }} as industry_code,
        updated_at,
        5 as source_rank
    from {{ ref('stg_credit__records') }}

),

unioned as (

    select * from credit_subjects
    union all
    select * from statistics
    union all
    select * from restaurants
    union all
    select * from enforcement_parties
    union all
    select * from credit_records

),

renamed as (

    select
        mention_source,
        source_key,
        uscc,
        {{ enterprise_uscc_rejection_reason('uscc') }} as uscc_rejection_reason,
        {{ enterprise_clean_name('name_as_served') }} as enterprise_name,
        name_as_served,
        street_code_as_served,
        industry_code,
        updated_at,
        source_rank

    from unioned

)

select * from renamed
