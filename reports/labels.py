"""Chinese names for the codes the datasets carry: streets and communities (the district's code lists), domains and
service groups (the dbt project's seeds), channels, visit outcomes and risk rules."""

from __future__ import annotations

import csv
from functools import lru_cache

from gridlake.reference import communities, streets
from gridlake.settings import repo_root

__all__ = ["CHANNELS", "RISK_RULES", "SATISFACTION", "community", "domain", "service_group", "street", "unit_type"]

CHANNELS = {"phone": "电话", "web": "网站", "app": "手机APP", "wechat": "微信", "weibo": "微博",
            "mayor_mailbox": "市长信箱"}
SATISFACTION = {"satisfied": "满意", "basically_satisfied": "基本满意", "unsatisfied": "不满意",
                "unreachable": "未联系上"}
RISK_RULES = {"black_list_in_force": "列入失信惩戒名单", "credit_level_d": "信用等级D",
              "repeat_enforcement_fines": "一年内多次被处罚款", "credit_level_c": "信用等级C",
              "penalty_in_force": "有效行政处罚", "enforcement_fine": "一年内被处罚款",
              "open_enforcement_case": "有在办执法案件", "no_adverse_record": "无不良记录"}
_UNIT_TYPES = {"street": "街道", "department": "部门", "enterprise": "企业"}


def _seed(name: str) -> list[dict[str, str]]:
    with (repo_root() / "dbt_project" / "seeds" / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@lru_cache(maxsize=1)
def _names() -> dict[str, dict[str, str]]:
    return {
        "street": {item.street_code: item.street_name for item in streets()},
        "community": {item.community_code: item.community_name.removesuffix("居委会") for item in communities()},
        "domain": {row["domain_code"]: row["domain_name"] for row in _seed("domains.csv")},
        "group": {row["service_group"]: row["service_group_name"] for row in _seed("service_groups.csv")},
    }


def street(code: str | None) -> str:
    return _names()["street"].get(code or "", code or "未识别街道")


def community(code: str | None) -> str:
    return _names()["community"].get(code or "", code or "未识别社区")


def domain(code: str | None) -> str:
    return _names()["domain"].get(code or "", code or "其他")


def service_group(code: str | None) -> str:
    return _names()["group"].get(code or "", code or "未归类")


def unit_type(code: str | None) -> str:
    return _UNIT_TYPES.get(code or "", code or "")
