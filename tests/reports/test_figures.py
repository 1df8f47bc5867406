"""Each report's figures against the published datasets, for a generated period.

The daily bulletin issued on 20 November 2026, the weekly return-visit report of 23 November and the monthly
analysis of 1 December are written from a shared zone published from the test district's warehouse, and read back
from the HTML people see (tests/reports/pages.py). Every table must show, row for row in the order the report's
ORDER BY gives, what an independent recomputation in pandas finds in the datasets' current versions: each cell's raw
value (floats approximately) and its text as ``reports.model.display`` writes the column's kind (the kinds come from
the report's record). The recomputation follows the definitions the report modules' docstrings and Chinese notes
state and the datasets' column meanings (dbt_project/models/marts/*/_*__models.yml); of the reports' code it uses
only ``display`` and the Chinese names of codes (reports.labels: streets, communities, groups, domains, channels,
unit types, risk rules).

The tests also check that the tables of each page are exactly those expected here (a new table cannot go
unchecked), that the period's tables have rows (the comparison is not vacuous), that no section is withheld, and
that every figure, table or chart, cites each of its datasets with the version the catalog holds as current.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from gridlake.settings import Settings
from gridlake.shared import SharedZone
from reports import labels, write_report
from reports.model import display
from tests.reports.conftest import DAILY, MONTHLY, WEEKLY
from tests.reports.pages import Figure, Page, parse_page, read_page

Row = dict[str, Any]
KINDS = ("daily", "weekly", "monthly")
ISSUED = {"daily": DAILY, "weekly": WEEKLY, "monthly": MONTHLY}
# Tables the test district cannot fill: the long-standing problem ledger needs three months of hotspots or channels,
# the district's data span ten days. Every other table must have rows, or the comparison would prove nothing.
MAY_BE_EMPTY = {"monthly.ledger"}

# The reports' words for what the datasets hold as codes or flags (the modules' notes and the issue's terms)
REASONS = ("诉求未解决", "办理超期", "响应不及时", "多次转派", "已解决仍不满意")
ENTRY_RULES = {"repeat_hotspot": "屡治屡返", "channels": "多渠道持续反映", "both": "两项均满足"}
LEDGER_CHANNELS = {"hotline": "热线", "grid": "网格", "enforcement": "执法", "sensor": "感知设备"}
WEEKDAYS = {1: "周一", 2: "周二", 3: "周三", 4: "周四", 5: "周五", 6: "周六", 7: "周日"}
STEPS = ("file_hours", "dispatch_hours", "handle_hours", "feedback_hours", "verify_close_hours", "evaluate_hours")
COMPARE = ("previous_month_orders", "change_vs_previous_month", "previous_year_orders", "change_vs_previous_year")


# --- the period and the datasets -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """The days a report covers, ``start`` to ``end`` (exclusive), Beijing days."""

    start: date
    end: date
    tz: ZoneInfo

    @property
    def starts_at(self) -> datetime:
        return datetime.combine(self.start, time(0), self.tz)

    @property
    def ends_at(self) -> datetime:
        return datetime.combine(self.end, time(0), self.tz)


def window(kind: str, tz: ZoneInfo) -> Window:
    """The period of the report issued on ``ISSUED[kind]``: the day before, the Monday-to-Sunday week before the
    issue date's week, the month before."""
    issued = ISSUED[kind]
    if kind == "daily":
        return Window(issued - timedelta(days=1), issued, tz)
    if kind == "weekly":
        monday = issued - timedelta(days=issued.weekday())
        return Window(monday - timedelta(days=7), monday, tz)
    first = issued.replace(day=1)
    return Window((first - timedelta(days=1)).replace(day=1), first, tz)


class Datasets:
    """The published datasets' current versions as pandas frames, each read once."""

    def __init__(self, settings: Settings) -> None:
        self.zone = SharedZone.default(settings)
        self.tz = ZoneInfo(settings.timezone)
        self.settings = settings
        self._frames: dict[str, pd.DataFrame] = {}

    def __getitem__(self, name: str) -> pd.DataFrame:
        if name not in self._frames:
            table = self.zone.read(name)
            assert table is not None, f"{name} is not published"
            self._frames[name] = table.to_pandas()
        return self._frames[name]

    def day(self, column: pd.Series) -> pd.Series:
        """The Beijing day of each instant of a timestamp column (NaT where there is none)."""
        return column.dt.tz_convert(self.tz).dt.date


