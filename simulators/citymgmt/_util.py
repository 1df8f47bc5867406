"""Helpers of the citymgmt generator: time units, quotas of dirty records, the truth ledger, late commits.

Times are int64 microseconds since the epoch throughout the generator (``NULL_TS`` for a missing time);
they become ``timestamptz`` only when a chunk is written.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

import numpy as np
import pyarrow as pa

from simulators.generate import GenContext
from simulators.scenario import TZ
from simulators.world import rng_for

__all__ = [
    "DAY",
    "HOUR",
    "MINUTE",
    "NULL_TS",
    "SECOND",
    "DirtyLedger",
    "ExceedanceLedger",
    "Ids",
    "LateCommits",
    "Quota",
    "Run",
    "break_ties",
    "cat",
    "fold",
    "iso",
    "local_hour",
    "pick_disjoint",
    "pick_spaced",
    "segmented_cummax",
    "series_starts",
    "ts_array",
]

SECOND = 1_000_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR
NULL_TS = np.iinfo(np.int64).min
_LOCAL_OFFSET = 8 * HOUR  # Asia/Shanghai has no daylight saving time

# Late commits (citymgmt.md): this share of rows becomes visible 1-8 minutes after its updated_at.
LATE_SHARE = 0.03
LATE_MIN_S, LATE_MAX_S = 60, 480
# Record ids are listed in the truth only for kinds with at most this many records.
IDS_LIMIT = 1000


def local_hour(us: np.ndarray) -> np.ndarray:
    """Hour of the local day (float, 0-24) of epoch-microsecond times."""
    return ((us + _LOCAL_OFFSET) % DAY) / HOUR


def iso(us: int) -> str:
    return datetime.fromtimestamp(us / SECOND, TZ).isoformat()


def ts_array(us: np.ndarray) -> pa.Array:
    """Epoch microseconds to an Arrow ``timestamp[us, UTC]`` (``NULL_TS`` → null)."""
    us = np.asarray(us, dtype=np.int64)
    mask = us == NULL_TS
    return pa.array(us, type=pa.timestamp("us", tz="UTC"), mask=mask if mask.any() else None)


def cat(codes: np.ndarray, categories: Iterable[str | None]) -> pa.Array:
    """A dictionary-encoded string column: cheap to build for millions of rows of a few values."""
    dictionary = pa.array(list(categories), type=pa.string())
    return pa.DictionaryArray.from_arrays(pa.array(np.asarray(codes, dtype=np.int32)), dictionary)


def fold(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Reflect values into [lo, hi] (a walk that meets the district's edge turns back)."""
    width = hi - lo
    y = np.mod(x - lo, 2 * width)
    return lo + width - np.abs(y - width)


def series_starts(series: np.ndarray) -> np.ndarray:
    """Boolean mask of the first row of each series in rows ordered by series."""
    first = np.ones(len(series), dtype=bool)
    if len(series) > 1:
        first[1:] = series[1:] != series[:-1]
    return first


