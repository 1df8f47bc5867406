"""hotline_kpi_daily: a handling unit (street or department) and a day, the month to date at the day's end.

Its own rules, as the mart promises them (marts/hotline/hotline_kpi_daily.sql): the orders of each unit and day
are the orders of the day's month due by that day and held last by the unit (reconciled with hotline_requests,
so an order counted twice or lost fails); and a unit's figures are a running month to date, so once a unit has
a row in a month it has one every following day up to the month's end or the data's day (data_as_of): no day
is missing from that run. A unit with nothing due yet in the month has no row before its first due order.
"""

from __future__ import annotations

from collections.abc import Mapping

from expectations._kpi import kpi_checks, orders_counted_once
from expectations.builders import common, rows
from expectations.spec import Check, DatasetSpec, GateContext

__all__ = ["SPEC", "checks"]

SPEC = DatasetSpec(
    name="hotline_kpi_daily",
    key=("unit_day_key",),
    depends_on=("hotline_requests",),
    time_columns=("kpi_date", "data_as_of"),
    freshness_column="data_as_of",
)


def checks(context: GateContext, columns: Mapping[str, str]) -> list[Check]:
    return [
        *common(SPEC, context, columns),
        rows("key_matches_grain",
             "select unit_day_key, unit_type, unit_code, kpi_date from {batch} where unit_day_key is distinct from "
             "concat_ws('|', unit_type, unit_code, strftime(kpi_date, '%Y-%m-%d'))",
             title="unit_day_key = unit_type|unit_code|kpi_date", failure="主键与粒度列不一致：{n} 行",
             column="unit_day_key"),
        rows("period_month_of_day",
             "select unit_day_key, kpi_date, period_month from {batch} "
             "where period_month is distinct from date_trunc('month', kpi_date)",
             title="period_month 为 kpi_date 所在月的第一天", failure="period_month 与 kpi_date 不符：{n} 行",
             column="period_month"),
        *kpi_checks(SPEC, context, period="kpi_date"),
        orders_counted_once(SPEC, period="kpi_date"),
        rows("no_missing_day",
             "select unit_type, unit_code, period_month, min(kpi_date) as first_day, max(kpi_date) as last_day, "
             "any_value(last_expected) as last_expected, count(distinct kpi_date) as days, "
             "date_diff('day', min(kpi_date), any_value(last_expected)) + 1 as expected_days "
             "from (select *, least(last_day(period_month), "
             "cast(max(data_as_of) over () at time zone 'Asia/Shanghai' as date)) as last_expected from {batch}) "
             "group by unit_type, unit_code, period_month "
             "having count(distinct kpi_date) <> date_diff('day', min(kpi_date), any_value(last_expected)) + 1 "
             "or max(kpi_date) <> any_value(last_expected) order by 1, 2, 3",
             title="每个单位在月内自首个到期日起每天都有一行，直到月末或数据截至日，不缺天",
             failure="有单位缺少日期（月累计应逐日连续）：{n} 个单位·月", column="kpi_date"),
    ]
