"""Positions: sanitation vehicles (every 30 s on shift), workers (every minute on shift) and heavy diesel
vehicles (OBD every 10 s while in the district), one day chunk at a time, as vectorised random walks that
turn back at the district's edge.

High emitters exceed the NOx limit at speed (reference.md, ``settings.thresholds``); whatever the scale,
one of them crosses the district every day and cruises a while over the limit.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from gridlake.settings import get_settings
from simulators.citymgmt._loader import Loader
from simulators.citymgmt._masters import VEHICLE_KINDS, WORKER_ROLES, Masters
from simulators.citymgmt._util import HOUR, MINUTE, NULL_TS, SECOND, Run, cat, fold, pick_disjoint
from simulators.citymgmt.schema import table

__all__ = ["diesel_day", "staff_day", "vehicle_day"]

_MARGIN_DEG = 0.003


def _points(starts_us: np.ndarray, counts: np.ndarray, step_us: int) -> tuple[np.ndarray, np.ndarray]:
    """Flat (track index, time) of ``counts[i]`` points every ``step_us`` from ``starts_us[i]``."""
    track = np.repeat(np.arange(len(counts)), counts)
    first = np.repeat(np.cumsum(counts) - counts, counts)
    k = np.arange(len(track)) - first
    return track, starts_us[track] + k * step_us


def _walk(
    rng: np.random.Generator, track: np.ndarray, start: np.ndarray, speed_kmh: np.ndarray, step_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """A walk per track from ``start`` (n, 2 lat/lon) at the given speeds, folded into the district."""
    settings = get_settings()
    n = len(track)
    if n == 0:
        return np.empty(0), np.empty(0)
    heading = np.cumsum(rng.normal(0, 0.35, size=n)) + rng.uniform(0, 2 * np.pi, size=len(start))[track]
    km = speed_kmh * step_s / 3600
    first = np.r_[True, track[1:] != track[:-1]]
    lengths = np.diff(np.r_[np.flatnonzero(first), n])
    out = []
    for axis, (delta, lo, hi) in enumerate(
        (
            (km * np.cos(heading) / 111.0, settings.lat_min, settings.lat_max),
            (km * np.sin(heading) / 85.3, settings.lon_min, settings.lon_max),
        )
    ):
        total = np.cumsum(delta)
        offset = np.repeat((total - delta)[first], lengths)  # each track's walk starts at its own start
        position = start[track, axis] + (total - offset)
        out.append(np.round(fold(position, lo + _MARGIN_DEG, hi - _MARGIN_DEG), 6))
    return out[0], out[1]


def _modes(rng: np.random.Generator, n: int, probabilities: list[float], switch: float) -> np.ndarray:
    """Piecewise-constant activity modes (one every ~1/switch points)."""
    segment = np.cumsum(rng.random(n) < switch)
    return rng.choice(len(probabilities), size=int(segment[-1]) + 1 if n else 0, p=probabilities)[segment]


def _outside(rng: np.random.Generator, lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points outside Beijing: swapped coordinates, or a device that reports a far-away city."""
    n = len(lat)
    how = rng.integers(0, 3, size=n)
    far_lat = np.where(how == 1, 31.23, 23.13) + rng.uniform(-0.05, 0.05, n)
    far_lon = np.where(how == 1, 121.47, 113.26) + rng.uniform(-0.05, 0.05, n)
    return np.where(how == 0, lon, np.round(far_lat, 6)), np.where(how == 0, lat, np.round(far_lon, 6))