def plain(value: Any, tz: ZoneInfo) -> Any:
    """A frame's value as the report's rows hold it: None for a missing one, Python numbers, Beijing datetimes."""
    if isinstance(value, list | tuple | np.ndarray):
        return [plain(item, tz) for item in value]
    if value is None or value is pd.NaT or pd.isna(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime().astimezone(tz)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def records(frame: pd.DataFrame, tz: ZoneInfo) -> list[Row]:
    return [{key: plain(value, tz) for key, value in row.items()} for row in frame.to_dict("records")]


def integer(value: Any) -> int | None:
    """A count or rank held as a float (an integer column with nulls reads as float64)."""
    return None if value is None else int(value)


def flag(frame: pd.DataFrame, column: str) -> pd.Series:
    """True where the boolean column is true (null is not true)."""
    return frame[column].eq(True)


def count(mask: pd.Series) -> int:
    return int(mask.sum())


def total(column: pd.Series) -> int | None:
    """The sum of a count column, None when it holds no value (SQL's sum)."""
    return None if column.notna().sum() == 0 else int(column.sum())


def mean(column: pd.Series) -> float | None:
    """The mean of the values there are, None without any (SQL's avg)."""
    values = column.dropna().astype(float)
    return None if values.empty else float(values.mean())


def groups(frame: pd.DataFrame, tz: ZoneInfo, *columns: str) -> list[tuple[tuple[Any, ...], pd.DataFrame]]:
    """The frame's rows by the values of ``columns``, missing values (None) a group of their own."""
    keyed = frame.groupby(list(columns), dropna=False, sort=False)
    return [(tuple(plain(item, tz) for item in key), part) for key, part in keyed]


def latest(part: pd.DataFrame, value: str, by: str) -> Any:
    """``value`` of the row with the latest ``by``."""
    return part.loc[part[by].idxmax(), value]


def ordered(rows: list[Row], *keys: str) -> list[Row]:
    """Rows sorted as SQL's ORDER BY the keys (``-key`` descending), nulls last either way."""
    result = list(rows)
    for key in reversed(keys):
        name = key.lstrip("-")
        present = sorted((row for row in result if row[name] is not None), key=lambda row: row[name],
                         reverse=key.startswith("-"))
        result = present + [row for row in result if row[name] is None]
    return result


def pick(rows: list[Row], *columns: str) -> list[Row]:
    """The shown columns of rows."""
    return [{column: row[column] for column in columns} for row in rows]


def named(row: Row) -> Row:
    """A row with the Chinese names of its street, community and service group, where it has those codes."""
    if "street_code" in row:
        row["street_name"] = labels.street(row["street_code"])
    if "community_code" in row:
        row["community_name"] = labels.community(row["community_code"])
    if "service_group" in row:
        row["group_name"] = labels.service_group(row["service_group"])
    return row


@dataclass
class Expected:
    """What a table block should show: its rows in order (shown columns only), and its title where a dataset's
    value is part of it."""

    rows: list[Row]
    title: str | None = None


# --- 每日专报 --------------------------------------------------------------------------------------------------------


def daily(data: Datasets, period: Window) -> dict[str, Expected]:
    tz, day = data.tz, period.start
    before = day - timedelta(days=1)
    requests = data["hotline_requests"]
    received = data.day(requests["received_at"])
    on_day, on_before = requests[received == day], requests[received == before]

    # 一、yesterday's orders: received, resolved and called back that day; by channel, group and matter
    overview = {
        "received": len(on_day), "received_change": len(on_day) - len(on_before),
        "urgent": count(on_day["urgency"].isin(["urgent", "utility"])),
        "resolved": count(data.day(requests["resolved_at"]) == day),
        "visited": count(data.day(requests["return_visited_at"]) == day),
    }
    channels = [{"channel": channel, "channel_name": labels.CHANNELS.get(channel, channel or "未知"),
                 "orders": len(part), "share": len(part) / len(on_day)}
                for (channel,), part in groups(on_day, tz, "channel")]
    by_group = [named({"service_group": group, "orders": len(part)})
                for (group,), part in groups(on_day, tz, "service_group")]
    services = [{"service_code": code, "service_name": plain(latest(part, "service_name", "received_at"), tz),
                 "orders": len(part)} for (code,), part in groups(on_day, tz, "service_code")]

    # 二、三、the month to date of each unit as it stood at the end of the day, against the day before (same month)
    kpi = data["hotline_kpi_daily"]
    today = records(kpi[kpi["kpi_date"] == day], tz)
    yesterday = {(row["unit_type"], row["unit_code"]): row
                 for row in records(kpi[(kpi["kpi_date"] == before) & (kpi["period_month"] == day.replace(day=1))],
                                    tz)}
    for row in today:
        previous = yesterday.get((row["unit_type"], row["unit_code"]))
        row["unit_rank"] = integer(row["unit_rank"])
        previous_rank = integer(previous["unit_rank"]) if previous else None
        row["rank_change"] = (previous_rank - row["unit_rank"]
                              if previous_rank is not None and row["unit_rank"] is not None else None)
        row["overdue_change"] = row["overdue_orders"] - (previous["overdue_orders"] if previous else 0)
        row["late_change"] = row["late_response_orders"] - (previous["late_response_orders"] if previous else 0)
        row["unit_type_name"] = labels.unit_type(row["unit_type"])
    rate_columns = ("unit_rank", "unit_name", "orders_counted", "response_rate", "resolution_rate",
                    "satisfaction_rate", "composite_score", "rank_change")
    overdue = [row for row in today if row["overdue_orders"] > 0 or row["late_response_orders"] > 0]

    # 四、repeat hotspots that first qualified yesterday, and the month's count
    hotspots = data["hotspots_monthly"]
    repeat = hotspots[hotspots["hotspot_kind"] == "repeat_hotspot"]
    new = [named(row) for row in records(repeat[data.day(repeat["first_qualified_at"]) == day], tz)]
    for row in new:
        row["hotspot_orders"], row["returned_orders"] = integer(row["hotspot_orders"]), integer(row["returned_orders"])

    # 五、sensors: the domains with a threshold that had rows yesterday, summed over streets
    iot = data["iot_domain_daily"]
    rated = iot[iot["exceedance_readings"].notna()]
    sensors = []
    for (domain,), part in groups(rated[rated["activity_date"] == day], tz, "domain_code"):
        previous = rated[(rated["activity_date"] == before) & (rated["domain_code"] == domain)]
        episodes = total(part["exceedance_episodes"]) or 0
        sensors.append({
            "domain_code": domain, "domain_name": labels.domain(domain), "episodes": episodes,
            "episodes_change": episodes - (total(previous["exceedance_episodes"]) or 0),
            "exceedance_readings": total(part["exceedance_readings"]), "valid_readings": total(part["valid_readings"]),
            "offline_gaps": total(part["offline_gaps"])})

    # 六、the matters received more often yesterday than the day before
    rising = []
    two_days = requests[(received == day) | (received == before)]
    for (code,), part in groups(two_days, tz, "service_code"):
        days = data.day(part["received_at"])
        orders, previous_orders = count(days == day), count(days == before)
        if orders > previous_orders:
            rising.append({"service_code": code, "service_name": plain(latest(part, "service_name", "received_at"), tz),
                           "orders": orders, "previous_orders": previous_orders, "rise": orders - previous_orders})

    return {
        "daily.overview": Expected([overview]),
        "daily.channels": Expected(pick(ordered(channels, "-orders", "channel"), "channel_name", "orders", "share")),
        "daily.groups": Expected(pick(ordered(by_group, "-orders", "service_group"), "group_name", "orders")),
        "daily.services": Expected(pick(ordered(services, "-orders", "service_code")[:10],
                                        "service_name", "service_code", "orders")),
        "daily.rates_streets": Expected(pick(ordered([row for row in today if row["unit_type"] == "street"],
                                                     "unit_rank", "unit_code"), *rate_columns)),
        "daily.rates_departments": Expected(pick(ordered([row for row in today if row["unit_type"] == "department"],
                                                         "unit_rank", "unit_code"), *rate_columns)),
        "daily.overdue": Expected(pick(
            ordered(overdue, "-overdue_orders", "-late_response_orders", "-unit_type", "unit_code"),
            "unit_type_name", "unit_name", "orders", "overdue_orders", "overdue_change", "late_response_orders",
            "late_change")),
        "daily.hotspots": Expected(pick(
            ordered(new, "-hotspot_orders", "community_code", "service_group"), "street_name", "community_name",
            "group_name", "hotspot_orders", "returned_orders", "window_first_received_at", "first_qualified_at")),
        "daily.hotspots_month": Expected([{"hotspots": count(repeat["period_month"] == day.replace(day=1))}]),
        "daily.sensors": Expected(pick(ordered(sensors, "-episodes", "domain_code"), "domain_name", "episodes",
                                       "episodes_change", "exceedance_readings", "valid_readings", "offline_gaps")),
        "daily.rising": Expected(pick(ordered(rising, "-rise", "-orders", "service_code")[:5],
                                      "service_name", "orders", "previous_orders", "rise")),
    }


# --- 回访周报 --------------------------------------------------------------------------------------------------------


def visited(requests: pd.DataFrame, start: datetime, end: datetime) -> pd.DataFrame:
    """The orders called back from ``start`` to ``end`` (exclusive)."""
    return requests[(requests["return_visited_at"] >= start) & (requests["return_visited_at"] < end)]


def unit_rates(visits: pd.DataFrame, weight: float, tz: ZoneInfo) -> dict[tuple[str, str], Row]:
    """Each street's and department's resolution and satisfaction over the answered visits of orders counted in the
    rates (满意率 = (satisfied + weight × basically satisfied) / answered), by the unit that held the order last."""
    answered = visits[flag(visits, "is_counted_in_rates") & flag(visits, "is_visit_answered")
                      & visits["final_unit_type"].isin(["street", "department"])]
    units = {}
    for (unit_type, unit_code), part in groups(answered, tz, "final_unit_type", "final_unit_code"):
        resolved = count(flag(part, "is_visit_resolved"))
        satisfied = count(flag(part, "is_visit_satisfied"))
        basically = count(flag(part, "is_visit_basically_satisfied"))
        units[(unit_type, unit_code)] = {
            "unit_type": unit_type, "unit_code": unit_code,
            "unit_type_name": labels.unit_type(unit_type),
            "unit_name": plain(latest(part, "final_unit_name", "return_visited_at"), tz),
            "visits_answered": len(part), "visits_resolved": resolved, "resolution_rate": resolved / len(part),
            "satisfaction_rate": (satisfied + weight * basically) / len(part)}
    return units


def reason(order: Row) -> str:
    """Why a visit was unsatisfied, read from the order: the first that holds of not resolved (the visit says so),
    resolved after the deadline, first contact late, sent back by a unit, else resolved and on time yet unsatisfied."""
    if order["is_visit_resolved"] is False:
        return REASONS[0]
    if order["is_overdue"] is True or order["is_resolved_in_time"] is False:
        return REASONS[1]
    if order["is_late_response"] is True:
        return REASONS[2]
    if (order["return_count"] or 0) > 0:
        return REASONS[3]
    return REASONS[4]


def weekly(data: Datasets, period: Window) -> dict[str, Expected]:
    tz, weight = data.tz, data.settings.kpi.basically_satisfied
    requests = data["hotline_requests"]
    visits = visited(requests, period.starts_at, period.ends_at)
    outcome = visits["return_visit_satisfaction"]
    overview = {
        "visits": len(visits), "answered": count(flag(visits, "is_visit_answered")),
        "resolved": count(flag(visits, "is_visit_resolved")), "satisfied": count(outcome == "satisfied"),
        "basically_satisfied": count(outcome == "basically_satisfied"), "unsatisfied": count(outcome == "unsatisfied"),
        "unreachable": count(outcome == "unreachable")}

    units = unit_rates(visits, weight, tz)
    unit_columns = ("unit_name", "visits_answered", "visits_resolved", "resolution_rate", "satisfaction_rate")

    def of_type(unit_type: str) -> list[Row]:
        rows = [row for row in units.values() if row["unit_type"] == unit_type]
        return pick(ordered(rows, "-satisfaction_rate", "-resolution_rate", "unit_code"), *unit_columns)

    unsatisfied = records(visits[outcome == "unsatisfied"], tz)
    for order in unsatisfied:
        order["reason"] = reason(order)
    frame = pd.DataFrame(unsatisfied, columns=["reason", "service_group", "service_code", "service_name",
                                               "received_at"])
    reasons = [{"reason": why, "orders": len(part), "share": len(part) / len(frame)}
               for (why,), part in groups(frame, tz, "reason")]
    by_group = [named({"reason": why, "service_group": group, "orders": len(part)})
                for (why, group), part in groups(frame, tz, "reason", "service_group")]
    by_service = [{"service_code": code, "service_name": plain(latest(part, "service_name", "received_at"), tz),
                   "orders": len(part), "reasons": "、".join(sorted(set(part["reason"])))}
                  for (code,), part in groups(frame, tz, "service_code")]

    # units whose satisfaction fell against the week before (units with answered visits in both weeks)
    last_week = unit_rates(visited(requests, period.starts_at - timedelta(days=7), period.starts_at), weight, tz)
    falling = [{**unit, "previous_rate": last_week[key]["satisfaction_rate"],
                "previous_answered": last_week[key]["visits_answered"],
                "change": unit["satisfaction_rate"] - last_week[key]["satisfaction_rate"]}
               for key, unit in units.items()
               if key in last_week and unit["satisfaction_rate"] < last_week[key]["satisfaction_rate"]]

    return {
        "weekly.overview": Expected([overview]),
        "weekly.units_streets": Expected(of_type("street")),
        "weekly.units_departments": Expected(of_type("department")),
        "weekly.reasons": Expected(pick(ordered(reasons, "-orders", "reason"), "reason", "orders", "share")),
        "weekly.reasons_groups": Expected(pick(ordered(by_group, "-orders", "reason", "service_group"),
                                               "reason", "group_name", "orders")),
        "weekly.reasons_services": Expected(pick(ordered(by_service, "-orders", "service_code")[:10],
                                                 "service_name", "orders", "reasons")),
        "weekly.falling": Expected(pick(
            ordered(falling, "change", "-unit_type", "unit_code"), "unit_type_name", "unit_name", "previous_rate",
            "satisfaction_rate", "change", "previous_answered", "visits_answered")),
    }


# --- 月度分析报告 ----------------------------------------------------------------------------------------------------


def seasonal_text(group: Row) -> str:
    """Whether a group is seasonal, as the report says it: undecided before two complete years are observed."""
    if group["is_seasonal"] is None:
        return f"数据不足，无法判定（已观测{group['months_observed']}个月，需两个完整年度）"
    if group["is_seasonal"]:
        return "季节性：" + "、".join(f"{month}月" for month in group["seasonal_months"])
    return "无明显季节性"


def peak(part: pd.DataFrame, pattern: str) -> int | None:
    """The bucket of a pattern with the largest share of the group's orders (the earliest of those that tie)."""
    buckets = part[part["pattern"] == pattern].dropna(subset=["share_of_orders"])
    if buckets.empty:
        return None
    return int(buckets[buckets["share_of_orders"] == buckets["share_of_orders"].max()]["bucket"].min())


def monthly(data: Datasets, period: Window) -> dict[str, Expected]:
    tz, month = data.tz, period.start

    # 一、二、三、the month's high-frequency communities, grids and matters, and its repeat hotspots
    hotspots = data["hotspots_monthly"]
    in_month = hotspots[hotspots["period_month"] == month]

    def hotspots_of(name: str) -> list[Row]:
        rows = [named(row) for row in records(in_month[in_month["hotspot_kind"] == name], tz)]
        for row in rows:
            for column in ("frequency_rank", "hotspot_orders", "returned_orders", *COMPARE):
                row[column] = integer(row[column])
        return rows

    ledger = data["problem_ledger"]
    entries = [named(row) for row in records(ledger[flag(ledger, "is_ledger_entry")], tz)]
    for row in entries:
        row["rule_name"] = ENTRY_RULES.get(row["entry_rule"], row["entry_rule"])
        row["channel_names"] = "、".join(LEDGER_CHANNELS.get(item, item) for item in row["channels"] or [])
    evaluated = plain(ledger["period_month"].max(), tz)

    # 四、each group's peak hour and weekday and whether it is seasonal (groups with orders)
    patterns = data["seasonal_patterns"]
    seasonal = []
    for (group,), part in groups(patterns[patterns["group_orders"] > 0], tz, "service_group"):
        first = records(part.head(1), tz)[0]
        hour, weekday = peak(part, "hour_of_day"), peak(part, "day_of_week")
        seasonal.append({
            "service_group": group, "group_name": first["service_group_name"], "group_orders": first["group_orders"],
            "peak_hour_text": None if hour is None else f"{hour}时",
            "peak_weekday_text": None if weekday is None else WEEKDAYS[weekday], "seasonal_text": seasonal_text(first)})

    # 五、grid cases reported in the month, by street: the rates as the dataset defines them (averages of the flags
    # over the cases counted in each)
    cases = data["grid_case_lifecycle"]
    reported = cases[(cases["reported_date"] >= period.start) & (cases["reported_date"] < period.end)]
    streets = []
    for (street,), part in groups(reported[reported["street_code"].notna()], tz, "street_code"):
        on_time = part[flag(part, "is_counted_in_on_time_rate")]["is_closed_on_time"]
        returned = part[flag(part, "is_counted_in_return_rate")]["is_returned"]
        streets.append(named({
            "street_code": street, "cases": count(~flag(part, "is_voided")), "closed": count(flag(part, "is_closed")),
            "closed_on_time": count(flag(part, "is_closed_on_time")), "on_time_rate": mean(on_time),
            "return_rate": mean(returned),
            "mean_closure_hours": mean(part[flag(part, "is_counted_in_durations")]["closure_hours"])}))
    timed = reported[flag(reported, "is_counted_in_durations")]
    steps = {step: mean(timed[step]) for step in STEPS}

    # 六、transfer: the orders of the month (their deadline's) over the district, and each unit's month
    requests = data["hotline_requests"]
    of_month = requests[(requests["period_month"] == month) & requests["is_due"]]  # due: as the units' table
    transfer = of_month["transfer_hours"].dropna()
    district = {
        "orders": len(of_month),
        "median_transfer_hours": None if transfer.empty else float(transfer.quantile(0.5)),
        "p90_transfer_hours": None if transfer.empty else float(transfer.quantile(0.9)),
        "redispatched": count(of_month["dispatch_count"] > 1), "returned": count(of_month["return_count"] > 0)}
    kpi = data["hotline_kpi_monthly"]
    units = records(kpi[kpi["period_month"] == month], tz)
    for row in units:
        row["unit_rank"] = integer(row["unit_rank"])
        row["unit_type_name"] = labels.unit_type(row["unit_type"])

    # 七、the enterprises at high risk now, with every rule that holds
    profiles = data["enterprise_profile"]
    risky = records(profiles[profiles["risk_level"] == "high"], tz)
    for row in risky:
        row["street_name"] = row["street_name"] or "—"
        row["rule_names"] = "、".join(labels.RISK_RULES.get(rule, rule) for rule in row["risk_rules_fired"] or [])
    risky = ordered(risky, "-black_lists_in_force", "-enforcement_cases", "uscc")
    as_of = {row["reference_date"] for row in risky}
    assert len(as_of) <= 1, f"the high-risk enterprises are judged as of several days: {as_of}"

    # 八、the month's ranking
    ranking_columns = ("unit_rank", "unit_name", "orders", "orders_counted", "response_rate", "resolution_rate",
                       "satisfaction_rate", "composite_score")

    def ranking(unit_type: str) -> list[Row]:
        return pick(ordered([row for row in units if row["unit_type"] == unit_type], "unit_rank", "unit_code"),
                    *ranking_columns)

    return {
        "monthly.communities": Expected(pick(
            ordered(hotspots_of("high_frequency_community"), "frequency_rank", "community_code"),
            "frequency_rank", "street_name", "community_name", "orders", *COMPARE)),
        "monthly.grids": Expected(pick(
            ordered(hotspots_of("high_frequency_grid"), "frequency_rank", "grid_code")[:10],
            "frequency_rank", "grid_code", "community_name", "orders", *COMPARE)),
        "monthly.services": Expected(pick(
            ordered(hotspots_of("high_frequency_service"), "frequency_rank", "service_code"),
            "frequency_rank", "service_name", "group_name", "orders", *COMPARE)),
        "monthly.repeat_hotspots": Expected(pick(
            ordered(hotspots_of("repeat_hotspot"), "-hotspot_orders", "community_code", "service_group"),
            "street_name", "community_name", "group_name", "hotspot_orders", "returned_orders", "first_qualified_at")),
        "monthly.ledger": Expected(pick(
            ordered(entries, "-open_events", "-orders", "community_code", "service_group"),
            "street_name", "community_name", "group_name", "rule_name", "hotspot_months", "channel_streak_months",
            "channel_names", "orders", "grid_cases", "enforcement_cases", "exceedances", "open_events"),
            title=f"老大难问题台账（评估至{evaluated:%Y年%m月}）" if evaluated else "老大难问题台账（评估至—）"),
        "monthly.seasonal": Expected(pick(ordered(seasonal, "-group_orders", "service_group"), "group_name",
                                          "group_orders", "peak_hour_text", "peak_weekday_text", "seasonal_text")),
        "monthly.grid_streets": Expected(pick(
            ordered(streets, "-on_time_rate", "street_code"), "street_name", "cases", "closed", "closed_on_time",
            "on_time_rate", "return_rate", "mean_closure_hours")),
        "monthly.grid_steps": Expected([steps]),
        "monthly.transfer_overview": Expected([district]),
        "monthly.transfer_units": Expected(pick(
            ordered([row for row in units if row["orders"] > 0], "-mean_transfer_hours", "-unit_type", "unit_code"),
            "unit_type_name", "unit_name", "orders", "mean_transfer_hours", "dispatches", "returns")),
        "monthly.enterprises": Expected(pick(
            risky, "enterprise_name", "uscc", "street_name", "credit_level", "rule_names", "penalties_in_force",
            "black_lists_in_force", "enforcement_cases", "enforcement_open_cases"),
            title="高风险企业" + (f"（截至{next(iter(as_of)):%Y年%m月%d日}）" if as_of else "")),
        "monthly.ranking_streets": Expected(ranking("street")),
        "monthly.ranking_departments": Expected(ranking("department")),
    }


EXPECTATIONS: dict[str, Callable[[Datasets, Window], dict[str, Expected]]] = {
    "daily": daily, "weekly": weekly, "monthly": monthly}


# --- comparing --------------------------------------------------------------------------------------------------


def assert_cell(cell: tuple[Any, str], value: Any, kind: str) -> None:
    """A cell's raw value (its data-value) and text against the value expected."""
    raw, text = cell
    if value is None:
        assert raw is None, f"shown {raw!r}, expected no value"
    elif isinstance(value, datetime):
        assert isinstance(raw, str) and datetime.fromisoformat(raw) == value, f"shown {raw!r}, expected {value}"
    elif isinstance(value, date):
        assert raw == value.isoformat(), f"shown {raw!r}, expected {value}"
    elif isinstance(value, float):
        assert isinstance(raw, int | float) and not isinstance(raw, bool), f"shown {raw!r}, expected {value}"
        assert raw == pytest.approx(value, rel=1e-9, abs=1e-12), f"shown {raw!r}, expected {value!r}"
    else:
        assert type(raw) is type(value) and raw == value, f"shown {raw!r}, expected {value!r}"
    assert text == display(value, kind), f"shown text {text!r}, expected {display(value, kind)!r} ({value!r})"


def assert_table(figure: Figure, expected: Expected, kinds: dict[str, str]) -> None:
    """A table figure shows the rows expected, in order, and nothing else."""
    if expected.title is not None:
        assert figure.title == expected.title, f"title {figure.title!r}, expected {expected.title!r}"
    assert figure.declared_rows == len(figure.rows), f"data-rows {figure.declared_rows}, {len(figure.rows)} read"
    assert len(figure.rows) == len(expected.rows), (
        f"{len(figure.rows)} rows shown, {len(expected.rows)} expected: {expected.rows[:3]}...")
    if not expected.rows:
        assert figure.empty, "an empty table says nothing"
    for index, (shown, row) in enumerate(zip(figure.rows, expected.rows)):
        assert set(shown) == set(row), f"row {index}: columns {sorted(shown)} shown, {sorted(row)} expected"
        for key, value in row.items():
            try:
                assert_cell(shown[key], value, kinds[key])
            except AssertionError as error:
                raise AssertionError(f"row {index} {key}: {error}") from None


# --- the reports -----------------------------------------------------------------------------------------------


@dataclass
class Written:
    period: Window
    page: Page
    record: dict[str, Any]

    def column_kinds(self) -> dict[str, dict[str, str]]:
        """Each table block's column kinds, as the record gives them."""
        return {block["id"]: {column["key"]: column["kind"] for column in block["columns"]}
                for section in self.record["sections"] for block in section["blocks"] if block["type"] == "table"}

    def block_datasets(self) -> dict[str, list[str]]:
        return {block["id"]: block["datasets"]
                for section in self.record["sections"] for block in section["blocks"] if "id" in block}


@pytest.fixture(scope="module")
def datasets(published: Settings) -> Datasets:
    return Datasets(published)


@pytest.fixture(scope="module")
def written(published: Settings, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Written]:
    """The three reports written from the published shared zone (into a home of their own that reads it)."""
    home = tmp_path_factory.mktemp("figures-home")
    (home / "shared").symlink_to(published.home / "shared", target_is_directory=True)
    settings = published.model_copy(update={"home": home})
    tz = ZoneInfo(published.timezone)
    reports = {}
    for kind in KINDS:
        output = write_report(kind, ISSUED[kind], settings, pdf=False)
        reports[kind] = Written(window(kind, tz), read_page(output.html),
                                json.loads(output.record.read_text(encoding="utf-8")))
    return reports


@pytest.mark.parametrize("kind", KINDS)
def test_every_table_shows_the_datasets_values(kind: str, written: dict[str, Written], datasets: Datasets) -> None:
    report = written[kind]
    page, period = report.page, report.period
    assert (page.kind, report.record["period_start"], report.record["period_end"]) == (
        kind, period.start.isoformat(), period.end.isoformat())
    assert page.withheld == {} and report.record["withheld"] == [], "every dataset is published for the period"
    assert set(page.sections) == {section["key"] for section in report.record["sections"]}
    assert page.other_blocks == []

    expected = EXPECTATIONS[kind](datasets, period)
    assert set(page.tables) == set(expected), "the page's tables are the ones this test checks"
    empty = {block for block, table in expected.items() if not table.rows} - MAY_BE_EMPTY
    assert not empty, f"the period has no data for {sorted(empty)}: the comparison would prove nothing"

    kinds = report.column_kinds()
    failures = []
    for block, table in expected.items():
        try:
            assert_table(page.tables[block], table, kinds[block])
        except AssertionError as error:
            failures.append(f"{block}: {error}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("kind", KINDS)
def test_every_figure_cites_its_datasets_versions(kind: str, written: dict[str, Written], published: Settings) -> None:
    catalog = SharedZone.default(published).catalog()["datasets"]
    tz = ZoneInfo(published.timezone)
    report = written[kind]
    page = report.page
    assert page.tables and page.charts
    recorded = report.block_datasets()

    for figure in page.figures.values():
        assert figure.datasets, f"{figure.id} names no dataset"
        assert figure.datasets == recorded[figure.id], f"{figure.id}: datasets differ from the record's"
        cited = re.findall(r"(?:数据来源：|；)(\S+) 版本 ", figure.source)
        assert cited == figure.datasets, f"{figure.id} cites {cited}, shows {figure.datasets}: {figure.source!r}"
        for name in figure.datasets:
            current = catalog[name]["current"]
            as_of = datetime.fromisoformat(current["data_as_of"]).astimezone(tz)
            citation = f"{name} 版本 {current['version']}（数据截至 {as_of:%Y-%m-%d %H:%M}）"
            assert citation in figure.source, f"{figure.id}: {citation!r} not in {figure.source!r}"

    # the cover lists each dataset read, with the same current version, shown for the period
    assert set(page.sources) == {name for figure in page.figures.values() for name in figure.datasets}
    for name, source in page.sources.items():
        assert source.version == catalog[name]["current"]["version"], name
        assert source.status in ("complete", "partial"), (name, source.status)


def test_the_html_reader_takes_every_cell_of_a_row() -> None:
    """pages.read_page on a table, a card block and a withheld section written as the template writes them."""
    html = """<body data-report="daily" data-period="2026-11-19">
    <table class="sources" data-block="sources"><tbody>
      <tr data-dataset="a" data-status="complete"><td>a</td><td>v1</td><td>x</td><td>y</td><td>z</td></tr>
    </tbody></table>
    <section class="page" data-section="one"><h2>一</h2>
      <figure class="table" data-block="one.cards" data-datasets="a" data-rows="1"><figcaption>概况</figcaption>
        <div class="cards"><div class="card"><div class="label">甲</div>
          <div class="value" data-key="n" data-value="1234">1,234</div></div>
          <div class="card"><div class="label">乙</div><div class="value" data-key="m" data-value="null">—</div></div>
        </div><p class="source">数据来源：a 版本 v1（数据截至 2026-11-20 23:58）</p></figure>
      <div class="notice warning">本月数据仅覆盖 10 天。</div>
      <figure class="chart" data-block="one.chart" data-datasets="a"><figcaption>图</figcaption>
        <svg><g><path d="M0 0"/><text>3</text></g></svg><p class="source">数据来源：a 版本 v1</p></figure>
      <figure class="table" data-block="one.rows" data-datasets="a b" data-rows="2"><figcaption>表</figcaption>
        <table><thead><tr><th>名</th><th>值</th></tr></thead><tbody>
          <tr><td data-key="name" data-value="&#34;东&#34;">东</td><td class="num" data-key="at"
            data-value="&#34;2026-11-19T19:51:00+08:00&#34;">11-19 19:51</td></tr>
          <tr><td data-key="name" data-value="&#34;西&#34;">西</td><td data-key="at" data-value="null">—</td></tr>
        </tbody></table><p class="source">数据来源：a 版本 v1；b 版本 v2</p></figure>
    </section>
    <section class="page" data-section="two"><h2>二</h2>
      <div class="notice withheld" data-withheld="b"><strong>本节暂不展示：</strong>…<ul><li>r</li></ul></div>
    </section></body>"""
    page = parse_page(html)
    assert (page.kind, page.period) == ("daily", "2026-11-19")
    assert page.sources["a"].version == "v1" and page.sources["a"].status == "complete"
    assert page.withheld == {"two": ["b"]}
    assert page.sections["one"].blocks == ["one.cards", "one.chart", "one.rows"]
    assert page.sections["one"].notes == ["本月数据仅覆盖 10 天。"] and page.sections["two"].title == "二"
    assert page.tables["one.cards"].rows == [{"n": (1234, "1,234"), "m": (None, "—")}]
    assert page.tables["one.cards"].cards
    assert page.charts["one.chart"].source == "数据来源：a 版本 v1"
    rows = page.tables["one.rows"]
    assert rows.datasets == ["a", "b"] and rows.title == "表" and rows.declared_rows == 2
    assert rows.rows == [{"name": ("东", "东"), "at": ("2026-11-19T19:51:00+08:00", "11-19 19:51")},
                         {"name": ("西", "西"), "at": (None, "—")}]
    assert set(page.figures) == {"one.cards", "one.chart", "one.rows"}
