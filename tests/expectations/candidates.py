"""Small candidate versions of the hotline datasets, written by hand and consistent with each other.

Six work orders of November 2026 (as of 5 November, noon, Beijing): three held by two streets, one by a
department, one by an enterprise (in no unit's rates) and one not yet due. ``kpis`` derives the daily and
monthly KPI rows from them as the marts define them (running month to date; a visit counts from its day), so a
test can break one figure and know what it broke.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq

from gridlake.settings import Settings

__all__ = ["AS_OF", "NOW", "TZ", "hotline_requests", "kpis", "write"]

TZ = ZoneInfo("Asia/Shanghai")
AS_OF = datetime(2026, 11, 5, 12, 0, tzinfo=TZ)
NOW = datetime(2026, 11, 5, 13, 0, tzinfo=TZ)
_MONTH = date(2026, 11, 1)

_TYPES = {
    "responded_at": pa.timestamp("us", tz="Asia/Shanghai"),
    "resolved_at": pa.timestamp("us", tz="Asia/Shanghai"),
    "final_accepted_at": pa.timestamp("us", tz="Asia/Shanghai"),
    "return_visited_at": pa.timestamp("us", tz="Asia/Shanghai"),
    "return_visit_satisfaction": pa.string(),
    "repeat_rule": pa.string(),
    "repeats_request_id": pa.string(),
    "final_unit_type": pa.string(),
    "final_unit_code": pa.string(),
    "final_unit_name": pa.string(),
    "street_code": pa.string(),
    "community_code": pa.string(),
    "domain_code": pa.string(),
    "resolution_rate": pa.float64(),
    "satisfaction_rate": pa.float64(),
    "response_rate": pa.float64(),
    "composite_score": pa.float64(),
    "unit_rank": pa.int32(),
    "mean_transfer_hours": pa.float64(),
    "transfer_hours": pa.float64(),
}


def _at(day: int, hour: int = 9) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=TZ)


def _order(request_id: str, unit: tuple[str, str, str] | None, *, deadline: int, due: bool = True,
           responded: bool = True, visit: str | None = None, visit_day: int | None = None,
           street: str = "110101001", community: str = "110101001001") -> dict[str, Any]:
    unit_type, unit_code, unit_name = unit or (None, None, None)
    answered = visit in ("satisfied", "basically_satisfied", "unsatisfied")
    return {
        "request_id": request_id, "status": "closed" if visit else "open", "channel": "phone",
        "request_type": "complaint", "urgency": "normal", "service_code": "S0101", "service_name": "道路扬尘",
        "service_group": "dust", "domain_code": "road_dust", "street_code": street, "street_resolved_by": "code",
        "community_code": community, "community_resolved_by": "code",
        "received_at": _at(max(deadline - 7, 1), 8), "responded_at": _at(max(deadline - 7, 1), 10),
        "resolved_at": _at(deadline, 8) if visit else None, "updated_at": _at(visit_day or min(deadline, 5), 11),
        "respond_limit_hours": 24.0, "resolve_limit_hours": 168.0, "respond_deadline": _at(deadline, 8),
        "resolve_deadline": _at(deadline, 8), "deadline_date": date(2026, 11, deadline), "period_month": _MONTH,
        "final_unit_type": unit_type, "final_unit_code": unit_code, "final_unit_name": unit_name,
        "final_accepted_at": _at(1, 12) if unit else None, "transfer_hours": 2.0 if unit else None,
        "dispatch_count": 1 if unit else 0, "return_count": 0,
        "is_responded_in_time": responded, "is_late_response": not responded, "is_resolved_in_time": bool(visit),
        "is_overdue": due and not visit, "return_visited_at": _at(visit_day, 15) if visit_day else None,
        "return_visit_satisfaction": visit, "is_visit_answered": answered,
        "is_visit_resolved": visit in ("satisfied", "basically_satisfied"),
        "is_visit_satisfied": visit == "satisfied", "is_visit_basically_satisfied": visit == "basically_satisfied",
        "is_excluded": False, "is_repeat": False, "repeat_rule": None, "repeats_request_id": None,
        "is_counted_in_rates": True, "is_due": due, "data_as_of": AS_OF,
    }


_STREET_1 = ("street", "110101001", "东华门街道办事处")
_STREET_2 = ("street", "110101002", "景山街道办事处")
_DEPARTMENT = ("department", "D01", "区城市管理委员会")


def hotline_requests() -> list[dict[str, Any]]:
    return [
        _order("2026110190000001", _STREET_1, deadline=2, visit="satisfied", visit_day=4),
        _order("2026110190000002", _STREET_1, deadline=3, responded=False),
        _order("2026110190000003", _STREET_2, deadline=3, visit="basically_satisfied", visit_day=4,
               street="110101002", community="110101002001"),
        _order("2026110190000004", _DEPARTMENT, deadline=4),
        _order("2026110190000005", ("enterprise", "E01", "北京市自来水集团"), deadline=4),
        _order("2026110190000006", _STREET_2, deadline=10, due=False, street="110101002",
               community="110101002001"),
    ]


def _scores(counts: dict[str, Any], settings: Settings) -> dict[str, Any]:
    w = settings.kpi

    def rate(numerator: float, denominator: int) -> float | None:
        return numerator / denominator if denominator else None

    response = rate(counts["responded_in_time"], counts["orders_counted"])
    resolution = rate(counts["visits_resolved"], counts["visits_answered"])
    satisfaction = rate(counts["visits_satisfied"] + w.basically_satisfied * counts["visits_basically_satisfied"],
                        counts["visits_answered"])
    composite = None
    if None not in (response, resolution, satisfaction):
        composite = round(100 * (w.response * response + w.resolution * resolution + w.satisfaction * satisfaction)
                          / (w.response + w.resolution + w.satisfaction), 6)
    return {"response_rate": response, "resolution_rate": resolution, "satisfaction_rate": satisfaction,
            "composite_score": composite}


def _counts(orders: list[dict[str, Any]], *, by: date | None) -> dict[str, Any]:
    counted = [o for o in orders if o["is_counted_in_rates"]]

    def answered(o: dict[str, Any]) -> bool:
        return o["is_visit_answered"] and (by is None or o["return_visited_at"].date() <= by)

    visited = [o for o in counted if answered(o)]
    return {
        "orders": len(orders), "orders_counted": len(counted),
        "responded_in_time": sum(o["is_responded_in_time"] for o in counted), "visits_answered": len(visited),
        "visits_resolved": sum(o["is_visit_resolved"] for o in visited),
        "visits_satisfied": sum(o["is_visit_satisfied"] for o in visited),
        "visits_basically_satisfied": sum(o["is_visit_basically_satisfied"] for o in visited),
        "repeat_orders": sum(o["is_repeat"] for o in orders), "excluded_orders": sum(o["is_excluded"] for o in orders),
        "overdue_orders": sum(o["is_overdue"] for o in orders),
        "late_response_orders": sum(o["is_late_response"] for o in orders),
        "dispatches": sum(o["dispatch_count"] for o in orders), "returns": 0,
        "mean_transfer_hours": sum(o["transfer_hours"] for o in orders) / len(orders),
    }


def _ranked(rows: list[dict[str, Any]], period: str) -> list[dict[str, Any]]:
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[(row["unit_type"], row[period])].append(row)
    for members in groups.values():
        scored = sorted((r for r in members if r["composite_score"] is not None),
                        key=lambda r: (-r["composite_score"], -(r["resolution_rate"] or 0), -r["orders_counted"],
                                       r["unit_code"]))
        for rank, row in enumerate(scored, start=1):
            row["unit_rank"] = rank
        for row in members:
            row.setdefault("unit_rank", None)
            row["units_ranked"] = len(scored)
    return rows


def kpis(requests: list[dict[str, Any]], settings: Settings) -> tuple[list[dict], list[dict]]:
    """The daily and monthly KPI rows of these orders, as hotline_kpi_daily and hotline_kpi_monthly have them."""
    held: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for order in requests:
        if order["is_due"] and order["final_unit_type"] in ("street", "department"):
            held[(order["final_unit_type"], order["final_unit_code"], order["final_unit_name"])].append(order)
    daily, monthly = [], []
    last_day = AS_OF.date()
    for (unit_type, unit_code, unit_name), orders in held.items():
        unit = {"unit_type": unit_type, "unit_code": unit_code, "unit_name": unit_name, "period_month": _MONTH}
        day = min(o["deadline_date"] for o in orders)
        while day <= last_day:
            due = [o for o in orders if o["deadline_date"] <= day]
            counts = _counts(due, by=day)
            daily.append({"unit_day_key": f"{unit_type}|{unit_code}|{day:%Y-%m-%d}", **unit, "kpi_date": day,
                          **counts, **_scores(counts, settings), "data_as_of": AS_OF})
            day += timedelta(days=1)
        counts = _counts(orders, by=None)
        monthly.append({"unit_month_key": f"{unit_type}|{unit_code}|{_MONTH:%Y-%m}", **unit, **counts,
                        **_scores(counts, settings), "is_period_complete": False, "data_as_of": AS_OF})
    return _ranked(daily, "kpi_date"), _ranked(monthly, "period_month")


def write(path: Path, rows: list[dict[str, Any]]) -> list[Path]:
    """Rows as one Parquet file (the columns' types from the values, or declared where a column may be empty)."""
    columns = list(rows[0])
    arrays = []
    for column in columns:
        values = [row[column] for row in rows]
        kind = _TYPES.get(column)
        if column in ("orders", "orders_counted", "responded_in_time", "visits_answered", "visits_resolved",
                      "visits_satisfied", "visits_basically_satisfied", "units_ranked", "repeat_orders",
                      "excluded_orders", "overdue_orders", "late_response_orders", "dispatches", "returns",
                      "dispatch_count", "return_count"):
            kind = pa.int32()
        arrays.append(pa.array(values, type=kind))
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_arrays(arrays, names=columns), path)
    return [path]