def _emit(
    run: Run,
    loader: Loader,
    rng: np.random.Generator,
    name: str,
    *,
    id_col: str,
    time_col: str,
    owner: tuple[str, np.ndarray, np.ndarray],
    t: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    extra: dict[str, np.ndarray],
    kinds: tuple[str, ...],
    rates: dict[str, float],
    upload_s: tuple[int, int],
    exceeds: dict[str, Callable[[dict[str, np.ndarray]], np.ndarray]] | None = None,
) -> None:
    """Load one chunk of positions with its dirty rows; ``exceeds``: kind → which rows (given the served
    ``extra`` columns) are over the kind's threshold, counted when the row is not dirty."""
    n = len(t)
    if n == 0:
        return
    order = np.argsort(t, kind="stable")  # ids follow time, as the platform inserts them
    t, lat, lon = t[order], lat[order], lon[order]
    owner_col, owner_idx, owner_labels = owner[0], owner[1][order], owner[2]
    extra = {k: v[order] for k, v in extra.items()}
    counts = [run.quota.take(kind, name, rates[kind], n) for kind in kinds]
    picks = dict(zip(kinds, pick_disjoint(rng, np.ones(n, dtype=bool), counts)))
    lat, lon, measured = lat.copy(), lon.copy(), t.copy()
    if "gps_zero" in picks:
        lat[picks["gps_zero"]] = 0.0
        lon[picks["gps_zero"]] = 0.0
    if "gps_outside_beijing" in picks:
        rows = picks["gps_outside_beijing"]
        lat[rows], lon[rows] = _outside(rng, lat[rows], lon[rows])
    if "impossible_value" in picks:
        extra["speed_kmh"][picks["impossible_value"]] = np.round(
            rng.uniform(210, 480, len(picks["impossible_value"])), 1
        )
    if "device_clock_ahead" in picks:
        rows = picks["device_clock_ahead"]
        measured[rows] += rng.integers(2 * 60, 10 * 60, size=len(rows)) * MINUTE
    updated = t + rng.integers(upload_s[0], upload_s[1] + 1, size=n) * SECOND
    ids = run.ids.take(name, n)
    visible = run.late.visible(name, updated)
    loader.add(
        table(name),
        {
            id_col: ids,
            owner_col: cat(owner_idx, owner_labels),
            time_col: measured,
            "lat": lat,
            "lon": lon,
            **extra,
            "updated_at": updated,
            "deleted_at": np.full(n, NULL_TS),
        },
        visible_at=visible,
    )
    for kind, rows in picks.items():
        run.ledger.add(kind, name, ids[rows], visible[rows])
    if exceeds:
        clean = np.ones(n, dtype=bool)
        for rows in picks.values():
            clean[rows] = False
        for kind, over in exceeds.items():
            legit = clean & over(extra)
            run.exceedances.add(
                kind,
                sensor=owner_idx,
                labels=owner_labels,
                at_end=legit & (visible <= run.exceedances.end_us),
                at_horizon=legit & (visible <= run.exceedances.horizon_us),
            )


def vehicle_day(run: Run, loader: Loader, masters: Masters, day: int, *, rates: dict[str, float]) -> None:
    rng = run.rng("vehicle")
    kind = masters.vehicle_kind
    n = len(kind)
    start_h = np.choose(
        kind,
        [
            rng.uniform(4, 6, n),
            rng.choice([5.0, 13.0], n) + rng.uniform(0, 1, n),
            rng.uniform(5, 7, n),
            rng.uniform(9, 11, n),
        ],
    )
    hours = np.choose(
        kind, [rng.uniform(6, 8, n), rng.uniform(5, 7, n), rng.uniform(6, 8, n), rng.uniform(4, 6, n)]
    )
    on = rng.random(n) < 0.92
    counts = np.where(on, (hours * 120).astype(np.int64), 0)
    starts = run.day_start(day) + (start_h * HOUR).astype(np.int64) + (np.arange(n) % 30) * SECOND
    track, t = _points(starts, counts, 30 * SECOND)
    mode = _modes(rng, len(t), [0.6, 0.25, 0.15], 1 / 30)  # working, driving, stopped
    garbage = kind[track] == VEHICLE_KINDS.index("garbage_truck")
    working_speed = np.where(garbage, rng.uniform(0, 3, len(t)), rng.uniform(4, 12, len(t)))
    speed = np.choose(mode, [working_speed, rng.uniform(20, 45, len(t)), np.zeros(len(t))])
    speed = np.round(np.clip(speed * (1 + rng.normal(0, 0.05, len(t))), 0, 50), 1)
    start = masters.vehicle_centre + rng.uniform(-0.004, 0.004, size=(n, 2))
    lat, lon = _walk(rng, track, start, speed, 30)
    _emit(
        run,
        loader,
        rng,
        "vehicle.position",
        id_col="position_id",
        time_col="recorded_at",
        owner=("vehicle_id", track, masters.vehicle_ids),
        t=t,
        lat=lat,
        lon=lon,
        extra={"speed_kmh": speed, "working": mode == 0},
        kinds=("impossible_value", "gps_zero", "gps_outside_beijing"),
        rates=rates,
        upload_s=(1, 40),
    )


