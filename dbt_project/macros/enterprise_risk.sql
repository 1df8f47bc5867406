{#- The limits of the enterprise risk rule (marts/enterprises/enterprise_profile; kpis.md "Enterprise profile"
    names the inputs but no limits): settings (gridlake/settings.py, `risk`), passed as vars. -#}

{#- How far back from the reference date an enforcement fine counts as recent. -#}
{% macro enterprise_risk_window_days() -%}
    {{ var('enterprise_risk_window_days') }}
{%- endmacro %}

{#- Recent enforcement fines that make an enterprise high risk on their own (repeated violations). -#}
{% macro enterprise_risk_repeat_fines() -%}
    {{ var('enterprise_risk_repeat_fines') }}
{%- endmacro %}

{#- The risk rule, in the order it is read: the first rule that holds names the enterprise's risk level
    (`risk_rule`), every rule that holds is listed (`risk_rules_fired`); none holds: low, `no_adverse_record`.
    Each condition reads columns of int_enterprise_facts_aggregated (as `facts`), all as of its reference date.
      high   black_list_in_force        a black-list (失信惩戒) record in force
             credit_level_d             the credit platform rates it D, its worst level
             repeat_enforcement_fines   fined in 2 or more enforcement cases decided in the last 365 days
      medium credit_level_c             rated C
             penalty_in_force           an administrative penalty in force on its credit file
             enforcement_fine           fined in an enforcement case decided in the last 365 days
             open_enforcement_case      an enforcement case against it still filed or under investigation -#}
{% macro enterprise_risk_rules() -%}
    {{ return([
        {'rule': 'black_list_in_force', 'level': 'high', 'condition': 'facts.black_lists_in_force > 0'},
        {'rule': 'credit_level_d', 'level': 'high', 'condition': "facts.credit_level = 'D'"},
        {'rule': 'repeat_enforcement_fines', 'level': 'high',
         'condition': 'facts.enforcement_recent_fined_cases >= ' ~ enterprise_risk_repeat_fines()},
        {'rule': 'credit_level_c', 'level': 'medium', 'condition': "facts.credit_level = 'C'"},
        {'rule': 'penalty_in_force', 'level': 'medium', 'condition': 'facts.penalties_in_force > 0'},
        {'rule': 'enforcement_fine', 'level': 'medium', 'condition': 'facts.enforcement_recent_fined_cases > 0'},
        {'rule': 'open_enforcement_case', 'level': 'medium', 'condition': 'facts.enforcement_open_cases > 0'},
    ]) }}
{%- endmacro %}
