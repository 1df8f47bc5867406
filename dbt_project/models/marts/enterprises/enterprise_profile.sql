-- One row per enterprise (uscc) of the district's platforms: who it is (the reconciled name, the street, the
-- industry, the platforms that know it), its credit level and the credit records in force, its enforcement cases
-- and fines, its latest statistics figures, and a risk level with the rule that produced it (macro
-- enterprise_risk_rules), all as of the reference date of int_enterprise_facts_aggregated.
{%- set rules = enterprise_risk_rules() %}
with enterprises as (

    select * from {{ ref('int_enterprises_resolved') }}

),

facts as (

    select * from {{ ref('int_enterprise_facts_aggregated') }}

),

assessed as (

    select
        facts.*,
        {%- set fired = [] %}
        {%- for rule in rules %}
            {%- do fired.append("case when " ~ rule.condition ~ " then '" ~ rule.rule ~ "' end") %}
        {%- endfor %}
        {{ list_present(fired) }} as risk_rules_fired
    from facts

),

profiled as (

    select
        enterprises.uscc,
        enterprises.enterprise_name,
        enterprises.name_source,
        enterprises.street_code,
        enterprises.street_name,
        enterprises.street_as_served,
        enterprises.street_source,
        enterprises.industry_code,
        enterprises.in_restaurants as is_monitored_restaurant,
        enterprises.mention_sources,
        enterprises.successor_uscc,
        enterprises.predecessor_uscc,
        assessed.credit_level,
        assessed.credit_status,
        assessed.penalties_in_force,
        assessed.penalty_cny_in_force,
        assessed.penalty_record_ids_in_force,
        assessed.black_lists_in_force,
        assessed.black_list_record_ids_in_force,
        assessed.black_listed_on,
        assessed.enforcement_cases,
        assessed.enforcement_open_cases,
        assessed.enforcement_fined_cases,
        assessed.enforcement_recent_fined_cases,
        assessed.enforcement_penalty_cny,
        assessed.enforcement_case_ids,
        assessed.last_case_filed_at,
        assessed.statistics_period,
        assessed.revenue_wan_cny,
        assessed.profit_wan_cny,
        assessed.tax_wan_cny,
        assessed.employees,
        assessed.energy_tce,
        case coalesce({{ list_element('assessed.risk_rules_fired', 1) }}, 'no_adverse_record')
            {%- for rule in rules %}
            when '{{ rule.rule }}' then '{{ rule.level }}'
            {%- endfor %}
            else 'low'
        end as risk_level,
        coalesce({{ list_element('assessed.risk_rules_fired', 1) }}, 'no_adverse_record') as risk_rule,
        assessed.risk_rules_fired,
        assessed.reference_date

    from enterprises
    inner join assessed
        on assessed.uscc = enterprises.uscc

)

select * from profiled
