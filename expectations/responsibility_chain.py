"""responsibility_chain: a (community, service group) chain and one party in charge of it.

Its own rules: the key is the chain and the party; each role sits at its level of the chain (street office 1 ...
frontage enterprise 6); the street office is the community's street, the community the chain's own; counts of
open work are not negative; every open event listed is an event of city_events, every frontage enterprise an
enterprise of enterprise_profile.
"""

from __future__ import annotations

from collections.abc import Mapping

from expectations import reference
from expectations.builders import common, ids_in, in_set, not_null, rows
from expectations.problem_ledger import community_street
from expectations.spec import Check, DatasetSpec, GateContext

__all__ = ["SPEC", "checks"]

SPEC = DatasetSpec(
    name="responsibility_chain",
    key=("chain_party_key",),
    depends_on=("city_events", "enterprise_profile"),
    time_columns=("data_as_of",),
    freshness_column="data_as_of",
)

_LEVELS = {"street_office": 1, "community": 2, "grid": 3, "department": 4, "enforcement_team": 5,
           "frontage_enterprise": 6}


def checks(context: GateContext, columns: Mapping[str, str]) -> list[Check]:
    levels = " ".join(f"when '{role}' then {level}" for role, level in _LEVELS.items())
    return [
        *common(SPEC, context, columns),
        rows("key_matches_grain",
             "select chain_party_key, community_code, service_group, party_role, party_code from {batch} "
             "where chain_party_key is distinct from concat_ws('|', community_code, service_group, party_role, "
             "party_code)",
             title="chain_party_key = community_code|service_group|party_role|party_code",
             failure="主键与粒度列不一致：{n} 行", column="chain_party_key"),
        in_set(SPEC, "street_code", reference.street_codes(), list_name="东城区 17 个街道"),
        in_set(SPEC, "community_code", reference.community_codes(), list_name="东城区 169 个社区"),
        in_set(SPEC, "service_group", reference.service_groups(), list_name="诉求分组（seed service_groups）"),
        in_set(SPEC, "domain_code", reference.domain_codes(), list_name="业务领域（seed domains）"),
        community_street("chain_party_key"),
        in_set(SPEC, "party_role", tuple(_LEVELS), list_name="责任角色", name="in_set:party_role"),
        not_null(SPEC, "party_code"),
        rows("role_level",
             f"select chain_party_key, party_role, chain_level from {{batch}} "
             f"where chain_level is distinct from case party_role {levels} end",
             title="链条层级与角色对应（街道办 1 … 门前三包企业 6）", failure="链条层级与角色不符：{n} 行",
             column="chain_level"),
        rows("party_is_place",
             "select chain_party_key, party_role, party_code, street_code, community_code from {batch} "
             "where (party_role = 'street_office' and party_code is distinct from street_code) "
             "or (party_role = 'community' and party_code is distinct from community_code)",
             title="街道办即社区所属街道，社区即链条所在社区", failure="责任方与链条所在地不符：{n} 行",
             column="party_code"),
        rows("counts_not_negative",
             "select chain_party_key, open_orders, open_grid_cases, open_enforcement_cases, recent_exceedances, "
             "chain_events from {batch} where least(open_orders, open_grid_cases, open_enforcement_cases, "
             "recent_exceedances, chain_events) < 0",
             title="各项在办数量非负", failure="在办数量为负：{n} 行"),
        ids_in(SPEC, "open_work_event_ids", "city_events", "event_id"),
        ids_in(SPEC, "party_code", "enterprise_profile", "uscc", many=False,
               where="party_role = 'frontage_enterprise'"),
    ]
