"""The long-standing problem ledger's rules as the tests recompute them, independently of the models: the events
of kpis.md's four channels as the warehouse holds them, each in its service group and with the channel its matter
reached the district by, and the ledger those rules give (test_ledger: weeks of data; test_ledger_months: months).
"""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import duckdb

from gridlake.settings import Settings, repo_root
from tests.dbt.marts import rows

BEIJING = ZoneInfo("Asia/Shanghai")
SEEDS = repo_root() / "dbt_project" / "seeds"
CHANNELS = {"hotline_order": "hotline", "grid_case": "grid", "enforcement_case": "enforcement",
            "sensor_exceedance": "sensor"}
# A report filed on from another channel's is that channel's: the grid files calls (origin hotline) and sensor
# alarms (origin sensor) as cases; enforcement takes up calls (hotline) and grid cases (grid_direct, grid_redispatch).
FILED_FROM = {"hotline": "hotline", "sensor": "sensor"}


def report_channel(kind: str, origin: str | None, referring_grid_origin: str | None) -> str:
    """The channel a matter reached the district by: an order's, an exceedance's, a grid case's own unless the grid
    filed it from a call or an alarm, an enforcement case's own unless the hotline or a grid case referred it."""
    if kind == "grid_case":
        return FILED_FROM.get(origin or "", "grid")
    if kind == "enforcement_case" and origin == "hotline":
        return "hotline"
    if kind == "enforcement_case" and origin in ("grid_direct", "grid_redispatch"):
        return FILED_FROM.get(referring_grid_origin or "", "grid")
    return CHANNELS[kind]


