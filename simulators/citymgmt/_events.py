"""Event tables: garbage pick-ups (per station and waste type) and illegal-parking violations, per day."""

from __future__ import annotations

import hashlib

import numpy as np

from simulators.citymgmt._loader import Loader
from simulators.citymgmt._masters import VEHICLE_KINDS, Masters
from simulators.citymgmt._util import HOUR, MINUTE, NULL_TS, SECOND, Run, cat, pick_disjoint
from simulators.citymgmt.schema import table
from simulators.world import HOURS, WEEKDAYS

__all__ = ["garbage_day", "violation_day", "WASTE_TYPES", "VIOLATION_SOURCES"]

WASTE_TYPES = ("kitchen", "recyclable", "hazardous", "other")
VIOLATION_SOURCES = ("camera", "patrol", "hotline")
# Violations a day at scale 1.0 (cameras, patrols and hotline reports together).
_VIOLATIONS_PER_DAY = 900


def _hours(rng: np.random.Generator, profile: str, n: int) -> np.ndarray:
    weights = np.array(HOURS[profile])
    return rng.choice(24, size=n, p=weights / weights.sum()) + rng.random(n)


def _later_versions(
    run: Run,
    rng: np.random.Generator,
    name: str,
    updated: np.ndarray,
    picks: np.ndarray,
    hours: tuple[float, float],
) -> tuple[np.ndarray, np.ndarray]:
    later = updated[picks] + (rng.uniform(*hours, size=len(picks)) * HOUR).astype(np.int64)
    return later, run.late.visible(name, later)


def garbage_day(run: Run, loader: Loader, masters: Masters, day: int, *, rates: dict[str, float]) -> None:
    """Pick-ups: kitchen and other waste daily, recyclables every third day, hazardous waste weekly; transfer
    stations several heavy loads a day."""
    rng = run.rng("garbage")
    name = "garbage.collection"
    kind = masters.station_kind
    n_st = len(kind)
    idx = np.arange(n_st)
    small = kind < 2
    plan = [  # (stations, waste type, first hour, last hour)
        (idx[small], 0, 6.0, 9.5),
        (idx[small], 3, 19.0, 23.0),
        (idx[small & ((idx + day) % 2 == 0)], 3, 12.0, 14.0),
        (idx[small & ((idx + day) % 3 == 0)], 1, 9.0, 16.0),
        (idx[(kind == 0) & ((idx + day) % 7 == 0)], 2, 10.0, 15.0),
    ]
    for _ in range(6):
        plan.append((idx[(kind == 2) & (rng.random(n_st) < 0.8)], int(rng.choice([0, 3])), 5.0, 22.0))
    station = np.concatenate([p[0] for p in plan])
    waste = np.concatenate([np.full(len(p[0]), p[1]) for p in plan])
    hour = np.concatenate([rng.uniform(p[2], p[3], len(p[0])) for p in plan])
    done = rng.random(len(station)) >= 0.03  # a few pick-ups missed
    station, waste, hour = station[done], waste[done], hour[done]
    n = len(station)
    if n == 0:
        return
    low = np.array([[30, 5, 0.5, 40], [10, 3, 0.5, 15], [2000, 2000, 2000, 2000]], dtype=float)
    high = np.array([[180, 80, 8, 260], [60, 30, 3, 90], [9000, 9000, 9000, 9000]], dtype=float)
    k = kind[station]
    weight = np.round(rng.uniform(low[k, waste], high[k, waste]), 1)
    mixed = rng.random(n) < np.array([0.06, 0.05, 0.01, 0.03])[waste]
    trucks = masters.vehicle_plates[masters.vehicle_kind == VEHICLE_KINDS.index("garbage_truck")]
    truck = rng.integers(0, len(trucks), size=n)
    collected = run.day_start(day) + (hour * HOUR).astype(np.int64)
    order = np.argsort(collected, kind="stable")
    station, waste, weight, mixed, truck, collected = (
        a[order] for a in (station, waste, weight, mixed, truck, collected)
    )
    updated = collected + rng.integers(30, 600, size=n) * SECOND
    ids = run.ids.take(name, n)
    visible = run.late.visible(name, updated)
    counts = [run.quota.take(kind_, name, rates[kind_], n) for kind_ in ("correction", "soft_delete")]
    corr, dele = pick_disjoint(rng, np.ones(n, dtype=bool), counts)
    corr_updated, corr_visible = _later_versions(run, rng, name, updated, corr, (1, 36))
    dele_updated, dele_visible = _later_versions(run, rng, name, updated, dele, (0.2, 48))
    rows = np.r_[np.arange(n), corr, dele]
    new_weight = weight[rows]
    factor = np.where(
        rng.random(len(corr)) < 0.5, rng.uniform(0.5, 0.9, len(corr)), rng.uniform(1.1, 1.6, len(corr))
    )
    new_weight[n : n + len(corr)] = np.maximum(np.round(weight[corr] * factor, 1), 0.1)
    loader.add(
        table(name),
        {
            "collection_id": ids[rows],
            "station_id": cat(station[rows], masters.station_ids),
            "truck_plate": cat(truck[rows], trucks),
            "collected_at": collected[rows],
            "waste_type": cat(waste[rows], WASTE_TYPES),
            "weight_kg": new_weight,
            "mixed": mixed[rows],
            "updated_at": np.r_[updated, corr_updated, dele_updated],
            "deleted_at": np.r_[np.full(n + len(corr), NULL_TS), dele_updated],
        },
        visible_at=np.r_[visible, corr_visible, dele_visible],
    )
    run.ledger.add("correction", name, ids[corr], corr_visible)
    run.ledger.add("soft_delete", name, ids[dele], dele_visible)