def segmented_cummax(values: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Running maximum of ``values`` restarting at each ``first`` row (groups are contiguous)."""
    values = np.asarray(values, dtype=np.int64)
    if len(values) == 0:
        return values.copy()
    group = np.cumsum(first) - 1
    base = int(values.min())
    width = int(values.max()) - base + 1
    if int(group[-1]) * width >= 2**62:
        raise OverflowError(f"{len(values)} values over {width} units are too many to order in int64")
    return np.maximum.accumulate(group * width + (values - base)) - group * width + base


def break_ties(
    values: np.ndarray,
    series: np.ndarray,
    *,
    fixed: np.ndarray,
    span: np.ndarray,
    lo: np.ndarray | int,
    hi: np.ndarray | int,
    depth: int = 2,
) -> np.ndarray:
    """Make every value differ from the ``depth`` values before it in its series (rows ordered by series,
    then time), so that no run of equal values can arise by chance; rows of the same ``span`` (> 0, a
    planted stuck span; -1 a previous chunk's tail) may stay equal. ``fixed`` rows are never changed.

    With single readings removed here and there (deleted, clock-ahead), neighbours are still distinct.
    """
    v = values.astype(np.int64).copy()
    n = len(v)
    lo_a = np.broadcast_to(np.asarray(lo, dtype=np.int64), (n,))
    hi_a = np.broadcast_to(np.asarray(hi, dtype=np.int64), (n,))
    offsets = [d for d in range(-depth, depth + 1) if d]
    for _ in range(500):
        change = np.zeros(n, dtype=bool)
        for d in range(1, depth + 1):
            if n <= d:
                break
            bad = (
                (series[d:] == series[:-d]) & (v[d:] == v[:-d]) & ~((span[d:] != 0) & (span[d:] == span[:-d]))
            )
            later = np.flatnonzero(bad) + d
            movable = ~fixed[later]
            change[later[movable]] = True
            earlier = later[~movable] - d
            if fixed[earlier].any():
                raise RuntimeError(
                    f"cannot separate equal fixed readings at rows {earlier[fixed[earlier]][:5]}"
                )
            change[earlier] = True
        if not change.any():
            return v
        idx = np.flatnonzero(change)
        # Change one row of a cluster per round, to a value unlike its neighbours on both sides.
        idx = idx[np.r_[True, np.diff(idx) > depth]]
        neighbours = []
        for d in offsets:
            j = np.clip(idx + d, 0, n - 1)
            same = (series[j] == series[idx]) & (j != idx)
            neighbours.append(np.where(same, v[j], np.iinfo(np.int64).min))
        near = np.column_stack(neighbours)
        new = v[idx].copy()
        done = np.zeros(len(idx), dtype=bool)
        for step in (1, -1, 2, -2, 3, -3, 4, -4, 5, -5):
            candidate = v[idx] + step
            ok = (
                ~done
                & (candidate >= lo_a[idx])
                & (candidate <= hi_a[idx])
                & (near != candidate[:, None]).all(1)
            )
            new[ok] = candidate[ok]
            done |= ok
        if not done.all():
            raise RuntimeError(f"no distinct value fits rows {idx[~done][:5]} within their bounds")
        v[idx] = new
    raise RuntimeError("break_ties did not converge in 500 rounds")


def pick_spaced(
    rng: np.random.Generator, eligible: np.ndarray, series: np.ndarray, counts: list[int], *, spacing: int = 3
) -> list[np.ndarray]:
    """Disjoint random row sets of the given sizes among ``eligible`` rows (ordered by series, then time),
    any two picks of one series at least ``spacing`` rows apart; fewer when the rows run out."""
    blocked = ~eligible.copy()
    n = len(eligible)
    want = sum(counts)
    chosen: list[int] = []
    if want:
        for index in rng.permutation(np.flatnonzero(eligible)):
            if blocked[index]:
                continue
            chosen.append(int(index))
            lo, hi = max(0, index - spacing + 1), min(n, index + spacing)
            near = np.arange(lo, hi)
            blocked[near[series[near] == series[index]]] = True
            if len(chosen) == want:
                break
    out, at = [], 0
    for count in counts:
        out.append(np.array(sorted(chosen[at : at + count]), dtype=np.int64))
        at += count
    return out


def pick_disjoint(rng: np.random.Generator, eligible: np.ndarray, counts: list[int]) -> list[np.ndarray]:
    """Disjoint random row sets of the given sizes among ``eligible`` rows."""
    pool = rng.permutation(np.flatnonzero(eligible))
    out, at = [], 0
    for count in counts:
        out.append(np.sort(pool[at : at + count]))
        at += count
    return out


class Quota:
    """How many dirty records a chunk gets: ``rate`` × eligible, the fractions carried to the next chunk,
    and at least one overall as soon as there is an eligible record (every kind exists, even tiny runs)."""

    def __init__(self) -> None:
        self._carry: dict[tuple[str, str], float] = {}

    def take(self, kind: str, table: str, rate: float, eligible: int) -> int:
        if eligible <= 0:
            return 0
        want = rate * eligible + self._carry.get((kind, table), 1.0)
        count = min(int(want), eligible)
        self._carry[(kind, table)] = want - count
        return count


@dataclass
class _Kind:
    count: int = 0
    count_at_end: int = 0
    by_table: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    by_table_at_end: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    by_form: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    # Keys are per table (the bigint keys of two tables overlap): the truth's mixed ``ids`` list alone cannot
    # be attributed to a table.
    ids_by_table: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))
    ids_at_end_by_table: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))
    spans: list[dict[str, Any]] = field(default_factory=list)
    rows: int = 0


class DirtyLedger:
    """Every dirty record injected, by kind: the truth a test compares with what the database serves."""

    def __init__(self, *, end_us: int) -> None:
        self._end = end_us
        self._kinds: dict[str, _Kind] = {}

    def declare(self, kinds: Iterable[str]) -> None:
        for kind in kinds:
            self._kinds.setdefault(kind, _Kind())

    def add(
        self,
        kind: str,
        table: str,
        ids: Iterable[Any],
        visible_at: np.ndarray | Iterable[int],
        *,
        form: str | None = None,
    ) -> None:
        """Records of ``kind`` in ``table``; ``visible_at``: when each dirty version becomes visible."""
        ids = [i.item() if isinstance(i, np.generic) else i for i in ids]
        visible = np.asarray(list(visible_at) if not isinstance(visible_at, np.ndarray) else visible_at)
        if len(ids) != len(visible):
            raise ValueError(
                f"dirty kind {kind!r} in {table}: {len(ids)} ids but {len(visible)} visible times"
            )
        entry = self._kinds.setdefault(kind, _Kind())
        if not ids:
            return
        at_end = visible <= self._end
        entry.count += len(ids)
        entry.count_at_end += int(at_end.sum())
        entry.by_table[table] += len(ids)
        entry.by_table_at_end[table] += int(at_end.sum())
        if form is not None:
            entry.by_form[form] += len(ids)
        entry.ids_by_table[table].extend(ids)
        entry.ids_at_end_by_table[table].extend(i for i, seen in zip(ids, at_end, strict=True) if seen)

    def add_span(self, kind: str, table: str, span: dict[str, Any], *, visible_at: int, rows: int) -> None:
        """A span of readings (a stuck sensor, an offline gap): counted once, listed with its sensor."""
        entry = self._kinds.setdefault(kind, _Kind())
        entry.count += 1
        entry.count_at_end += int(visible_at <= self._end)
        entry.by_table[table] += 1
        entry.by_table_at_end[table] += int(visible_at <= self._end)
        entry.rows += rows
        entry.spans.append({"table": table} | span)

    def to_truth(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for kind, entry in sorted(self._kinds.items()):
            item: dict[str, Any] = {
                "count": entry.count,
                "count_at_end": entry.count_at_end,
                "by_table": dict(sorted(entry.by_table.items())),
                "by_table_at_end": {t: n for t, n in sorted(entry.by_table_at_end.items()) if n},
            }
            if entry.by_form:
                item["by_form"] = dict(sorted(entry.by_form.items()))
            if entry.spans:
                item["spans"] = entry.spans
                item["rows"] = entry.rows
            elif entry.count <= IDS_LIMIT:
                item["ids"] = _sorted_ids([i for ids in entry.ids_by_table.values() for i in ids])
                item["ids_by_table"] = {t: _sorted_ids(ids) for t, ids in sorted(entry.ids_by_table.items())}
                item["ids_at_end_by_table"] = {
                    t: _sorted_ids(ids) for t, ids in sorted(entry.ids_at_end_by_table.items()) if ids
                }
            out[kind] = item
        return out


def _sorted_ids(ids: list[Any]) -> list[Any]:
    return sorted(ids, key=lambda value: (str(type(value)), value))


class ExceedanceLedger:
    """Legitimate readings over a threshold of reference.md, by kind, as a client sees them at the clock's
    first "now" (``ctx.end``) and at the horizon: the truth the analysis downstream must find."""

    def __init__(self, *, end_us: int, horizon_us: int) -> None:
        self.end_us = end_us
        self.horizon_us = horizon_us
        self._count: dict[str, dict[str, int]] = defaultdict(lambda: {"count_at_end": 0, "count": 0})
        self._sensors: dict[str, dict[str, set[str]]] = defaultdict(lambda: {"at_end": set(), "all": set()})

    def declare(self, kinds: Iterable[str]) -> None:
        for kind in kinds:
            self._count[kind]
            self._sensors[kind]

    def add(
        self, kind: str, *, sensor: np.ndarray, labels: np.ndarray, at_end: np.ndarray, at_horizon: np.ndarray
    ) -> None:
        """Rows of one chunk: ``sensor`` indexes ``labels``; the masks say which rows are legitimate
        exceedances as served at ``ctx.end`` and at the horizon."""
        for when, key, mask in (("count_at_end", "at_end", at_end), ("count", "all", at_horizon)):
            self._count[kind][when] += int(mask.sum())
            self._sensors[kind][key].update(str(label) for label in labels[np.unique(sensor[mask])])

    def to_truth(self, rules: dict[str, tuple[str, str]]) -> dict[str, Any]:
        """``rules``: kind → (table, rule) as DIRTY_RULES words them."""
        out: dict[str, Any] = {}
        for kind, (table, rule) in rules.items():
            sensors = self._sensors[kind]
            out[kind] = {
                "table": table,
                "rule": rule,
                **self._count[kind],
                "sensors_at_end": sorted(sensors["at_end"]),
                "sensors": sorted(sensors["all"]),
            }
        return out


class LateCommits:
    """The platform commits in batches: a share of rows becomes visible a few minutes after its updated_at."""

    def __init__(self, rng: np.random.Generator, *, end_us: int) -> None:
        self._rng = rng
        self._end = end_us
        self.count = 0
        self.pending_at_end: dict[str, int] = defaultdict(int)

    def visible(
        self, table: str, updated_us: np.ndarray, *, eligible: np.ndarray | None = None
    ) -> np.ndarray:
        """When each row becomes visible; rows not ``eligible`` (planted ones) are never late."""
        n = len(updated_us)
        late = self._rng.random(n) < LATE_SHARE
        if eligible is not None:
            late &= eligible
        lag = self._rng.integers(LATE_MIN_S, LATE_MAX_S + 1, size=n) * SECOND
        visible = np.where(late, updated_us + lag, updated_us)
        self.count += int(late.sum())
        self.note(table, updated_us, visible, count=False)
        return visible

    def note(self, table: str, updated_us: np.ndarray, visible_us: np.ndarray, *, count: bool = True) -> None:
        """Account for rows whose visible times were derived elsewhere (e.g. ordered per case)."""
        if count:
            self.count += int((visible_us > updated_us).sum())
        pending = int(((updated_us <= self._end) & (visible_us > self._end)).sum())
        if pending:
            self.pending_at_end[table] += pending

    def to_truth(self) -> dict[str, Any]:
        return {
            "share": LATE_SHARE,
            "lag_seconds": [LATE_MIN_S, LATE_MAX_S],
            "count": self.count,
            "pending_at_end": dict(sorted(self.pending_at_end.items())),
        }


class Ids:
    """Sequential bigint keys per table."""

    def __init__(self) -> None:
        self._next: dict[str, int] = defaultdict(lambda: 1)

    def take(self, table: str, n: int) -> np.ndarray:
        first = self._next[table]
        self._next[table] = first + n
        return np.arange(first, first + n, dtype=np.int64)


@dataclass
class Run:
    """What every chunk builder shares: the context, the clock's bounds, the truth being written."""

    ctx: GenContext
    future_days: int
    ledger: DirtyLedger
    quota: Quota
    ids: Ids
    late: LateCommits
    exceedances: ExceedanceLedger
    _rngs: dict[str, np.random.Generator] = field(default_factory=dict)

    @cached_property
    def start_us(self) -> int:
        return int(self.ctx.start.timestamp()) * SECOND

    @cached_property
    def end_us(self) -> int:
        return int(self.ctx.end.timestamp()) * SECOND

    @cached_property
    def horizon_us(self) -> int:
        return int(self.ctx.horizon.timestamp()) * SECOND

    @property
    def days(self) -> int:
        """Day chunks generated: the span and the sensors' near future."""
        return self.ctx.days + self.future_days

    def day_start(self, day: int) -> int:
        return self.start_us + day * DAY

    def month(self, day: int) -> int:
        return datetime.fromtimestamp(self.day_start(day) / SECOND, TZ).month

    def weekday(self, day: int) -> int:
        return datetime.fromtimestamp(self.day_start(day) / SECOND, TZ).weekday()

    def spans_allowed(self, day: int) -> bool:
        """Stuck sensors, offline gaps and case-step anomalies are planted in the span's days but its last,
        so that they are whole (and counted the same) when the clock stands at the end."""
        return day < self.ctx.days - 1

    def rng(self, stream: str) -> np.random.Generator:
        if stream not in self._rngs:
            self._rngs[stream] = rng_for(self.ctx.seed, f"citymgmt.{stream}")
        return self._rngs[stream]