def staff_day(run: Run, loader: Loader, masters: Masters, day: int, *, rates: dict[str, float]) -> None:
    rng = run.rng("staff")
    role = masters.worker_role
    n = len(role)
    index = np.arange(n)
    start_h = np.choose(
        role, [np.where(index % 2 == 0, 6.0, 14.0), np.full(n, 8.5), np.full(n, 5.0), np.full(n, 8.0)]
    ) + rng.uniform(-0.15, 0.15, n)
    minutes = np.where(role == WORKER_ROLES.index("supervisor"), 540, 480)
    off = np.isin((day + index) % 7, (0, 1))  # two days off a week, staggered
    counts = np.where(off, 0, minutes)
    starts = run.day_start(day) + (start_h * HOUR).astype(np.int64) + (index % 60) * SECOND
    track, t = _points(starts, counts, MINUTE)
    k = (t - starts[track]) // MINUTE
    on_duty = ~((k >= 240) & (k < 270))  # a half-hour break after four hours
    mode = _modes(rng, len(t), [0.6, 0.25, 0.15], 1 / 15)
    speed = np.choose(mode, [rng.uniform(0.5, 3, len(t)), rng.uniform(3, 5, len(t)), np.zeros(len(t))])
    speed = np.where(on_duty, speed, 0.0)
    start = masters.worker_centre + rng.uniform(-0.005, 0.005, size=(n, 2))
    lat, lon = _walk(rng, track, start, speed, 60)
    _emit(
        run,
        loader,
        rng,
        "staff.position",
        id_col="position_id",
        time_col="recorded_at",
        owner=("worker_id", track, masters.worker_ids),
        t=t,
        lat=lat,
        lon=lon,
        extra={"on_duty": on_duty},
        kinds=("gps_zero", "gps_outside_beijing"),
        rates=rates,
        upload_s=(1, 50),
    )


def diesel_day(run: Run, loader: Loader, masters: Masters, day: int, *, rates: dict[str, float]) -> None:
    rng = run.rng("diesel")
    settings = get_settings()
    limits = settings.thresholds
    n = len(masters.heavy_vin_hash)
    trip = rng.random(n) < 0.85
    high = np.flatnonzero(masters.heavy_high_emitter)
    polluter = int(high[day % len(high)])  # today's high emitter that surely crosses the district
    trip[polluter] = True
    night = rng.random(n) < 0.8  # muck and freight trucks mostly drive at night
    start_h = np.where(night, rng.uniform(20, 28, n), rng.uniform(9, 17, n))
    counts = np.where(trip, (rng.uniform(30, 90, n) * 6).astype(np.int64), 0)
    starts = run.day_start(day) + (start_h * HOUR).astype(np.int64)
    track, t = _points(starts, counts, 10 * SECOND)
    mode = _modes(rng, len(t), [0.65, 0.25, 0.1], 1 / 40)  # cruising, slow, stopped
    speed = np.choose(mode, [rng.uniform(25, 55, len(t)), rng.uniform(5, 20, len(t)), np.zeros(len(t))])
    speed = np.round(np.clip(speed * (1 + rng.normal(0, 0.05, len(t))), 0, 60), 1)
    first = int(counts[:polluter].sum()) + int(counts[polluter]) // 3
    cruise = slice(first, first + 60)  # ten minutes on a main road, well over the minimum speed
    speed[cruise] = np.round(
        rng.uniform(limits.diesel_min_speed_kmh + 8, limits.diesel_min_speed_kmh + 30, size=60), 1
    )
    edge = rng.integers(0, 4, size=n)  # they enter at the district's edge
    along = rng.uniform(0, 1, n)
    lat_along = settings.lat_min + along * (settings.lat_max - settings.lat_min)
    lon_along = settings.lon_min + along * (settings.lon_max - settings.lon_min)
    lat0 = np.choose(edge, [np.full(n, settings.lat_min), np.full(n, settings.lat_max), lat_along, lat_along])
    lon0 = np.choose(edge, [lon_along, lon_along, np.full(n, settings.lon_min), np.full(n, settings.lon_max)])
    lat, lon = _walk(rng, track, np.column_stack([lat0, lon0]), speed, 10)
    base = np.array([60 + int(h[:6], 16) % 160 for h in masters.heavy_vin_hash], dtype=float)
    base = np.where(masters.heavy_high_emitter, base * 3.5 + 200, base)
    nox = base[track] * (0.5 + speed / 45) + rng.normal(0, 15, len(t))
    nox[cruise] = np.maximum(nox[cruise], limits.diesel_nox_ppm * rng.uniform(1.05, 1.5, size=60))
    nox = np.round(np.clip(nox, 5, 1800), 1)
    _emit(
        run,
        loader,
        rng,
        "diesel.obd",
        id_col="obd_id",
        time_col="recorded_at",
        owner=("vin_hash", track, masters.heavy_vin_hash),
        t=t,
        lat=lat,
        lon=lon,
        extra={"nox_ppm": nox, "speed_kmh": speed},
        kinds=("impossible_value", "gps_zero", "gps_outside_beijing", "device_clock_ahead"),
        rates=rates,
        upload_s=(1, 20),
        exceeds={
            "diesel_nox": lambda x: (x["nox_ppm"] > limits.diesel_nox_ppm)
            & (x["speed_kmh"] > limits.diesel_min_speed_kmh)
        },
    )
