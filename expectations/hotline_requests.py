"""hotline_requests: one 12345 work order in its latest state, with its SLA flags, return visit and period.

Its own rules: the order's code values come from the platform's and the district's lists; counts and times
are not negative; an order counts in the rates only when it is neither excluded, a repeat, nor a consult or a
praise (kpis.md), and it counts in the month its resolve deadline falls in.
"""

from __future__ import annotations

from collections.abc import Mapping

from expectations import reference
from expectations.builders import between, common, in_set, rows
from expectations.spec import Check, DatasetSpec, GateContext

__all__ = ["SPEC", "checks"]

SPEC = DatasetSpec(
    name="hotline_requests",
    key=("request_id",),
    depends_on=(),
    # deadlines (respond_deadline, resolve_deadline, deadline_date) lie ahead by design: not event times
    time_columns=("received_at", "responded_at", "resolved_at", "updated_at", "final_accepted_at",
                  "return_visited_at", "data_as_of"),
    freshness_column="data_as_of",
)


def checks(context: GateContext, columns: Mapping[str, str]) -> list[Check]:
    return [
        *common(SPEC, context, columns),
        in_set(SPEC, "status", ("open", "closed"), list_name="工单状态 (open, closed)", name="in_set:status"),
        in_set(SPEC, "urgency", ("normal", "urgent", "utility", "complex"), list_name="紧急程度",
               name="in_set:urgency"),
        in_set(SPEC, "request_type", ("complaint", "report", "help", "consult", "suggestion", "praise"),
               list_name="诉求类型", name="in_set:request_type"),
        in_set(SPEC, "final_unit_type", ("street", "department", "enterprise"), list_name="承办单位类型",
               name="in_set:final_unit_type"),
        in_set(SPEC, "return_visit_satisfaction", ("satisfied", "basically_satisfied", "unsatisfied", "unreachable"),
               list_name="回访结果", name="in_set:return_visit_satisfaction"),
        in_set(SPEC, "repeat_rule", ("linked", "same_complainant"), list_name="重复件规则", name="in_set:repeat_rule"),
        in_set(SPEC, "street_code", reference.street_codes(), list_name="东城区 17 个街道"),
        in_set(SPEC, "community_code", reference.community_codes(), list_name="东城区 169 个社区"),
        in_set(SPEC, "service_group", reference.service_groups(), list_name="诉求分组（seed service_groups）"),
        in_set(SPEC, "domain_code", reference.domain_codes(), list_name="业务领域（seed domains）"),
        in_set(SPEC, "final_unit_code", reference.street_codes(), list_name="东城区 17 个街道",
               where="final_unit_type = 'street'"),
        between(SPEC, "transfer_hours", min_value=0.0, name="not_negative:transfer_hours", label="流转耗时"),
        between(SPEC, "dispatch_count", min_value=0, name="not_negative:dispatch_count", label="派单次数"),
        rows("returns_within_dispatches",
             "select request_id, dispatch_count, return_count from {batch} "
             "where return_count < 0 or return_count > dispatch_count",
             title="退单次数在 0 与派单次数之间", failure="退单次数多于派单次数或为负：{n} 行", column="return_count"),
        rows("counted_in_rates_rule",
             "select request_id, is_counted_in_rates, is_excluded, is_repeat, request_type from {batch} "
             "where is_counted_in_rates is distinct from (not (is_excluded or is_repeat "
             "or request_type in ('consult', 'praise')))",
             title="计入三率 = 非特例剔除、非重复件、非咨询或表扬", failure="是否计入三率与规则不符：{n} 行",
             column="is_counted_in_rates"),
        rows("period_of_deadline",
             "select request_id, deadline_date, period_month from {batch} "
             "where period_month is distinct from date_trunc('month', deadline_date)",
             title="period_month 为办理时限所在月", failure="工单所属月份与办理时限不符：{n} 行",
             column="period_month"),
    ]