def violation_day(run: Run, loader: Loader, masters: Masters, day: int, *, rates: dict[str, float]) -> None:
    """Illegal parking events from cameras, patrols and hotline reports."""
    rng = run.rng("violation")
    name = "traffic.violation"
    scale = run.ctx.world.scale
    n = max(2, int(rng.poisson(_VIOLATIONS_PER_DAY * scale * WEEKDAYS[run.weekday(day)])))
    source = rng.choice(3, size=n, p=[0.7, 0.25, 0.05])
    hour = np.where(source == 1, rng.uniform(9, 21, n), _hours(rng, "day", n))
    observed = np.sort(run.day_start(day) + (hour * HOUR).astype(np.int64))
    grid = rng.choice(len(masters.grid_codes), size=n, p=masters.grid_weight)
    n_plates = max(50, int(20000 * scale))
    plate = np.minimum(
        rng.zipf(1.6, size=n) - 1, n_plates - 1
    )  # a few vehicles park illegally again and again
    plate_hash = np.array(
        [hashlib.sha256(f"plate-{run.ctx.seed}-{p}".encode()).hexdigest() for p in plate], dtype=object
    )
    delay = np.where(source == 1, rng.integers(5, 60, n), rng.integers(1, 10, n)) * MINUTE
    updated = observed + delay
    ids = run.ids.take(name, n)
    visible = run.late.visible(name, updated)
    counts = [run.quota.take(kind, name, rates[kind], n) for kind in ("soft_delete", "street_code_missing")]
    dele, missing = pick_disjoint(rng, np.ones(n, dtype=bool), counts)
    street = masters.grid_street[grid].astype(object)
    street[missing] = None
    dele_updated, dele_visible = _later_versions(run, rng, name, updated, dele, (1, 72))
    rows = np.r_[np.arange(n), dele]
    loader.add(
        table(name),
        {
            "violation_id": ids[rows],
            "plate_hash": plate_hash[rows],
            "street_code": street[rows],
            "lat": np.round(masters.grid_lat[grid] + rng.uniform(-0.0015, 0.0015, n), 6)[rows],
            "lon": np.round(masters.grid_lon[grid] + rng.uniform(-0.0015, 0.0015, n), 6)[rows],
            "observed_at": observed[rows],
            "source": cat(source[rows], VIOLATION_SOURCES),
            "updated_at": np.r_[updated, dele_updated],
            "deleted_at": np.r_[np.full(n, NULL_TS), dele_updated],
        },
        visible_at=np.r_[visible, dele_visible],
    )
    run.ledger.add("soft_delete", name, ids[dele], dele_visible)
    run.ledger.add("street_code_missing", name, ids[missing], visible[missing])
