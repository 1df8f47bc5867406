"""Fixed-rate sensor series: road dust (every 5 minutes), cooking fumes (every 10 minutes while open) and
parking occupancy (every 15 minutes), one day chunk at a time.

The clean values are made so that the stuck-sensor rule (one value repeated for 6 hours or more) and the
offline-gap rule (a hole in the series) find only what is planted: every clean reading differs from the two
before it in its series (across chunks too), planted spans stay clear of the other dirty readings, and
readings a client would set aside (deleted, clock ahead) are never next to each other.

Every day has legitimate exceedances of the thresholds (reference.md, ``settings.thresholds``) whatever the
scale: at least one road with a dust episode past the severe load, one restaurant (not of a fume chain)
with its purifier off over the limit at dinner, one parking lot full. Stuck spans stay below every
threshold, so an exceedance is never a stuck sensor's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from gridlake.settings import get_settings
from simulators.citymgmt._loader import Loader
from simulators.citymgmt._masters import Masters
from simulators.citymgmt._util import (
    HOUR,
    MINUTE,
    NULL_TS,
    SECOND,
    Run,
    break_ties,
    cat,
    iso,
    local_hour,
    pick_spaced,
    series_starts,
)
from simulators.citymgmt.schema import table
from simulators.world import SEASONS

__all__ = ["SeriesState", "dust_day", "fume_day", "occupancy_day"]

_MARGIN = 3  # rows kept clear of planted spans and of a chunk's first and last readings of a sensor


@dataclass
class SeriesState:
    """The last readings of each sensor in the previous chunk, so runs are broken across days too."""

    tails: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    # Readings over the fume limit of each fume chain's restaurant (planted), by chain index.
    exceeding: dict[int, int] = field(default_factory=dict)


@dataclass
class _Spec:
    name: str
    id_col: str
    time_col: str
    labels: dict[str, np.ndarray]  # string columns derived from the sensor index
    span_label: str  # which label names the sensor in the truth's spans
    value_col: str
    value_scale: int  # the value is held as an integer: served value = integer / scale
    kinds: tuple[str, ...]  # row kinds of dirty data this table gets
    impossible: Callable[[np.random.Generator, int], np.ndarray] | None = None
    # Exceedance kinds: (served values, sensor index) → which readings are over the kind's threshold.
    exceeds: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = field(default_factory=dict)
    stuck_below: int | None = None  # a stuck span's value is held at most this (below every threshold)


def _series_day(
    run: Run,
    loader: Loader,
    spec: _Spec,
    state: SeriesState,
    *,
    rng: np.random.Generator,
    sensor: np.ndarray,
    t: np.ndarray,
    value: np.ndarray,
    other: dict[str, np.ndarray],
    lo: np.ndarray | int,
    hi: np.ndarray | int,
    stuck: list[tuple[int, int]],
    gaps: list[tuple[int, int]],
    blocked: np.ndarray,
    rates: dict[str, float],
) -> None:
    """Plant spans, break chance runs, inject the row kinds, and load one chunk (rows ordered by sensor,
    then time)."""
    n0 = len(t)
    value = value.astype(np.int64).copy()
    other = {k: v.copy() for k, v in other.items()}
    span = np.zeros(n0, dtype=np.int64)
    reserved = blocked.copy()
    position = np.arange(n0) - np.maximum.accumulate(np.where(series_starts(sensor), np.arange(n0), 0))
    last_position = np.zeros(n0, dtype=np.int64)
    ends = np.flatnonzero(np.r_[sensor[1:] != sensor[:-1], True])
    last_position[:] = np.repeat(position[ends], np.diff(np.r_[-1, ends]))
    reserved |= (position < _MARGIN) | (position > last_position - _MARGIN)
    keep = np.ones(n0, dtype=bool)
    for number, (a, b) in enumerate(stuck, start=1):
        value[a:b] = value[a] if spec.stuck_below is None else min(value[a], spec.stuck_below)
        for column in other.values():
            column[a:b] = column[a]
        span[a:b] = number
        reserved[max(0, a - _MARGIN) : b + _MARGIN] = True
    for a, b in gaps:
        keep[a:b] = False
        reserved[max(0, a - _MARGIN) : b + _MARGIN] = True
    lo_a = np.broadcast_to(np.asarray(lo), (n0,))
    hi_a = np.broadcast_to(np.asarray(hi), (n0,))

    # Break chance runs (the previous chunk's last readings first, fixed).
    s, tt, v, sp = sensor[keep], t[keep], value[keep], span[keep]
    fixed = sp != 0
    tail_s, tail_v = state.tails.get(spec.name, (np.empty(0, np.int64), np.empty(0, np.int64)))
    all_s = np.r_[tail_s, s]
    order = np.argsort(all_s, kind="stable")
    all_v = np.r_[tail_v, v][order]
    all_fixed = np.r_[np.ones(len(tail_s), bool), fixed][order]
    all_span = np.r_[np.full(len(tail_s), -1), sp][order]
    broken = break_ties(
        all_v,
        all_s[order],
        fixed=all_fixed,
        span=all_span,
        lo=np.r_[np.zeros(len(tail_s), np.int64), lo_a[keep]][order],
        hi=np.r_[np.full(len(tail_s), 2**40), hi_a[keep]][order],
    )
    from_chunk = order >= len(tail_s)
    v = np.empty(len(s), dtype=np.int64)
    v[order[from_chunk] - len(tail_s)] = broken[from_chunk]
    last = np.r_[s[1:] != s[:-1], True] if len(s) else np.empty(0, bool)
    second = np.zeros(len(s), dtype=bool)
    second[:-1] = last[1:] & (s[:-1] == s[1:])
    tail = last | second
    carried = ~np.isin(tail_s, s)  # sensors without readings today (a restaurant's day off) keep theirs
    state.tails[spec.name] = (np.r_[tail_s[carried], s[tail]], np.r_[tail_v[carried], v[tail]])
    other = {k: col[keep] for k, col in other.items()}
    lo_k, hi_k = lo_a[keep], hi_a[keep]
    n = len(s)

    # Dirty rows: one kind each, spaced apart, clear of spans and chunk edges.
    eligible = ~reserved[keep]
    counts = [run.quota.take(kind, spec.name, rates[kind], int(eligible.sum())) for kind in spec.kinds]
    picks = dict(zip(spec.kinds, pick_spaced(rng, eligible, s, counts, spacing=_MARGIN)))
    served_v = v.copy()
    if "impossible_value" in picks and spec.impossible is not None:
        served_v[picks["impossible_value"]] = spec.impossible(rng, len(picks["impossible_value"]))
    measured = tt.copy()
    if "device_clock_ahead" in picks:
        ahead = picks["device_clock_ahead"]
        measured[ahead] += rng.integers(2 * 60, 10 * 60, size=len(ahead)) * MINUTE
    updated = tt + rng.integers(3, 91, size=n) * SECOND
    ids = np.empty(n, dtype=np.int64)
    ids[np.lexsort((s, tt))] = run.ids.take(spec.name, n)
    visible = run.late.visible(spec.name, updated)

    # Later versions: corrections (a new value) and soft deletes (deleted_at), each bumping updated_at.
    corr = picks.get("correction", np.empty(0, np.int64))
    dele = picks.get("soft_delete", np.empty(0, np.int64))
    factor = np.where(
        rng.random(len(corr)) < 0.5, rng.uniform(0.7, 0.9, len(corr)), rng.uniform(1.12, 1.3, len(corr))
    )
    new_v = np.clip(np.round(v[corr] * factor).astype(np.int64), lo_k[corr], hi_k[corr])
    step = np.where(new_v + 8 <= hi_k[corr], 1, -1)
    for _ in range(20):  # differ from the value and from the neighbours the stuck rule compares
        clash = new_v == v[corr]
        for d in (-2, -1, 1, 2):
            clash |= new_v == v[np.clip(corr + d, 0, n - 1)]
        if not clash.any():
            break
        new_v[clash] += step[clash]
    else:
        raise RuntimeError(f"{spec.name}: could not find distinct corrected values")
    corr_updated = updated[corr] + rng.integers(3600, 36 * 3600, size=len(corr)) * SECOND
    dele_updated = updated[dele] + rng.integers(600, 48 * 3600, size=len(dele)) * SECOND
    corr_visible = run.late.visible(spec.name, corr_updated)
    dele_visible = run.late.visible(spec.name, dele_updated)

    rows = np.r_[np.arange(n), corr, dele]
    values_out = served_v[rows]
    values_out[n : n + len(corr)] = new_v
    columns = {
        spec.id_col: ids[rows],
        spec.time_col: measured[rows],
        spec.value_col: values_out / spec.value_scale
        if spec.value_scale != 1
        else values_out.astype(np.int32),
        "updated_at": np.r_[updated, corr_updated, dele_updated],
        "deleted_at": np.r_[np.full(n + len(corr), NULL_TS), dele_updated],
    }
    for name, labels in spec.labels.items():
        columns[name] = cat(s[rows], labels)
    for name, column in other.items():
        out = column[rows]
        if out.dtype.kind == "f":  # companion measurements follow a corrected value
            out[n : n + len(corr)] = np.round(out[n : n + len(corr)] * factor, 1)
        columns[name] = out
    loader.add(table(spec.name), columns, visible_at=np.r_[visible, corr_visible, dele_visible])

    _note_exceedances(
        run,
        spec,
        sensor=s,
        served=served_v,
        visible=visible,
        set_aside=[picks.get(k, np.empty(0, np.int64)) for k in ("impossible_value", "device_clock_ahead")],
        later=[(corr, new_v, corr_visible), (dele, None, dele_visible)],
    )

    ledger = run.ledger
    for kind, chosen in picks.items():
        if kind == "correction":
            ledger.add(kind, spec.name, ids[chosen], corr_visible)
        elif kind == "soft_delete":
            ledger.add(kind, spec.name, ids[chosen], dele_visible)
        else:
            ledger.add(kind, spec.name, ids[chosen], visible[chosen])
    label = spec.labels[spec.span_label]
    for a, b in stuck:
        ledger.add_span(
            "stuck_sensor",
            spec.name,
            {
                "sensor": str(label[sensor[a]]),
                "from": iso(int(t[a])),
                "to": iso(int(t[b - 1])),
                "readings": b - a,
            },
            visible_at=_visible_of(keep, visible, a, b),
            rows=b - a,
        )
    for a, b in gaps:
        ledger.add_span(
            "offline_gap",
            spec.name,
            {
                "sensor": str(label[sensor[a]]),
                "from": iso(int(t[a - 1])),
                "to": iso(int(t[b])),
                "missing": b - a,
            },
            visible_at=int(_visible_of(keep, visible, b, b + 1)),
            rows=b - a,
        )


def _note_exceedances(
    run: Run,
    spec: _Spec,
    *,
    sensor: np.ndarray,
    served: np.ndarray,
    visible: np.ndarray,
    set_aside: list[np.ndarray],
    later: list[tuple[np.ndarray, np.ndarray | None, np.ndarray]],
) -> None:
    """Count the chunk's legitimate exceedances as served at ``ctx.end`` and at the horizon: the latest
    visible version of each reading (a correction's new value; a soft delete removes it), readings with
    an impossible value or a clock ahead set aside."""
    if not spec.exceeds:
        return
    clean = np.ones(len(served), dtype=bool)
    for rows in set_aside:
        clean[rows] = False
    masks: dict[str, list[np.ndarray]] = {kind: [] for kind in spec.exceeds}
    for now in (run.exceedances.end_us, run.exceedances.horizon_us):
        value = served.copy()
        shown = clean & (visible <= now)
        for rows, new_value, due in later:
            due = np.maximum(due, visible[rows]) <= now  # a later version is never visible before the first
            if new_value is None:
                shown[rows[due]] = False
            else:
                value[rows[due]] = new_value[due]
        for kind, over in spec.exceeds.items():
            masks[kind].append(shown & over(value, sensor))
    labels = spec.labels[spec.span_label]
    for kind, (at_end, at_horizon) in masks.items():
        run.exceedances.add(kind, sensor=sensor, labels=labels, at_end=at_end, at_horizon=at_horizon)


def _visible_of(keep: np.ndarray, visible_kept: np.ndarray, a: int, b: int) -> int:
    """The latest visible time of the kept rows [a, b) of the chunk (original row numbers)."""
    kept_index = np.cumsum(keep) - 1
    rows = kept_index[a:b][keep[a:b]]
    return int(visible_kept[rows].max())


def _spans(
    rng: np.random.Generator,
    rows_of: Callable[[int], tuple[int, int]],
    sensors: np.ndarray,
    count: int,
    length: tuple[int, int],
) -> list[tuple[int, int]]:
    """``count`` spans of ``length`` readings inside the given sensors' rows, away from their edges."""
    spans = []
    for sensor in sensors[:count]:
        a, b = rows_of(int(sensor))
        size = int(rng.integers(*length))
        if b - a < size + 2 * _MARGIN + 2:
            continue
        start = a + _MARGIN + 1 + int(rng.integers(0, b - a - size - 2 * _MARGIN - 1))
        spans.append((start, start + size))
    return sorted(spans)


def _dust_impossible(rng: np.random.Generator, n: int) -> np.ndarray:
    return -rng.integers(10, 500, size=n)  # a negative load


def _fume_impossible(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.full(n, 999_900)  # the analyser's overflow value, 999.9 mg/m3


def _last_first(order: np.ndarray, last: np.ndarray) -> np.ndarray:
    """``order`` with the members of ``last`` moved to its end (spans are planted on the others first)."""
    at_end = np.isin(order, last)
    return np.r_[order[~at_end], order[at_end]]


def dust_day(
    run: Run, loader: Loader, masters: Masters, state: SeriesState, day: int, *, rates: dict[str, float]
) -> None:
    """Road dust: a reading per road every 5 minutes, around the clock."""
    rng = run.rng("dust")
    limits = get_settings().thresholds
    n_roads, ticks = len(masters.road_ids), 288
    day0 = run.day_start(day)
    road = np.repeat(np.arange(n_roads), ticks)
    tick = np.tile(np.arange(ticks), n_roads)
    phase = (np.arange(n_roads) * 37) % 290
    t = day0 + tick * 5 * MINUTE + phase[road] * SECOND
    hour = local_hour(t)
    season = 0.75 + 0.3 * SEASONS["spring"][run.month(day) - 1]
    rush = 1 + 0.45 * (np.exp(-(((hour - 8) / 1.3) ** 2)) + np.exp(-(((hour - 18) / 1.6) ** 2)))
    night = np.where(hour < 5, 0.8, 1.0)
    weather = rng.lognormal(0, 0.18) * rng.lognormal(0, 0.12, size=n_roads)[road]
    load = masters.road_base[road] * season * rush * night * weather * rng.lognormal(0, 0.12, size=len(t))
    # Legitimate exceedances: road-days with works or wind for 1-4 hours, the load rising to a peak and
    # falling back. Every day has one at least, its peak past the severe load.
    episode = np.flatnonzero(rng.random(n_roads) < 0.012)
    if len(episode) == 0:
        episode = rng.integers(0, n_roads, size=1)
    in_episode = np.zeros(len(t), dtype=bool)
    for j, r in enumerate(episode):
        length = int(rng.integers(12, 49))
        start = r * ticks + int(rng.integers(0, ticks - length + 1))
        peak = limits.dust_load_severe_g_m2 * (rng.uniform(1.15, 1.6) if j == 0 else rng.uniform(0.6, 1.5))
        rise = 0.45 + 0.55 * np.sin(np.pi * (np.arange(length) + 0.5) / length)
        sl = slice(start, start + length)
        load[sl] = np.maximum(load[sl], peak * rise * rng.lognormal(0, 0.04, size=length))
        in_episode[sl] = True
    load_milli = np.clip(np.round(load * 1000), 5, 1900).astype(np.int64)
    pm10 = np.clip(np.round(25 + 150 * load + rng.normal(0, 6, size=len(t)), 1), 8, 600)

    stuck: list[tuple[int, int]] = []
    gaps: list[tuple[int, int]] = []
    if run.spans_allowed(day):
        order = _last_first(rng.permutation(n_roads), episode)
        n_stuck = run.quota.take("stuck_sensor", "dust.reading", rates["stuck_sensor"], n_roads)
        n_gap = min(
            run.quota.take("offline_gap", "dust.reading", rates["offline_gap"], n_roads), n_roads - n_stuck
        )

        def rows_of(r: int) -> tuple[int, int]:
            return r * ticks, (r + 1) * ticks

        stuck = _spans(rng, rows_of, order, n_stuck, (76, 126))  # 6h15-10h25 of one value
        gaps = _spans(rng, rows_of, order[n_stuck:], n_gap, (12, 97))  # 1-8 hours without readings
    spec = _Spec(
        "dust.reading",
        "reading_id",
        "measured_at",
        {"road_id": masters.road_ids, "sensor_id": masters.road_sensor},
        "sensor_id",
        "dust_load_g_m2",
        1000,
        ("impossible_value", "device_clock_ahead", "correction", "soft_delete"),
        _dust_impossible,
        exceeds={
            "dust": lambda v, _: v / 1000 > limits.dust_load_g_m2,
            "dust_severe": lambda v, _: v / 1000 > limits.dust_load_severe_g_m2,
        },
        stuck_below=_below(limits.dust_load_g_m2, 1000),
    )
    _series_day(
        run,
        loader,
        spec,
        state,
        rng=rng,
        sensor=road,
        t=t,
        value=load_milli,
        other={"pm10_ug_m3": pm10},
        lo=1,
        hi=1999,
        stuck=stuck,
        gaps=gaps,
        blocked=in_episode,
        rates=rates,
    )


def _below(threshold: float, scale: int) -> int:
    """A held value clearly under ``threshold`` (in the table's integer units)."""
    return int(np.floor(threshold * scale * 0.9))


def fume_day(
    run: Run, loader: Loader, masters: Masters, state: SeriesState, day: int, *, rates: dict[str, float]
) -> None:
    """Cooking fumes: a reading every 10 minutes while the restaurant is open (lunch and dinner)."""
    rng = run.rng("fume")
    limit = get_settings().thresholds.fume_mg_m3
    n_rest = len(masters.restaurant_ids)
    day0 = run.day_start(day)
    minute = np.arange(144) * 10
    sch = masters.restaurant_schedule
    is_open = ((minute[None, :] >= sch[:, 0:1]) & (minute[None, :] < sch[:, 1:2])) | (
        (minute[None, :] >= sch[:, 2:3]) & (minute[None, :] < sch[:, 3:4])
    )
    is_open[masters.restaurant_rest_day == run.weekday(day)] = False
    rest, slot = np.nonzero(is_open)
    t = day0 + slot * 10 * MINUTE + ((rest * 13) % 59) * SECOND
    hour = local_hour(t)
    cooking = (
        0.55 + 0.6 * np.exp(-(((hour - 12.2) / 1.0) ** 2)) + 0.75 * np.exp(-(((hour - 18.8) / 1.3) ** 2))
    )
    evening = np.where(hour >= 16, 0.75 + 0.3 * SEASONS["summer"][run.month(day) - 1], 1.0)
    chain = masters.restaurant_chain[rest] >= 0
    purifier_off_today = (rng.random(n_rest) < 0.04) & (masters.restaurant_chain < 0)
    # Legitimate exceedances besides the chains: some restaurants open at dinner without their purifier
    # run over the limit for a while; every day one at least.
    dinner_open = np.zeros(n_rest, dtype=bool)
    dinner_open[rest[hour >= 18.0]] = True
    candidates = np.flatnonzero(dinner_open & (masters.restaurant_chain < 0))
    smoky = candidates[rng.random(len(candidates)) < 0.01]
    if len(smoky) == 0 and len(candidates):
        smoky = rng.choice(candidates, size=1)
    purifier_off_today[smoky] = True
    purifier_on = ~purifier_off_today[rest]
    fan_on = rng.random(len(t)) >= 0.02
    conc = (
        masters.restaurant_base[rest]
        * cooking
        * evening
        * np.where(purifier_on, 1.0, 2.3)
        * np.where(fan_on, 1.0, 0.5)
        * rng.lognormal(0, 0.2, size=len(t))
    )
    milli = np.clip(np.round(conc * 1000), 20, 2900).astype(np.int64)
    milli[chain] = np.minimum(milli[chain], 850)  # a chain restaurant is clean but on its complaint evenings
    smoke_until = np.zeros(n_rest)
    smoke_until[smoky] = 18.0 + rng.uniform(1.0, 3.0, size=len(smoky))
    smoke = (hour >= 18.0) & (hour < smoke_until[rest])
    milli[smoke] = np.maximum(milli[smoke], np.round(limit * 1000 * rng.uniform(1.05, 1.9, int(smoke.sum()))))
    today = run.ctx.start.date().toordinal() + day
    for k, fume_chain in enumerate(run.ctx.scenario.fume_chains):
        if any(d.toordinal() == today for d in fume_chain.exceed_days):
            smell = (masters.restaurant_chain[rest] == k) & (hour >= 18.0)
            milli[smell] = rng.integers(1150, 2600, size=int(smell.sum()))
            purifier_on[smell] = False
            state.exceeding[k] = state.exceeding.get(k, 0) + int(smell.sum())

    stuck: list[tuple[int, int]] = []
    if run.spans_allowed(day):
        bounds = np.searchsorted(rest, np.arange(n_rest + 1))
        open_both = np.flatnonzero((bounds[1:] - bounds[:-1] > 0) & (masters.restaurant_chain < 0))
        n_stuck = run.quota.take("stuck_sensor", "fume.reading", rates["stuck_sensor"], len(open_both))
        for r in _last_first(rng.permutation(open_both), smoky)[:n_stuck]:
            a, b = int(bounds[r]), int(bounds[r + 1])
            start = a + _MARGIN + 1 + int(rng.integers(0, 5))
            end = b - _MARGIN - 1 - int(rng.integers(0, 6))
            if t[end - 1] - t[start] >= 6 * HOUR + 10 * MINUTE:
                stuck.append((start, end))
    spec = _Spec(
        "fume.reading",
        "reading_id",
        "measured_at",
        {"restaurant_id": masters.restaurant_ids},
        "restaurant_id",
        "concentration_mg_m3",
        1000,
        ("impossible_value", "device_clock_ahead", "correction", "soft_delete"),
        _fume_impossible,
        exceeds={"fume": lambda v, _: v / 1000 > limit},
        stuck_below=_below(limit, 1000),
    )
    _series_day(
        run,
        loader,
        spec,
        state,
        rng=rng,
        sensor=rest,
        t=t,
        value=milli,
        other={"purifier_on": purifier_on, "fan_on": fan_on},
        lo=20,
        hi=2999,
        stuck=stuck,
        gaps=[],
        blocked=chain | smoke,
        rates=rates,
    )


def occupancy_day(
    run: Run, loader: Loader, masters: Masters, state: SeriesState, day: int, *, rates: dict[str, float]
) -> None:
    """Parking occupancy: a count per lot every 15 minutes."""
    rng = run.rng("occupancy")
    saturation = get_settings().thresholds.parking_saturation
    n_lots, ticks = len(masters.lot_ids), 96
    day0 = run.day_start(day)
    lot = np.repeat(np.arange(n_lots), ticks)
    tick = np.tile(np.arange(ticks), n_lots)
    t = day0 + tick * 15 * MINUTE + ((np.arange(n_lots) * 17) % 53)[lot] * SECOND
    hour = local_hour(t)
    night = (np.cos((hour - 2) / 24 * 2 * np.pi) + 1) / 2  # 1 at 02:00, 0 at 14:00
    residential = 0.35 + 0.55 * night
    weekend = 1.08 if run.weekday(day) >= 5 else 1.0
    commercial = np.clip((0.12 + 0.8 * np.exp(-(((hour - 14) / 4.5) ** 2))) * weekend, 0, 0.99)
    profile = np.choose(masters.lot_kind[lot], [residential, commercial, (residential + commercial) / 2])
    capacity = masters.lot_capacity[lot].astype(np.int64)
    noise = rng.normal(0, np.maximum(1.5, 0.04 * capacity))
    occupied = np.clip(
        np.round(capacity * profile * rng.lognormal(0, 0.03, size=n_lots)[lot] + noise), 0, capacity
    ).astype(np.int64)
    # Legitimate saturation: a few lots full for 1-3 hours around their busiest time; every day one at least.
    full = np.flatnonzero(rng.random(n_lots) < 0.03)
    if len(full) == 0:
        full = rng.integers(0, n_lots, size=1)
    busiest = np.array([2, 14, 20])[masters.lot_kind[full]] * 4  # residential, commercial, mixed: the tick
    length = rng.integers(4, 13, size=len(full))
    start = np.clip(busiest - length // 2 + rng.integers(-4, 5, size=len(full)), 0, ticks - length)
    offset = np.arange(length.sum()) - np.repeat(np.cumsum(length) - length, length)
    in_full = np.repeat(full * ticks + start, length) + offset
    cap = capacity[in_full]
    least = np.minimum(np.floor(saturation * cap).astype(np.int64) + 1, cap)  # the fewest cars over the mark
    occupied[in_full] = np.maximum(occupied[in_full], rng.integers(least, cap + 1))
    gaps: list[tuple[int, int]] = []
    if run.spans_allowed(day):
        n_gap = run.quota.take("offline_gap", "traffic.occupancy", rates["offline_gap"], n_lots)
        order = _last_first(rng.permutation(n_lots), full)
        gaps = _spans(rng, lambda r: (r * ticks, (r + 1) * ticks), order, n_gap, (4, 33))
    spec = _Spec(
        "traffic.occupancy",
        "occupancy_id",
        "recorded_at",
        {"lot_id": masters.lot_ids},
        "lot_id",
        "occupied",
        1,
        ("correction",),
        exceeds={"parking_saturation": lambda v, lot: v > saturation * masters.lot_capacity[lot]},
    )
    _series_day(
        run,
        loader,
        spec,
        state,
        rng=rng,
        sensor=lot,
        t=t,
        value=occupied,
        other={},
        lo=0,
        hi=capacity,
        stuck=[],
        gaps=gaps,
        blocked=np.zeros(len(t), bool),
        rates=rates,
    )
