"""seasonal_patterns: a service group, a pattern (month of year, weekday, hour) and a bucket.

Its own rules: every group of the seed has its 43 buckets (12 months, 7 weekdays, 24 hours); a group's buckets
of a pattern add up to its orders, which are its orders in hotline_requests, and their shares to 1.
"""

from __future__ import annotations

from collections.abc import Mapping

from expectations import reference
from expectations.builders import between, common, in_set, literal, rows
from expectations.spec import Check, DatasetSpec, GateContext

__all__ = ["SPEC", "checks"]

SPEC = DatasetSpec(
    name="seasonal_patterns",
    key=("seasonal_pattern_key",),
    depends_on=("hotline_requests",),
    time_columns=("observed_from", "observed_to"),
    freshness_column="observed_to",
)

_BUCKETS = {"month_of_year": (1, 12), "day_of_week": (1, 7), "hour_of_day": (0, 23)}


def checks(context: GateContext, columns: Mapping[str, str]) -> list[Check]:
    groups = ", ".join(f"({literal(group)})" for group in reference.service_groups())
    patterns = ", ".join(f"({literal(name)}, {low}, {high})" for name, (low, high) in _BUCKETS.items())
    return [
        *common(SPEC, context, columns),
        in_set(SPEC, "service_group", reference.service_groups(), list_name="诉求分组（seed service_groups）"),
        in_set(SPEC, "pattern", tuple(_BUCKETS), list_name="模式 (month_of_year, day_of_week, hour_of_day)",
               name="in_set:pattern"),
        rows("every_bucket",
             f"select groups.service_group, patterns.pattern, buckets.bucket from (values {groups}) as "
             f"groups(service_group) cross join (values {patterns}) as patterns(pattern, low, high) cross join "
             f"lateral (select unnest(generate_series(patterns.low, patterns.high)) as bucket) as buckets "
             f"anti join (select * from {{batch}}) as present on present.service_group = groups.service_group "
             f"and present.pattern = patterns.pattern and present.bucket = buckets.bucket order by 1, 2, 3",
             title="每个诉求分组都有 43 个时段（12 个月、7 个星期日、24 个小时）", failure="缺少时段：{n} 个",
             column="bucket"),
        between(SPEC, "share_of_orders", min_value=0.0, max_value=1.0, name="rate_between:share_of_orders",
                label="占比 share_of_orders"),
        rows("buckets_add_up",
             "select service_group, pattern, sum(orders) as orders, any_value(group_orders) as group_orders, "
             "sum(share_of_orders) as shares from {batch} group by service_group, pattern "
             "having sum(orders) <> any_value(group_orders) or count(distinct group_orders) > 1 "
             "or (sum(orders) > 0 and abs(sum(share_of_orders) - 1) > 1e-9) order by 1, 2",
             title="各时段工单数之和等于分组工单数，占比之和为 1", failure="时段之和与分组总数不符：{n} 个分组·模式",
             column="orders"),
        rows("group_orders_match_requests",
             "select service_group, group_orders, requests from (select service_group, any_value(group_orders) "
             "as group_orders from {batch} group by all) as groups left join (select service_group, count(*) "
             "as requests from hotline_requests group by all) as counted using (service_group) "
             "where group_orders is distinct from coalesce(requests, 0) order by 1",
             reads=("hotline_requests",), column="group_orders",
             title="分组工单数等于 hotline_requests 中该分组的工单数",
             failure="分组工单数与 hotline_requests 不符：{n} 个分组"),
    ]