def seed(name: str) -> list[dict[str, str]]:
    with (SEEDS / f"{name}.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def month_of(moment: datetime) -> date:
    return moment.astimezone(BEIJING).date().replace(day=1)


def months_back(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 - count
    return date(index // 12, index % 12 + 1, 1)


def month_index(month: date, current: date) -> int:
    return (current.year - month.year) * 12 + current.month - month.month


def last_day(month: date) -> date:
    return months_back(month, -1) - timedelta(days=1)


def ledger_events(built: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """The events of the four channels, each with kpis.md's channel (its kind's), the channel its matter reached the
    district by, its service group (an order's own, the others'
    through their domain in the seed service_groups), its point (a fume episode's restaurant's) and enterprise."""
    groups = {row["service_group"]: row["domain_code"] or None for row in seed("service_groups")}
    by_domain: dict[str, list[str]] = defaultdict(list)
    for group, domain in groups.items():
        if domain:
            by_domain[domain].append(group)
    domain_group = {domain: names[0] for domain, names in by_domain.items() if len(names) == 1}
    served = rows(built, """
        select events.*, links.best_linked_uscc, referring.case_origin as referring_grid_origin,
            coalesce(own.lat, restaurant.lat) as lat, coalesce(own.lon, restaurant.lon) as lon
        from intermediate.int_events_unified as events
        left join intermediate.int_event_links_listed as links on links.event_id = events.event_id
        left join staging.stg_enforcement__cases as enforcement
            on events.event_kind = 'enforcement_case' and enforcement.case_id = events.source_id
        left join staging.stg_citymgmt__grid_cases as referring on referring.case_id = enforcement.grid_case_id
        left join intermediate.int_places_located as own
            on own.event_kind = events.event_kind and own.event_id = events.source_id
        left join intermediate.int_places_located as restaurant
            on events.matter_code = 'fume' and restaurant.event_kind = 'restaurant'
            and restaurant.event_id = events.register_place_id
        where events.event_kind in ('hotline_order', 'grid_case', 'enforcement_case', 'sensor_exceedance')""")
    out = []
    for row in served:
        if row["event_kind"] == "hotline_order":
            group = row["matter_category"] if row["matter_category"] in groups else None
        else:
            group = domain_group.get(row["domain_code"])
        out.append(row | {
            "channel": CHANNELS[row["event_kind"]],
            "report_channel": report_channel(row["event_kind"], row["origin"], row["referring_grid_origin"]),
            "group": group, "month": month_of(row["occurred_at"]),
            "uscc": row["carried_uscc"] or row["best_linked_uscc"], "is_open": row["status_group"] == "open",
            "counted": row["status_group"] != "cancelled" and row["community_code"] is not None and group is not None,
        })
    assert len(out) > 500
    return out


def window(months: list[int], has: dict[int, bool], complete: dict[int, bool]) -> bool | None:
    """A run of months: met when every one has what the rule asks, ruled out when a wholly covered one lacks it."""
    if all(has[i] for i in months):
        return True
    if any(complete[i] and not has[i] for i in months):
        return False
    return None


def expected_ledger(events: list[dict[str, Any]], hotspots: set[tuple[str, str, date]],
                     settings: Settings) -> dict[str, dict[str, Any]]:
    repeats = settings.repeats
    lookback, hot_needed = repeats.ledger_lookback_months, repeats.ledger_hotspot_months
    run, min_channels = repeats.ledger_channel_months, repeats.ledger_min_channels
    first = min(e["occurred_at"].astimezone(BEIJING).date() for e in events)
    last = max(e["occurred_at"].astimezone(BEIJING).date() for e in events)
    current = last.replace(day=1)
    evaluated = range(max(lookback, run + 1))
    month_of = {i: months_back(current, i) for i in evaluated}
    observed = {i: month_of[i] <= last and last_day(month_of[i]) >= first for i in evaluated}
    complete = {i: month_of[i] >= first and last_day(month_of[i]) <= last for i in evaluated}
    channels: dict[tuple[str, str], dict[date, set[str]]] = defaultdict(lambda: defaultdict(set))
    for event in events:
        if event["counted"]:
            channels[(event["community_code"], event["group"])][event["month"]].add(event["report_channel"])
    pairs = set(channels) | {(community, group) for community, group, _ in hotspots}
    expected: dict[str, dict[str, Any]] = {}
    for community, group in pairs:
        hot = {i: (community, group, month_of[i]) in hotspots for i in evaluated}
        enough = {i: len(channels.get((community, group), {}).get(month_of[i], ())) >= min_channels for i in evaluated}
        if not any(hot[i] or enough[i] for i in evaluated):
            continue
        in_lookback = range(lookback)
        hot_months = sum(hot[i] for i in in_lookback)
        possible = sum(1 for i in in_lookback if not (complete[i] and not hot[i]))
        hotspot_rule = True if hot_months >= hot_needed else (False if possible < hot_needed else None)
        now_run = window(list(range(run)), enough, complete)
        before_run = window(list(range(1, run + 1)), enough, complete)
        if now_run or (not complete[0] and before_run):
            channel_rule: bool | None = True
        elif now_run is False and (complete[0] or before_run is False):
            channel_rule = False
        else:
            channel_rule = None
        start = 1 if not complete[0] and not enough[0] else 0
        streak = 0
        while start + streak in enough and enough[start + streak]:
            streak += 1
        listed = sorted((e for e in events if e["counted"] and (e["community_code"], e["group"]) == (community, group)
                         and month_index(e["month"], current) < lookback),
                        key=lambda e: (e["occurred_at"], e["source_id"]))
        expected[f"{community}|{group}"] = {
            "period_month": current, "lookback_from_month": months_back(current, lookback - 1),
            "months_observed": sum(observed[i] for i in in_lookback),
            "months_complete": sum(complete[i] for i in in_lookback),
            "hotspot_months": hot_months,
            "repeat_hotspot_months": sorted(month_of[i] for i in in_lookback if hot[i]),
            "is_hotspot_rule_met": hotspot_rule,
            "channel_months": sorted(month_of[i] for i in in_lookback if enough[i]),
            "channel_streak_months": streak,
            "is_channel_rule_met": channel_rule,
            "is_ledger_entry": bool(hotspot_rule) or bool(channel_rule),
            "ledger_status": "entry" if hotspot_rule or channel_rule else (
                "undecided" if hotspot_rule is None or channel_rule is None else "not_entry"),
            "request_ids": [e["source_id"] for e in listed if e["channel"] == "hotline"],
            "grid_case_ids": [e["source_id"] for e in listed if e["channel"] == "grid"],
            "enforcement_case_ids": [e["source_id"] for e in listed if e["channel"] == "enforcement"],
            "exceedance_ids": [e["source_id"] for e in listed if e["channel"] == "sensor"],
            "channels": sorted({e["report_channel"] for e in listed}),
            "open_events": sum(1 for e in listed if e["is_open"]),
            "units_involved": sorted({f"{e['responsible_unit_type']}:{e['responsible_unit_code']}" for e in listed
                                      if e["responsible_unit_code"] is not None}),
            "enterprise_usccs": sorted({e["uscc"] for e in listed if e["uscc"] is not None}),
        }
    return expected


