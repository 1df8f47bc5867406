"""enterprise_profile: one enterprise (a valid unified social credit code) and what is held about it.

Its own rules: the code has the GB 32100-2015 form; the risk level is one of low, medium, high and its rule is
never null; the rule is the first of the mart's ordered rules that the row's own facts make hold (macro
enterprise_risk_rules, with Settings.risk), and gives the level; the counts nest and agree with their id lists.
"""

from __future__ import annotations

from collections.abc import Mapping

from expectations import reference
from expectations.builders import common, in_set, not_null, rows
from expectations.spec import Check, DatasetSpec, GateContext

__all__ = ["SPEC", "checks"]

SPEC = DatasetSpec(
    name="enterprise_profile",
    key=("uscc",),
    depends_on=(),
    time_columns=("black_listed_on", "last_case_filed_at", "reference_date"),
    freshness_column="reference_date",
)

_LEVELS = {
    "black_list_in_force": "high", "credit_level_d": "high", "repeat_enforcement_fines": "high",
    "credit_level_c": "medium", "penalty_in_force": "medium", "enforcement_fine": "medium",
    "open_enforcement_case": "medium", "no_adverse_record": "low",
}


def checks(context: GateContext, columns: Mapping[str, str]) -> list[Check]:
    repeat_fines = int(context.settings.risk.repeat_fines)
    first_rule = (
        "case when black_lists_in_force > 0 then 'black_list_in_force' "
        "when credit_level = 'D' then 'credit_level_d' "
        f"when enforcement_recent_fined_cases >= {repeat_fines} then 'repeat_enforcement_fines' "
        "when credit_level = 'C' then 'credit_level_c' "
        "when penalties_in_force > 0 then 'penalty_in_force' "
        "when enforcement_recent_fined_cases > 0 then 'enforcement_fine' "
        "when enforcement_open_cases > 0 then 'open_enforcement_case' else 'no_adverse_record' end"
    )
    level = "case risk_rule " + " ".join(f"when '{rule}' then '{lvl}'" for rule, lvl in _LEVELS.items()) + " end"
    return [
        *common(SPEC, context, columns),
        rows("uscc_format",
             "select uscc from {batch} where not regexp_matches(uscc, "
             "'^[0-9A-HJ-NPQRTUWXY]{{2}}[0-9]{{6}}[0-9A-HJ-NPQRTUWXY]{{10}}$')",
             title="统一社会信用代码为 18 位 GB 32100-2015 格式", failure="统一社会信用代码格式不符：{n} 行",
             column="uscc"),
        in_set(SPEC, "street_code", reference.street_codes(), list_name="东城区 17 个街道"),
        in_set(SPEC, "credit_level", ("A", "B", "C", "D"), list_name="信用等级 (A-D)", name="in_set:credit_level"),
        in_set(SPEC, "risk_level", ("low", "medium", "high"), list_name="风险等级 (low, medium, high)",
               name="in_set:risk_level"),
        not_null(SPEC, "risk_level"),
        in_set(SPEC, "risk_rule", tuple(_LEVELS), list_name="风险规则", name="in_set:risk_rule"),
        not_null(SPEC, "risk_rule"),
        rows("risk_rule_from_facts",
             f"select uscc, risk_level, risk_rule, {first_rule} as expected_rule from {{batch}} "
             f"where risk_rule is distinct from {first_rule} or risk_level is distinct from {level}",
             title=f"风险规则为按序第一条成立的规则（重复罚款阈值 {repeat_fines} 件），风险等级为该规则的等级",
             failure="风险等级或规则与企业自身记录不符：{n} 行", column="risk_rule"),
        rows("counts_consistent",
             "select uscc, enforcement_cases, enforcement_open_cases, enforcement_fined_cases, "
             "enforcement_recent_fined_cases, penalties_in_force, black_lists_in_force from {batch} where "
             "enforcement_open_cases > enforcement_cases or enforcement_fined_cases > enforcement_cases "
             "or enforcement_recent_fined_cases > enforcement_fined_cases "
             "or least(enforcement_cases, enforcement_open_cases, enforcement_fined_cases, "
             "enforcement_recent_fined_cases, penalties_in_force, black_lists_in_force) < 0 "
             "or penalties_in_force <> len(penalty_record_ids_in_force) "
             "or black_lists_in_force <> len(black_list_record_ids_in_force) "
             "or enforcement_cases <> len(enforcement_case_ids)",
             title="执法与处罚计数非负、逐层包含，并与其编号列表一致", failure="计数之间不自洽：{n} 行"),
    ]
