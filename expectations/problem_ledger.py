"""problem_ledger: a (community, service group) on the long-standing problem ledger or on its way there.

Its own rules: the key is the pair and the street is the community's; the status agrees with the entry flag and
rule; the months observed and complete nest within the lookback; the event counts are the lengths of their
lists; every listed order and grid case is a row of hotline_requests and grid_case_lifecycle, and every repeat
hotspot month a repeat hotspot of hotspots_monthly.
"""

from __future__ import annotations

from collections.abc import Mapping

from expectations import reference
from expectations.builders import common, ids_in, in_set, literal, not_null, rows
from expectations.spec import Check, DatasetSpec, GateContext

__all__ = ["SPEC", "checks"]

SPEC = DatasetSpec(
    name="problem_ledger",
    key=("ledger_key",),
    depends_on=("hotline_requests", "grid_case_lifecycle", "hotspots_monthly"),
    time_columns=("period_month", "lookback_from_month", "first_event_at", "last_event_at", "data_as_of"),
    freshness_column="data_as_of",
)


def community_street(spec_key: str) -> Check:
    """The row's street is its community's (the district's list)."""
    pairs = ", ".join(f"({literal(community)}, {literal(street)})"
                      for community, street in reference.community_streets().items())
    return rows("street_of_community",
                f"select {spec_key}, ledger.community_code, ledger.street_code, listed.street_code as community_street "
                f"from (select * from {{batch}}) as ledger "
                f"join (values {pairs}) as listed(community_code, street_code) "
                f"on listed.community_code = ledger.community_code where listed.street_code <> ledger.street_code",
                title="street_code 为该社区所属街道", failure="街道与社区所属街道不符：{n} 行", column="street_code")


def checks(context: GateContext, columns: Mapping[str, str]) -> list[Check]:
    lookback = int(context.settings.repeats.ledger_lookback_months)
    return [
        *common(SPEC, context, columns),
        rows("key_matches_grain",
             "select ledger_key, community_code, service_group from {batch} "
             "where ledger_key is distinct from community_code || '|' || service_group",
             title="ledger_key = community_code|service_group", failure="主键与粒度列不一致：{n} 行",
             column="ledger_key"),
        in_set(SPEC, "street_code", reference.street_codes(), list_name="东城区 17 个街道"),
        in_set(SPEC, "community_code", reference.community_codes(), list_name="东城区 169 个社区"),
        in_set(SPEC, "service_group", reference.service_groups(), list_name="诉求分组（seed service_groups）"),
        in_set(SPEC, "domain_code", reference.domain_codes(), list_name="业务领域（seed domains）"),
        community_street("ledger_key"),
        in_set(SPEC, "ledger_status", ("entry", "undecided", "not_entry"), list_name="台账状态",
               name="in_set:ledger_status"),
        not_null(SPEC, "ledger_status"),
        rows("status_agrees",
             "select ledger_key, ledger_status, is_ledger_entry, entry_rule from {batch} where "
             "is_ledger_entry is distinct from (ledger_status = 'entry') "
             "or (entry_rule is not null) is distinct from coalesce(is_ledger_entry, false) "
             "or (is_ledger_entry and entry_rule not in ('repeat_hotspot', 'channels', 'both'))",
             title="台账状态、是否入账与入账规则相互一致", failure="台账状态与入账标志或规则不符：{n} 行",
             column="ledger_status"),
        rows("months_within_lookback",
             f"select ledger_key, months_observed, months_complete, hotspot_months from {{batch}} where not "
             f"(0 <= months_complete and months_complete <= months_observed and months_observed <= {lookback} "
             f"and coalesce(hotspot_months, 0) <= {lookback} "
             f"and coalesce(hotspot_months, 0) = coalesce(len(repeat_hotspot_months), 0))",
             title=f"完整月数 ≤ 观测月数 ≤ 回看月数 {lookback}，热点月数与其列表一致",
             failure="月数不在回看期内或彼此不符：{n} 行", column="months_observed"),
        rows("counts_are_lists",
             "select ledger_key, orders, grid_cases, enforcement_cases, exceedances from {batch} where "
             "orders is distinct from len(request_ids) or grid_cases is distinct from len(grid_case_ids) "
             "or enforcement_cases is distinct from len(enforcement_case_ids) "
             "or exceedances is distinct from len(exceedance_ids)",
             title="工单、网格案件、执法案件、超标数等于其编号列表的长度", failure="计数与编号列表不符：{n} 行"),
        ids_in(SPEC, "request_ids", "hotline_requests", "request_id"),
        ids_in(SPEC, "grid_case_ids", "grid_case_lifecycle", "case_id"),
        rows("hotspot_months_in_hotspots",
             "select months.ledger_key, months.month from (select ledger_key, community_code, service_group, "
             "unnest(repeat_hotspot_months) as month from {batch}) as months anti join hotspots_monthly as hotspots "
             "on hotspots.hotspot_kind = 'repeat_hotspot' and hotspots.community_code = months.community_code "
             "and hotspots.service_group = months.service_group and hotspots.period_month = months.month",
             reads=("hotspots_monthly",), column="repeat_hotspot_months",
             title="每个屡治屡返月份都是 hotspots_monthly 中该社区·分组的屡治屡返记录",
             failure="屡治屡返月份在 hotspots_monthly 中找不到：{n} 处"),
    ]
