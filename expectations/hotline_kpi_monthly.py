"""hotline_kpi_monthly: a handling unit (street or department) and the month its orders' deadlines fall in.

Its own rules: each unit's orders of the month are its due orders held last (reconciled with hotline_requests),
and the month agrees with the daily mart's last day of that month for the figures that do not depend on when a
return visit was made (orders, counted, responded in time, repeats, excluded, overdue, late responses,
dispatches, returns); the visits may differ, the monthly counting the visits made after the month too.
"""

from __future__ import annotations

from collections.abc import Mapping

from expectations._kpi import kpi_checks, orders_counted_once
from expectations.builders import common, rows
from expectations.spec import Check, DatasetSpec, GateContext

__all__ = ["SPEC", "checks"]

SPEC = DatasetSpec(
    name="hotline_kpi_monthly",
    key=("unit_month_key",),
    depends_on=("hotline_requests", "hotline_kpi_daily"),
    time_columns=("period_month", "data_as_of"),
    freshness_column="data_as_of",
)

# figures that a month's last day of hotline_kpi_daily must carry alike
_SAME_AS_DAILY = ("orders", "orders_counted", "responded_in_time", "repeat_orders", "excluded_orders",
                  "overdue_orders", "late_response_orders", "dispatches", "returns")


def checks(context: GateContext, columns: Mapping[str, str]) -> list[Check]:
    differs = " or ".join(f"monthly.{name} is distinct from daily.{name}" for name in _SAME_AS_DAILY)
    shown = ", ".join(f"monthly.{name}, daily.{name} as daily_{name}" for name in _SAME_AS_DAILY[:3])
    return [
        *common(SPEC, context, columns),
        rows("key_matches_grain",
             "select unit_month_key, unit_type, unit_code, period_month from {batch} where unit_month_key is "
             "distinct from concat_ws('|', unit_type, unit_code, strftime(period_month, '%Y-%m'))",
             title="unit_month_key = unit_type|unit_code|YYYY-MM", failure="主键与粒度列不一致：{n} 行",
             column="unit_month_key"),
        *kpi_checks(SPEC, context, period="period_month"),
        orders_counted_once(SPEC, period="period_month"),
        rows("consistent_with_daily",
             f"select coalesce(monthly.unit_type, daily.unit_type) as unit_type, "
             f"coalesce(monthly.unit_code, daily.unit_code) as unit_code, "
             f"coalesce(monthly.period_month, daily.period_month) as period_month, {shown} "
             "from (select * from {batch}) as monthly full outer join (select * from hotline_kpi_daily "
             "qualify kpi_date = max(kpi_date) over (partition by unit_type, unit_code, period_month)) as daily "
             "on daily.unit_type = monthly.unit_type and daily.unit_code = monthly.unit_code "
             f"and daily.period_month = monthly.period_month where {differs} order by 1, 2, 3",
             reads=("hotline_kpi_daily",),
             title=("每个单位每月的工单、计入、及时响应、重复、剔除、超期、退单等数"
                    "与 hotline_kpi_daily 当月最后一天一致"),
             failure="与日报（hotline_kpi_daily 当月最后一天）不一致：{n} 个单位·月"),
    ]
