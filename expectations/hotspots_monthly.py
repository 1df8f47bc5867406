"""hotspots_monthly: a hotspot kind, subject and month: high-frequency communities, grids and services, and
repeat hotspots (屡治屡返).

Its own rules: a high-frequency subject's orders are the hotline orders received in the month (reconciled with
hotline_requests for communities and services; grids are located by a model hotline_requests does not carry),
its rank is the competition rank by orders and within the top N in force; a repeat hotspot lists at least the
minimum orders of its window, one of them returned after a resolved one, every one an order of hotline_requests;
the month-on-month change is the difference of the counts.
"""

from __future__ import annotations

from collections.abc import Mapping

from expectations import reference
from expectations.builders import common, ids_in, in_set, rows
from expectations.spec import Check, DatasetSpec, GateContext

__all__ = ["SPEC", "checks"]

SPEC = DatasetSpec(
    name="hotspots_monthly",
    key=("hotspot_key",),
    depends_on=("hotline_requests",),
    time_columns=("period_month", "window_first_received_at", "window_last_received_at", "first_qualified_at",
                  "data_as_of"),
    freshness_column="data_as_of",
)

_KINDS = ("high_frequency_community", "high_frequency_grid", "high_frequency_service", "repeat_hotspot")


def _received(subject: str, kind: str) -> Check:
    return rows(
        f"orders_match_requests:{kind}",
        f"select hotspot_key, orders, received from (select hotspot_key, orders, (select count(*) from "
        f"hotline_requests as requests where requests.{subject} = hotspot.{subject} and date_trunc('month', "
        f"requests.received_at at time zone 'Asia/Shanghai') = hotspot.period_month) as received "
        f"from (select * from {{batch}}) as hotspot where hotspot_kind = '{kind}') where orders <> received",
        reads=("hotline_requests",), column="orders",
        title=f"{kind} 的工单数等于 hotline_requests 中当月受理的工单数",
        failure="工单数与 hotline_requests 当月受理数不符：{n} 行",
    )


def checks(context: GateContext, columns: Mapping[str, str]) -> list[Check]:
    rules = context.settings.repeats
    return [
        *common(SPEC, context, columns),
        in_set(SPEC, "hotspot_kind", _KINDS, list_name="热点类型", name="in_set:hotspot_kind"),
        in_set(SPEC, "street_code", reference.street_codes(), list_name="东城区 17 个街道"),
        in_set(SPEC, "community_code", reference.community_codes(), list_name="东城区 169 个社区"),
        in_set(SPEC, "service_group", reference.service_groups(), list_name="诉求分组（seed service_groups）"),
        rows("frequency_rank",
             f"select hotspot_key, orders, frequency_rank, competition_rank from (select *, rank() over (partition "
             f"by hotspot_kind, period_month order by orders desc) as competition_rank from {{batch}} "
             f"where hotspot_kind <> 'repeat_hotspot') where frequency_rank is distinct from competition_rank "
             f"or frequency_rank > {int(rules.top_n)}",
             title=f"高频排名为按工单数的并列排名（1, 2, 2, 4），且在前 {rules.top_n} 名之内",
             failure="高频排名与工单数不符或超出前 N 名：{n} 行", column="frequency_rank"),
        rows("repeat_hotspot_window",
             f"select hotspot_key, hotspot_orders, returned_orders, len(request_ids) as listed from {{batch}} "
             f"where hotspot_kind = 'repeat_hotspot' and not (hotspot_orders >= {int(rules.hotspot_min_orders)} "
             f"and returned_orders >= 1 and returned_orders <= hotspot_orders and hotspot_orders = len(request_ids))",
             title=(f"屡治屡返：窗口内至少 {rules.hotspot_min_orders} 单、其中至少 1 单在已解决后再次出现，"
                    "列出的工单数与之相符"),
             failure="屡治屡返记录与其窗口工单不符：{n} 行", column="hotspot_orders"),
        rows("first_qualified_at",
             "select hotspot_key, period_month, first_qualified_at, window_first_received_at, window_last_received_at "
             "from {batch} where (hotspot_kind = 'repeat_hotspot') is distinct from (first_qualified_at is not null) "
             "or date_trunc('month', first_qualified_at at time zone 'Asia/Shanghai') <> period_month "
             "or first_qualified_at < window_first_received_at or first_qualified_at > window_last_received_at",
             title="屡治屡返的形成时间在当月、其窗口之内（其他类型为空）",
             failure="屡治屡返形成时间不在当月或窗口之外：{n} 行", column="first_qualified_at"),
        rows("change_is_difference",
             "select hotspot_key, orders, previous_month_orders, change_vs_previous_month, previous_year_orders, "
             "change_vs_previous_year from {batch} where change_vs_previous_month is distinct from "
             "orders - previous_month_orders or change_vs_previous_year is distinct from orders - previous_year_orders",
             title="环比、同比变化 = 本月工单数 − 对比月工单数", failure="变化量与工单数不符：{n} 行"),
        _received("community_code", "high_frequency_community"),
        _received("service_code", "high_frequency_service"),
        ids_in(SPEC, "request_ids", "hotline_requests", "request_id"),
    ]
