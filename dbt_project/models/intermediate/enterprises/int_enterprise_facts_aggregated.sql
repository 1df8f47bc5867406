-- One row per enterprise of int_enterprises_resolved: what the platforms hold about it as of the reference date.
-- The reference date is the Beijing day of the newest updated time in the data the facts come from (credit
-- subjects and records, enforcement cases, statistics releases, restaurants), not the day of the build, so a
-- rebuild on the same lake gives the same facts. A credit record is in force on that day when not revoked,
-- decided on or before it, and valid until it or later (or without end).
with enterprises as (

    select uscc from {{ ref('int_enterprises_resolved') }}

),

subjects as (

    select * from {{ ref('stg_credit__subjects') }}

),

records as (

    select * from {{ ref('stg_credit__records') }}

),

cases as (

    select * from {{ ref('stg_enforcement__cases') }}

),

key_enterprises as (

    select * from {{ ref('stg_statistics__key_enterprises') }}

),

restaurants as (

    select * from {{ ref('stg_citymgmt__restaurants') }}

),

reference as (

    select
        max(updated_at) as reference_at,
        {{ local_date('max(updated_at)') }} as reference_date
    from (
        select updated_at from subjects
        union all
        select updated_at from records
        union all
        select updated_at from cases
        union all
        select published_at as updated_at from key_enterprises
        union all
        select updated_at from restaurants
    ) as served

),

records_in_force as (

    select records.*
    from records
    cross join reference
    where not records.revoked
        and records.decided_on <= reference.reference_date
        and (records.valid_until is null or records.valid_until >= reference.reference_date)

),

credit_records as (

    select
        uscc,
        count(*) filter (where kind = 'penalty') as penalties_in_force,
        coalesce(sum(penalty_cny) filter (where kind = 'penalty'), 0) as penalty_cny_in_force,
        {{ ordered_list('record_id', 'decided_on, record_id', condition="kind = 'penalty'") }}
            as penalty_record_ids_in_force,
        count(*) filter (where kind = 'black_list') as black_lists_in_force,
        {{ ordered_list('record_id', 'decided_on, record_id', condition="kind = 'black_list'") }}
            as black_list_record_ids_in_force,
        max(decided_on) filter (where kind = 'black_list') as black_listed_on,
        count(*) filter (where kind = 'red_list') as red_lists_in_force
    from records_in_force
    group by uscc

),

enforcement as (

    select
        cases.party_uscc as uscc,
        count(*) filter (where cases.status <> 'revoked') as enforcement_cases,
        count(*) filter (where cases.status in ('filed', 'investigating')) as enforcement_open_cases,
        count(*) filter (where cases.status in ('decided', 'closed') and cases.penalty_cny > 0)
            as enforcement_fined_cases,
        count(*) filter (
            where cases.status in ('decided', 'closed')
                and cases.penalty_cny > 0
                and coalesce(cases.decided_at, cases.closed_at, cases.filed_at)
                    > reference.reference_at - {{ interval_of(enterprise_risk_window_days(), 'days') }}
        ) as enforcement_recent_fined_cases,
        coalesce(sum(cases.penalty_cny) filter (where cases.status in ('decided', 'closed')), 0)
            as enforcement_penalty_cny,
        {{ ordered_list('cases.case_id', 'cases.filed_at, cases.case_id', condition="cases.status <> 'revoked'") }}
            as enforcement_case_ids,
        max(cases.filed_at) as last_case_filed_at
    from cases
    cross join reference
    where cases.party_uscc_is_valid
    group by cases.party_uscc

),

latest_figures as (

    select
        uscc,
        period as statistics_period,
        revenue_wan_cny,
        profit_wan_cny,
        tax_wan_cny,
        employees,
        energy_tce
    from key_enterprises
    where uscc_is_valid
    qualify row_number() over (partition by uscc order by period desc) = 1

),

facts as (

    select
        enterprises.uscc,
        reference.reference_date,
        reference.reference_at,
        subjects.credit_level,
        subjects.status as credit_status,
        coalesce(credit_records.penalties_in_force, 0) as penalties_in_force,
        coalesce(credit_records.penalty_cny_in_force, 0) as penalty_cny_in_force,
        coalesce(credit_records.penalty_record_ids_in_force, {{ empty_list() }}) as penalty_record_ids_in_force,
        coalesce(credit_records.black_lists_in_force, 0) as black_lists_in_force,
        coalesce(credit_records.black_list_record_ids_in_force, {{ empty_list() }}) as black_list_record_ids_in_force,
        credit_records.black_listed_on,
        coalesce(credit_records.red_lists_in_force, 0) as red_lists_in_force,
        coalesce(enforcement.enforcement_cases, 0) as enforcement_cases,
        coalesce(enforcement.enforcement_open_cases, 0) as enforcement_open_cases,
        coalesce(enforcement.enforcement_fined_cases, 0) as enforcement_fined_cases,
        coalesce(enforcement.enforcement_recent_fined_cases, 0) as enforcement_recent_fined_cases,
        coalesce(enforcement.enforcement_penalty_cny, 0) as enforcement_penalty_cny,
        coalesce(enforcement.enforcement_case_ids, {{ empty_list() }}) as enforcement_case_ids,
        enforcement.last_case_filed_at,
        latest_figures.statistics_period,
        latest_figures.revenue_wan_cny,
        latest_figures.profit_wan_cny,
        latest_figures.tax_wan_cny,
        latest_figures.employees,
        latest_figures.energy_tce

    from enterprises
    cross join reference
    left join subjects
        on subjects.uscc = enterprises.uscc
    left join credit_records
        on credit_records.uscc = enterprises.uscc
    left join enforcement
        on enforcement.uscc = enterprises.uscc
    left join latest_figures
        on latest_figures.uscc = enterprises.uscc

)

select * from facts
