"""Generate the 12345 hotline platform: work orders and every version of their lifecycle.

Volume: about ``DAILY_ORDERS`` orders a day at scale 1.0, Poisson per (day, service) with the weekday and the
service's seasonal multiplier; hour by the service's diurnal profile, community by the world's weights, a unit
grid of that community and a point near its centroid. The scenario's planted orders (repeat hotspots, fume
complaints, long-standing problems) are added with exactly their ids, times and places. Background ids are the
local date and 8 digits in 10000000-89999999 (the ``9`` range is the scenario's), increasing with the received
time within a day.

Lifecycle, one version per step (visible from the step time, served ``updated_datetime`` = the step time):
received (open) → dispatched to the street office of the place or the service's unit → accepted, or (about
``TRANSFER_RATE``) returned (退单, with a reason) and re-dispatched (转派) to another unit, then accepted →
responded (first contact; slow units such as D04, D06 take about a day) → resolved with a reply (closed) →
return visit 1-3 days later. Steps after ``ctx.horizon`` are not generated, so late orders are open at
``ctx.end`` and change as the clock moves. ``is_excluded`` turns true at the resolution step.

Dirty data (hotline.md), each at ``DIRTY_RATES[kind]`` of all orders (at least one while background orders are
left to spoil), on background orders only, one kind per order, and never by chance (clean values are built so
that they cannot look dirty):

- ``lat_long_swapped``: lat and long exchanged, in every version.
- ``lat_long_zero``: lat and long both 0, in every version.
- ``outside_beijing``: a point in another city (outside ``BEIJING_BOX``), in every version.
- ``street_code_missing``: ``extended_attributes.street_code`` is null, in every version.
- ``street_code_not_dongcheng``: a 9-digit street code of another district (110102..., 110105...), every
  version.
- ``duplicate_on_page``: the server repeats the order right after itself on any page where it appears.
- ``updated_goes_backwards``: the version current at ``ctx.end`` (never the first; the order changes again
  after ``ctx.end``) is served with an ``updated_datetime`` earlier than the previous version's, hence
  earlier than the latest event time it carries itself. Versions after ``ctx.end`` never go backwards.
- ``time_without_offset``: every datetime of the order, in every version, is local time without an offset.
- ``time_unparseable``: ``requested_datetime`` is not a valid time (e.g. ``0000-00-00 00:00:00``), in every
  version.
- ``fullwidth_codes``: one of street_code, community_code, service_code carries full-width digits or a
  full-width space, in every version.
- ``unknown_service_code``: ``service_code`` is a code that /services.json does not list, in every version.
- ``description_control_chars``: control characters (U+0000-U+001F, U+007F) in the description, in every
  version.
- ``description_too_long``: a description of more than 4000 characters, in every version.

The server's listing filters work on the served ``service_code`` and on the true received time and status.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from datetime import timedelta
from typing import Any

import numpy as np
import pyarrow as pa

from gridlake.reference import communities, streets
from gridlake.settings import get_settings
from simulators.fake import person_names, phone_numbers
from simulators.generate import GenContext, PlatformResult
from simulators.hotline import texts
from simulators.store import write_versions
from simulators.world import HOURS, SEASONS, WEEKDAYS, Service, Unit, World, rng_for

__all__ = [
    "BEIJING_BOX",
    "DAILY_ORDERS",
    "DIRTY_RATES",
    "TRANSFER_RATE",
    "generate",
    "service_body",
]

DAILY_ORDERS = 920.0
TRANSFER_RATE = 0.08
UNREACHABLE_RATE = 0.08
EXCLUDED_RATE = 0.03
# Beijing municipality's bounding box (lat_min, lat_max, lon_min, lon_max): "outside Beijing" is outside it.
BEIJING_BOX = (39.44, 41.06, 115.42, 117.51)

DIRTY_RATES: dict[str, float] = {
    "lat_long_swapped": 0.004,
    "lat_long_zero": 0.004,
    "outside_beijing": 0.003,
    "street_code_missing": 0.01,
    "street_code_not_dongcheng": 0.004,
    "duplicate_on_page": 0.003,
    "updated_goes_backwards": 0.003,
    "time_without_offset": 0.005,
    "time_unparseable": 0.002,
    "fullwidth_codes": 0.005,
    "unknown_service_code": 0.003,
    "description_control_chars": 0.004,
    "description_too_long": 0.002,
}

# Lifecycle steps (columns of the step-time matrix).
_RECEIVED, _DISPATCHED, _RETURNED, _REDISPATCHED, _ACCEPTED, _RESPONDED, _RESOLVED, _VISITED = range(8)
_N_STEPS = 8
_HOUR = 3600
_DAY = 86400

# Where a street office sends back an order of each group (the department then takes it).
_TRANSFER_DEPARTMENT = {
    "dust": "D03", "fume": "D03", "garbage": "D01", "cleaning": "D01", "street_order": "D02",
    "facilities": "D01", "parking": "D06", "heavy_vehicle": "D03", "property": "D04", "utilities": "D12",
    "social": "D11", "other": "D05",
}
_REQUEST_TYPES = ("complaint", "report", "help", "consult", "suggestion", "praise")
_REQUEST_TYPE_P = (0.42, 0.08, 0.28, 0.12, 0.06, 0.04)
_REQUEST_TYPE_CN = {"complaint": "反映", "report": "举报", "help": "求助", "consult": "咨询",
                    "suggestion": "建议", "praise": "表扬"}
_CHANNELS = ("phone", "app", "wechat", "web", "weibo", "mayor_mailbox")
_CHANNEL_P = (0.70, 0.10, 0.11, 0.05, 0.01, 0.03)
_SATISFACTION = ("satisfied", "basically_satisfied", "unsatisfied")
_SATISFACTION_P = {True: (0.2, 0.3, 0.5), False: (0.78, 0.15, 0.07)}  # by service.dispute
_RESOLVED_P = {True: (0.9, 0.6, 0.15), False: (0.97, 0.8, 0.3)}  # P(is_resolved | satisfaction, dispute)
_OTHER_CITIES = ((31.2304, 121.4737), (39.0842, 117.2010), (38.0428, 114.5149), (22.5431, 114.0579),
                 (30.5728, 104.0668))
_FOREIGN_STREET_PREFIXES = (("110102", 15), ("110105", 43), ("110106", 24))
_CONTROL_CHARS = ("\x00", "\x07", "\x08", "\x0b", "\x0c", "\x1b", "\r", "\x7f")
_FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
_LONG_FILLER = "这个问题反复出现，多次反映仍未得到彻底解决，周边居民意见很大，"


@dataclass
class _Orders:
    """The orders as columns (numpy arrays of one length), background and planted alike."""

    request_id: np.ndarray  # str
    planted: np.ndarray  # 0 background, 1 repeat hotspot, 2 fume complaint, 3 other long-standing problem
    requested: np.ndarray  # epoch seconds
    service: np.ndarray  # index into world.services
    community: np.ndarray  # index into world.community_codes
    grid: np.ndarray  # row of world.grids
    lat: np.ndarray
    lon: np.ndarray
    uscc: np.ndarray  # object: the restaurant a planted order names, else None
    restaurant: np.ndarray  # object: its name, else None

    def __len__(self) -> int:
        return len(self.request_id)

    @classmethod
    def concat(cls, parts: list[_Orders]) -> _Orders:
        return cls(**{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)})

    def take(self, index: np.ndarray) -> _Orders:
        return _Orders(**{f.name: getattr(self, f.name)[index] for f in fields(self)})


@dataclass
class _GridIndex:
    """The world's unit grids grouped by community: rows ``order[start[c]:start[c] + count[c]]``."""

    order: np.ndarray
    start: np.ndarray
    count: np.ndarray
    lat: np.ndarray
    lon: np.ndarray

    @classmethod
    def of(cls, world: World) -> _GridIndex:
        position = {code: k for k, code in enumerate(world.community_codes.tolist())}
        grid_comm = np.array([position[c] for c in world.grids["community_code"].to_pylist()])
        order = np.argsort(grid_comm, kind="stable")
        count = np.bincount(grid_comm, minlength=len(world.community_codes))
        start = np.concatenate([[0], np.cumsum(count)[:-1]])
        return cls(order=order, start=start, count=count,
                   lat=world.grids["centroid_lat"].to_numpy(), lon=world.grids["centroid_lon"].to_numpy())

    def random_grid(self, rng: np.random.Generator, community: np.ndarray) -> np.ndarray:
        pick = (rng.random(len(community)) * self.count[community]).astype(np.int64)
        return self.order[self.start[community] + pick]

    def nearest_grid(self, community: int, lat: float, lon: float) -> int:
        rows = self.order[self.start[community]:self.start[community] + self.count[community]]
        return int(rows[np.argmin((self.lat[rows] - lat) ** 2 + (self.lon[rows] - lon) ** 2)])

    def near_centroid(self, rng: np.random.Generator, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lat = self.lat[grid] + rng.uniform(-0.0008, 0.0008, size=len(grid))
        lon = self.lon[grid] + rng.uniform(-0.0008, 0.0008, size=len(grid))
        return np.round(lat, 6), np.round(lon, 6)


def _background(ctx: GenContext, rng: np.random.Generator, grids: _GridIndex) -> _Orders:
    """Poisson volumes per (day, service), then hour, community, grid and point, all vectorised."""
    world, services = ctx.world, ctx.world.services
    day_starts = [ctx.start + timedelta(days=k) for k in range(ctx.days)]
    weekday = np.array([WEEKDAYS[d.weekday()] for d in day_starts])
    season = np.array([[SEASONS[s.season][d.month - 1] for s in services] for d in day_starts])
    share = np.array([s.share for s in services])
    lam = DAILY_ORDERS * world.scale * weekday[:, None] * season * share[None, :]
    per_cell = rng.poisson(lam).ravel()
    cell = np.repeat(np.arange(per_cell.size), per_cell)
    day, service = cell // len(services), cell % len(services)
    n = len(cell)

    profiles = sorted({s.hours for s in services})
    profile = np.array([profiles.index(s.hours) for s in services])[service]
    hour = np.zeros(n, dtype=np.int64)
    for k, name in enumerate(profiles):
        mask = profile == k
        weights = np.array(HOURS[name])
        hour[mask] = rng.choice(24, size=int(mask.sum()), p=weights / weights.sum())
    start_s = int(ctx.start.timestamp())
    requested = start_s + day * _DAY + hour * _HOUR + rng.integers(0, _HOUR, size=n)

    community = rng.choice(len(world.community_codes), size=n, p=world.community_weight)
    grid = grids.random_grid(rng, community)
    lat, lon = grids.near_centroid(rng, grid)

    # Ids: the local date and a sequence that grows with the received time within the day.
    order = np.lexsort((requested, day))
    requested, day, service, community, grid, lat, lon = (
        a[order] for a in (requested, day, service, community, grid, lat, lon))
    per_day = np.bincount(day, minlength=ctx.days)
    step_max = max(2, min(2000, 70_000_000 // max(1, int(per_day.max(initial=1)))))
    increments = rng.integers(1, step_max, size=n)
    cumulative = np.cumsum(increments)
    day_first = np.concatenate([[0], np.cumsum(per_day)[:-1]])
    before_day = np.concatenate([[0], cumulative])[day_first]
    base = rng.integers(10_000_000, 20_000_000, size=ctx.days)
    sequence = base[day] + cumulative - before_day[day]
    dates = [f"{d:%Y%m%d}" for d in day_starts]
    request_id = np.array([f"{dates[d]}{s:08d}" for d, s in zip(day.tolist(), sequence.tolist())],
                          dtype=object)
    none = np.full(n, None, dtype=object)
    return _Orders(request_id=request_id, planted=np.zeros(n, dtype=np.int8), requested=requested,
                   service=service, community=community, grid=grid, lat=lat, lon=lon, uscc=none,
                   restaurant=none.copy())


def _planted(ctx: GenContext, rng: np.random.Generator, grids: _GridIndex) -> _Orders:
    """The scenario's orders: repeat hotspots, long-standing problems and fume complaints, with exactly their ids
    and places."""
    world = ctx.world
    service_index = {s.service_code: k for k, s in enumerate(world.services)}
    community_index = {code: k for k, code in enumerate(world.community_codes.tolist())}
    rows: list[dict[str, Any]] = []
    for spot in ctx.scenario.hotspots:
        for request_id, at in zip(spot.request_ids, spot.requested_at):
            rows.append({"request_id": request_id, "planted": 1, "requested": int(at.timestamp()),
                         "service": service_index[spot.service_code],
                         "community": community_index[spot.community_code], "uscc": None,
                         "restaurant": None})
    for problem in ctx.scenario.long_standing:
        # a long-standing repeat hotspot is closed as resolved each time, as a repeat hotspot is
        for request_id, at in zip(problem.request_ids, problem.requested_at):
            rows.append({"request_id": request_id, "planted": 1 if problem.rule == "repeat_hotspot" else 3,
                         "requested": int(at.timestamp()), "service": service_index[problem.service_code],
                         "community": community_index[problem.community_code], "uscc": None, "restaurant": None})
    for chain in ctx.scenario.fume_chains:
        community = community_index[chain.community_code]
        for complaint in chain.complaints:
            rows.append({"request_id": complaint.request_id, "planted": 2,
                         "requested": int(complaint.requested_at.timestamp()),
                         "service": service_index["102001"],
                         "community": community, "uscc": chain.uscc, "restaurant": chain.restaurant_name,
                         "grid": grids.nearest_grid(community, complaint.lat, complaint.lon),
                         "lat": complaint.lat, "lon": complaint.lon})
    n = len(rows)
    community = np.array([r["community"] for r in rows], dtype=np.int64)
    grid = grids.random_grid(rng, community)
    lat, lon = grids.near_centroid(rng, grid)
    for k, row in enumerate(rows):
        if "grid" in row:
            grid[k], lat[k], lon[k] = row["grid"], row["lat"], row["lon"]
    return _Orders(
        request_id=np.array([r["request_id"] for r in rows], dtype=object),
        planted=np.array([r["planted"] for r in rows], dtype=np.int8),
        requested=np.array([r["requested"] for r in rows], dtype=np.int64),
        service=np.array([r["service"] for r in rows], dtype=np.int64),
        community=community, grid=grid, lat=lat, lon=lon,
        uscc=np.array([r["uscc"] for r in rows] or [], dtype=object).reshape(n),
        restaurant=np.array([r["restaurant"] for r in rows] or [], dtype=object).reshape(n),
    )


def _lognormal_s(rng: np.random.Generator, median_h: np.ndarray, sigma: np.ndarray | float,
                 *, low_s: int, high_s: int) -> np.ndarray:
    seconds = rng.lognormal(np.log(median_h * _HOUR), sigma)
    return np.clip(np.round(seconds), low_s, high_s).astype(np.int64)


def _iso_matrix(seconds: np.ndarray, suffix: np.ndarray, offset_s: int) -> np.ndarray:
    """Local ISO 8601 strings of epoch seconds (-1: None), each order with its own offset suffix."""
    local = (np.where(seconds >= 0, seconds, 0) + offset_s).astype("datetime64[s]")
    text = np.char.add(np.datetime_as_string(local, unit="s").astype(str),
                       suffix.reshape(suffix.shape + (1,) * (seconds.ndim - 1)).astype(str))
    return np.where(seconds >= 0, text.astype(object), None)


def service_body(service: Service) -> dict[str, Any]:
    """A service as /services.json lists it (Open311 fields and the group)."""
    return {
        "service_code": service.service_code,
        "service_name": service.service_name,
        "description": f"{texts.group_label(service.group)}类诉求：{service.service_name}",
        "metadata": False,
        "type": "realtime",
        "keywords": ",".join(service.keywords or (service.service_name,)),
        "group": service.group,
    }


def _choose_dirty(rng: np.random.Generator, *, n: int, background: np.ndarray,
                  backwards_eligible: np.ndarray) -> dict[str, np.ndarray]:
    """Disjoint sets of background orders per dirty kind, at DIRTY_RATES of all orders (at least one each)."""
    wanted = {kind: max(1, round(rate * n)) for kind, rate in DIRTY_RATES.items()}
    chosen: dict[str, np.ndarray] = {}
    eligible = np.flatnonzero(background & backwards_eligible)
    chosen["updated_goes_backwards"] = np.sort(
        rng.choice(eligible, size=min(wanted["updated_goes_backwards"], len(eligible)), replace=False))
    taken = np.zeros(n, dtype=bool)
    taken[chosen["updated_goes_backwards"]] = True
    pool = rng.permutation(np.flatnonzero(background & ~taken))
    at = 0
    for kind in DIRTY_RATES:
        if kind == "updated_goes_backwards":
            continue
        size = min(wanted[kind], len(pool) - at)
        chosen[kind] = np.sort(pool[at:at + size])
        at += size
    return {kind: chosen[kind] for kind in DIRTY_RATES}


def _unparseable(rng: np.random.Generator, local_text: str) -> str:
    day, clock = local_text[:10], local_text[11:19]
    variants = (
        "0000-00-00 00:00:00",
        f"{day[:8]}32T{clock}+08:00",
        f"{day}T25{clock[2:]}+08:00",
        f"{day[:4]}年{day[5:7]}月{day[8:10]}日 {clock[:2]}时{clock[3:5]}分",
        "NaN",
    )
    return variants[int(rng.integers(0, len(variants)))]


@dataclass
class _Attributes:
    """What the call taker records, per order: the matter's group and urgency, place, type, channel."""

    group: np.ndarray
    urgency: np.ndarray
    dispute: np.ndarray  # bool: a matter where interests conflict
    street: np.ndarray  # the street of the place (clean)
    request_type: np.ndarray
    channel: np.ndarray


@dataclass
class _Lifecycle:
    """Step times (epoch seconds; -1: no such step, or beyond the horizon) and the units that held it."""

    steps: np.ndarray  # (orders, _N_STEPS)
    present: np.ndarray  # steps >= 0
    unit1: np.ndarray  # the first unit dispatched to
    unit2: np.ndarray  # the unit re-dispatched to after a return, else None
    final: np.ndarray  # the unit that handled it
    transferred: np.ndarray  # bool
    return_reason: np.ndarray


@dataclass
class _Outcome:
    satisfaction: np.ndarray
    is_resolved: np.ndarray
    reply: np.ndarray
    excluded: np.ndarray  # bool, shown from the resolution step on


@dataclass
class _Callers:
    names: np.ndarray
    phones: np.ndarray
    repeat_of: np.ndarray  # the earlier order's id, else None
    linked: np.ndarray  # bool: repeat_of set
    unlinked: np.ndarray  # bool: the same caller about the same matter within 7 days, not linked


@dataclass
class _Served:
    """The values as the platform serves them: clean, then spoiled per dirty kind."""

    kind: np.ndarray  # the order's dirty kind, else None
    lat: np.ndarray
    lon: np.ndarray
    street_code: np.ndarray
    community_code: np.ndarray
    service_code: np.ndarray
    requested: np.ndarray  # requested_datetime text
    steps: np.ndarray  # (orders, _N_STEPS) texts of the step times
    expected: np.ndarray
    backwards: np.ndarray  # epoch seconds of the backwards updated_datetime, else -1
    backwards_text: np.ndarray
    visible_at_end: np.ndarray  # versions visible at ctx.end: the backwards one is the last of them
    description: np.ndarray
    address: np.ndarray
    zipcode: np.ndarray
    grid_code: np.ndarray
    media: np.ndarray  # bool


def _attributes(ctx: GenContext, rng: np.random.Generator, orders: _Orders) -> _Attributes:
    services = ctx.world.services
    n = len(orders)
    background = orders.planted == 0
    request_type = np.where(background, rng.choice(_REQUEST_TYPES, size=n, p=_REQUEST_TYPE_P), "complaint")
    return _Attributes(
        group=np.array([s.group for s in services])[orders.service],
        urgency=np.array([s.urgency for s in services])[orders.service],
        dispute=np.array([s.dispute for s in services])[orders.service],
        street=ctx.world.community_street[orders.community],
        request_type=request_type,
        channel=rng.choice(_CHANNELS, size=n, p=_CHANNEL_P),
    )


def _lifecycle(ctx: GenContext, rng: np.random.Generator, orders: _Orders, attrs: _Attributes) -> _Lifecycle:
    """Units and step times, vectorised; each step comes at least a minute after the one before."""
    world, n = ctx.world, len(orders)
    background, planted = orders.planted == 0, orders.planted
    handler = np.array([s.handler for s in world.services])[orders.service]
    unit1 = np.where(handler == "street", attrs.street, handler).astype(object)
    transferred = background & (rng.random(n) < TRANSFER_RATE)
    department = np.array([_TRANSFER_DEPARTMENT[g] for g in attrs.group.tolist()], dtype=object)
    unit2 = np.where(transferred, np.where(handler == "street", department, attrs.street), None)
    final = np.where(transferred, unit2, unit1)
    respond_hours = np.array([world.unit_by_code[u].respond_hours for u in final.tolist()])
    slow = respond_hours >= 12
    urgent = attrs.urgency != "normal"
    quick = np.isin(attrs.request_type, ("consult", "praise"))

    steps = np.full((n, _N_STEPS), -1, dtype=np.int64)
    steps[:, _RECEIVED] = orders.requested
    steps[:, _DISPATCHED] = orders.requested + np.where(
        urgent, rng.integers(300, 1800, size=n),
        _lognormal_s(rng, np.full(n, 0.67), 0.7, low_s=300, high_s=8 * _HOUR))
    returned_at = steps[:, _DISPATCHED] + rng.integers(_HOUR, 12 * _HOUR, size=n)
    redispatched_at = returned_at + rng.integers(1200, 4 * _HOUR, size=n)
    steps[:, _RETURNED] = np.where(transferred, returned_at, -1)
    steps[:, _REDISPATCHED] = np.where(transferred, redispatched_at, -1)
    last_dispatch = np.where(transferred, redispatched_at, steps[:, _DISPATCHED])
    steps[:, _ACCEPTED] = last_dispatch + np.where(urgent, rng.integers(120, 1200, size=n),
                                                   rng.integers(300, 3 * _HOUR, size=n))
    # First contact: about the unit's respond_hours (slow units take a day), urgent matters within ~2 h.
    respond_median = np.where(urgent, np.minimum(respond_hours, 0.6), respond_hours)
    respond_sigma = np.where(slow, 0.3, np.where(urgent, 0.6, 0.8))
    respond_delay = _lognormal_s(rng, respond_median, respond_sigma, low_s=120, high_s=10 * _DAY)
    steps[:, _RESPONDED] = steps[:, _ACCEPTED] + np.where(planted > 0, np.minimum(respond_delay, 12 * _HOUR),
                                                          respond_delay)
    resolve_median = np.where(urgent, 5.0, np.where(quick, 6.0, np.where(attrs.dispute, 72.0, 40.0)))
    resolve_delay = _lognormal_s(rng, resolve_median, np.where(urgent | quick, 0.6, 0.8), low_s=1800,
                                 high_s=30 * _DAY)
    # A hotspot's orders are closed as resolved before the matter comes back (kpis.md, 屡治屡返).
    resolve_delay = np.where(planted == 1, rng.integers(4 * _HOUR, 30 * _HOUR, size=n), resolve_delay)
    steps[:, _RESOLVED] = steps[:, _RESPONDED] + resolve_delay
    # The call-back: 1-3 days after the resolution, in working hours (09:00-19:59 local).
    offset_s = _offset_s(ctx)
    resolved_day = (steps[:, _RESOLVED] + offset_s) // _DAY * _DAY - offset_s
    steps[:, _VISITED] = (resolved_day + rng.integers(1, 4, size=n) * _DAY + 9 * _HOUR
                          + rng.integers(0, 11 * _HOUR, size=n))
    # Steps increase, so dropping those beyond the horizon leaves a prefix of the lifecycle.
    steps[steps > int(ctx.horizon.timestamp())] = -1
    reasons = np.array(texts.RETURN_REASONS, dtype=object)[rng.integers(0, len(texts.RETURN_REASONS), size=n)]
    return _Lifecycle(steps=steps, present=steps >= 0, unit1=unit1, unit2=unit2, final=final,
                      transferred=transferred, return_reason=reasons)


def _outcomes(rng: np.random.Generator, orders: _Orders, attrs: _Attributes, life: _Lifecycle) -> _Outcome:
    """The reply and the return visit: disputes mostly unsatisfied, others mostly satisfied."""
    n = len(orders)
    background = orders.planted == 0
    u, r = rng.random(n), rng.random(n)
    satisfaction = np.empty(n, dtype=object)
    is_resolved = np.zeros(n, dtype=bool)
    for flag in (True, False):
        mask = attrs.dispute == flag
        p = np.cumsum(_SATISFACTION_P[flag])
        level = np.searchsorted(p, u[mask] * p[-1], side="right")
        satisfaction[mask] = np.array(_SATISFACTION, dtype=object)[level]
        is_resolved[mask] = r[mask] < np.array(_RESOLVED_P[flag])[level]
    unreachable = background & (rng.random(n) < UNREACHABLE_RATE)
    satisfaction[unreachable] = "unreachable"
    is_resolved[unreachable] = False  # the call-back could not ask
    satisfaction[orders.planted == 1] = "satisfied"
    is_resolved[orders.planted == 1] = True
    unresolved = np.array(texts.UNRESOLVED_REPLIES, dtype=object)
    resolved = np.array(texts.REPLIES, dtype=object)
    reply = np.where(attrs.dispute & (satisfaction == "unsatisfied"),
                     unresolved[rng.integers(0, len(unresolved), size=n)],
                     resolved[rng.integers(0, len(resolved), size=n)])
    excluded = background & life.present[:, _RESOLVED] & (rng.random(n) < EXCLUDED_RATE)
    return _Outcome(satisfaction=satisfaction, is_resolved=is_resolved, reply=reply, excluded=excluded)


def _callers(rng: np.random.Generator, orders: _Orders) -> _Callers:
    """Complainants (distinct unless a repeat) and repeats of an earlier order of one place and matter."""
    n = len(orders)
    names = np.array(person_names(rng, n), dtype=object)
    phones = np.array(phone_numbers(rng, n), dtype=object)
    by_place = np.lexsort((orders.requested, orders.service, orders.community))
    same_place = np.zeros(n, dtype=bool)
    same_place[1:] = ((orders.service[by_place][1:] == orders.service[by_place][:-1])
                      & (orders.community[by_place][1:] == orders.community[by_place][:-1]))
    previous = np.full(n, -1, dtype=np.int64)
    previous[by_place[1:][same_place[1:]]] = by_place[:-1][same_place[1:]]
    gap = np.where(previous >= 0, orders.requested - orders.requested[np.maximum(previous, 0)], 10**9)
    draw = rng.random(n)
    candidate = (orders.planted == 0) & (previous >= 0)
    linked = candidate & (gap <= 14 * _DAY) & (draw < 0.35)
    unlinked = candidate & (gap <= 7 * _DAY) & ~linked & (draw >= 0.65)
    repeat_of = np.where(linked, orders.request_id[np.maximum(previous, 0)], None)
    repeats = np.flatnonzero(linked | unlinked)
    for k in repeats[np.argsort(orders.requested[repeats], kind="stable")]:
        # In time order, so that a chain of repeats passes the first caller on to every later order.
        names[k], phones[k] = names[previous[k]], phones[previous[k]]
    return _Callers(names=names, phones=phones, repeat_of=repeat_of, linked=linked, unlinked=unlinked)


def _descriptions(ctx: GenContext, rng: np.random.Generator, orders: _Orders, attrs: _Attributes,
                  callers: _Callers) -> tuple[np.ndarray, np.ndarray]:
    """The citizen's words and the address, per order (clean)."""
    world, services, n = ctx.world, ctx.world.services, len(orders)
    community_name = {c.community_code: c.community_name.replace("社区居委会", "社区") for c in communities()}
    street_name = {s.street_code: s.street_name for s in streets()}
    building = rng.integers(1, 120, size=n).tolist()
    detail_pick = rng.integers(0, 2, size=n).tolist()
    ask_pick = rng.integers(0, len(texts.ASKS), size=n).tolist()
    descriptions = np.empty(n, dtype=object)
    addresses = np.empty(n, dtype=object)
    for k in range(n):
        service = services[orders.service[k]]
        place = f"{community_name[world.community_codes[orders.community[k]]]}{building[k]}号"
        addresses[k] = f"北京市东城区{street_name[attrs.street[k]]}{place}"
        ask = texts.REPEAT_ASK if callers.linked[k] or callers.unlinked[k] else texts.ASKS[ask_pick[k]]
        kind = attrs.request_type[k]
        details = texts.SERVICE_DETAILS.get(service.service_code, (f"{service.service_name}方面的问题",))
        detail = details[detail_pick[k] % len(details)]
        if orders.restaurant[k] is not None:
            descriptions[k] = (f"来电人反映：{place}附近的{orders.restaurant[k]}油烟扰民，每天傍晚开始排烟，"
                               f"味道很大，家里窗户都不敢开。{ask}")
        elif kind == "consult":
            descriptions[k] = f"来电人咨询：{service.service_name}相关政策和办理流程，希望给予解答。"
        elif kind == "praise":
            descriptions[k] = f"来电人表扬：此前反映的{service.service_name}问题处理及时，对工作人员表示感谢。"
        elif kind == "suggestion":
            descriptions[k] = f"来电人建议：{place}附近{detail}，建议加强管理。"
        else:
            descriptions[k] = f"来电人{_REQUEST_TYPE_CN[kind]}：{place}附近{detail}，{ask}"
    return descriptions, addresses


def _served(ctx: GenContext, rng: np.random.Generator, orders: _Orders, attrs: _Attributes, life: _Lifecycle,
            callers: _Callers) -> _Served:
    """Choose the dirty orders and build every served value, spoiled as their kind says."""
    world, n = ctx.world, len(orders)
    end_s = int(ctx.end.timestamp())
    visible_at_end = (life.present & (life.steps <= end_s)).sum(axis=1)
    changes_later = life.present.sum(axis=1) > visible_at_end
    dirty = _choose_dirty(rng, n=n, background=orders.planted == 0,
                          backwards_eligible=(visible_at_end >= 2) & changes_later)
    kind = np.full(n, None, dtype=object)
    for name, index in dirty.items():
        kind[index] = name

    # Times.
    offset_s = _offset_s(ctx)
    sign, magnitude = ("+" if offset_s >= 0 else "-"), abs(offset_s)
    offset_text = f"{sign}{magnitude // 3600:02d}:{magnitude % 3600 // 60:02d}"
    suffix = np.where(kind == "time_without_offset", "", offset_text)
    step_text = _iso_matrix(life.steps, suffix, offset_s)
    limits = {u: int(get_settings().hotline.for_urgency(u).resolve.total_seconds())
              for u in set(attrs.urgency.tolist())}
    expected = orders.requested + np.array([limits[u] for u in attrs.urgency.tolist()], dtype=np.int64)
    requested = step_text[:, _RECEIVED].copy()
    for k in dirty["time_unparseable"]:
        requested[k] = _unparseable(rng, requested[k])
    backwards = np.full(n, -1, dtype=np.int64)
    for k in dirty["updated_goes_backwards"]:
        previous = life.steps[k][life.present[k]][visible_at_end[k] - 2]
        backwards[k] = previous - int(rng.integers(600, 6 * _HOUR))

    # Places.
    lat, lon = orders.lat.astype(float), orders.lon.astype(float)
    index = dirty["lat_long_swapped"]
    lat[index], lon[index] = orders.lon[index], orders.lat[index]
    index = dirty["lat_long_zero"]
    lat[index], lon[index] = 0.0, 0.0
    index = dirty["outside_beijing"]
    city = np.array(_OTHER_CITIES)[rng.integers(0, len(_OTHER_CITIES), size=len(index))]
    lat[index] = np.round(city[:, 0] + rng.uniform(-0.02, 0.02, size=len(index)), 6)
    lon[index] = np.round(city[:, 1] + rng.uniform(-0.02, 0.02, size=len(index)), 6)

    # Codes.
    service_code = np.array([s.service_code for s in world.services], dtype=object)[orders.service]
    street_code = attrs.street.astype(object)
    community_code = world.community_codes[orders.community].astype(object)
    street_code[dirty["street_code_missing"]] = None
    for k in dirty["street_code_not_dongcheng"]:
        prefix, count = _FOREIGN_STREET_PREFIXES[int(rng.integers(0, len(_FOREIGN_STREET_PREFIXES)))]
        street_code[k] = f"{prefix}{int(rng.integers(1, count + 1)):03d}"
    for k in dirty["fullwidth_codes"]:
        column = (street_code, community_code, service_code)[int(rng.integers(0, 3))]
        code = column[k]
        if rng.random() < 0.5:
            column[k] = code.translate(_FULLWIDTH)
        else:
            cut = int(rng.integers(1, len(code)))
            column[k] = code[:cut] + "\u3000" + code[cut:]
    for k in dirty["unknown_service_code"]:
        service_code[k] = f"1{int(rng.integers(12, 19))}{int(rng.integers(1, 30)):03d}"  # no group 112-118

    # Words.
    description, address = _descriptions(ctx, rng, orders, attrs, callers)
    for k in dirty["description_control_chars"]:
        text = description[k]
        # By index: a numpy string array would drop a trailing NUL.
        for pick in rng.integers(0, len(_CONTROL_CHARS), size=int(rng.integers(1, 4))).tolist():
            cut = int(rng.integers(1, len(text)))
            text = text[:cut] + _CONTROL_CHARS[pick] + text[cut:]
        description[k] = text
    for k in dirty["description_too_long"]:
        target = int(rng.integers(4100, 6001))
        description[k] = (description[k] + "补充说明："
                          + _LONG_FILLER * (target // len(_LONG_FILLER) + 1))[:target]

    street_position = {s.street_code: k for k, s in enumerate(streets())}
    zipcodes = np.array(texts.STREET_ZIPCODES, dtype=object)
    zipcode = zipcodes[[street_position[s] for s in attrs.street.tolist()]]
    return _Served(
        kind=kind, lat=lat, lon=lon, street_code=street_code, community_code=community_code,
        service_code=service_code, requested=requested, steps=step_text,
        expected=_iso_matrix(expected, suffix, offset_s), backwards=backwards,
        backwards_text=_iso_matrix(backwards, suffix, offset_s), visible_at_end=visible_at_end,
        description=description, address=address,
        zipcode=zipcode,
        grid_code=world.grids["grid_code"].to_numpy(zero_copy_only=False)[orders.grid],
        media=np.isin(attrs.channel, ("app", "wechat", "web")) & (rng.random(n) < 0.4),
    )


_STEP_NOTES = {_RECEIVED: "已受理，待派单", _RESPONDED: "承办单位已与来电人联系", _RESOLVED: "已办结",
               _VISITED: "已回访"}
_VERSION_COLUMNS = ("entity_id", "visible_from", "updated", "body", "requested", "status", "service_code",
                    "dup_on_page")


def _dispatch(unit: Unit, dispatched_at: str) -> dict[str, Any]:
    return {"unit_code": unit.unit_code, "unit_name": unit.unit_name, "unit_type": unit.unit_type,
            "dispatched_at": dispatched_at, "accepted_at": None, "returned_at": None, "return_reason": None}


def _versions(ctx: GenContext, orders: _Orders, attrs: _Attributes, life: _Lifecycle, outcome: _Outcome,
              callers: _Callers, served: _Served) -> dict[str, list[Any]]:
    """Every version of every order: its JSON body (Open311 fields, extended_attributes), its columns."""
    world, settings = ctx.world, get_settings()
    notices = {}
    for level in set(attrs.urgency.tolist()):
        limit = settings.hotline.for_urgency(level)
        notices[level] = (f"{'紧急诉求：' if level != 'normal' else ''}"
                          f"{_hours(limit.respond)}内联系来电人，{_hours(limit.resolve)}内办结")
    rows: dict[str, list[Any]] = {name: [] for name in _VERSION_COLUMNS}
    for k in range(len(orders)):
        u1 = world.unit_by_code[life.unit1[k]]
        u2 = world.unit_by_code[life.unit2[k]] if life.transferred[k] else None
        times = served.steps[k]
        service = world.services[orders.service[k]]
        complainant = {"name": callers.names[k], "phone": callers.phones[k]}
        for v, step in enumerate(np.flatnonzero(life.present[k]).tolist()):
            dispatches: list[dict[str, Any]] = []
            agency = None
            if step >= _DISPATCHED:
                dispatches.append(_dispatch(u1, times[_DISPATCHED]))
                agency = u1.unit_name
            if u2 is not None and step >= _RETURNED:
                dispatches[0].update(returned_at=times[_RETURNED], return_reason=life.return_reason[k])
                agency = None
            if u2 is not None and step >= _REDISPATCHED:
                dispatches.append(_dispatch(u2, times[_REDISPATCHED]))
                agency = u2.unit_name
            if step >= _ACCEPTED:
                dispatches[-1]["accepted_at"] = times[_ACCEPTED]
            notes = _STEP_NOTES.get(step) or {
                _DISPATCHED: f"已派单至{u1.unit_name}",
                _RETURNED: f"{u1.unit_name}退单：{life.return_reason[k]}",
                _REDISPATCHED: f"已转派至{u2.unit_name if u2 else ''}",
                _ACCEPTED: f"{dispatches[-1]['unit_name'] if dispatches else ''}已签收",
            }[step]
            closed = step >= _RESOLVED
            backwards = served.kind[k] == "updated_goes_backwards" and v == served.visible_at_end[k] - 1
            extended: dict[str, Any] = {
                "channel": attrs.channel[k],
                "request_type": attrs.request_type[k],
                "urgency": attrs.urgency[k],
                "street_code": served.street_code[k],
                "community_code": served.community_code[k],
                "dispatches": dispatches,
                "responded_datetime": times[_RESPONDED] if step >= _RESPONDED else None,
                "resolved_datetime": times[_RESOLVED] if closed else None,
                "reply": outcome.reply[k] if closed else None,
            }
            if step >= _VISITED:
                extended["return_visit"] = {"visited_at": times[_VISITED],
                                            "is_resolved": bool(outcome.is_resolved[k]),
                                            "satisfaction": outcome.satisfaction[k]}
            extended |= {"repeat_of": callers.repeat_of[k], "complainant": complainant,
                         "is_excluded": bool(outcome.excluded[k] and closed)}
            request_id = orders.request_id[k]
            body = {
                "service_request_id": request_id,
                "status": "closed" if closed else "open",
                "status_notes": notes,
                "service_name": service.service_name,
                "service_code": served.service_code[k],
                "description": served.description[k],
                "agency_responsible": agency,
                "service_notice": notices[attrs.urgency[k]],
                "requested_datetime": served.requested[k],
                "updated_datetime": served.backwards_text[k] if backwards else times[step],
                "expected_datetime": served.expected[k],
                "address": served.address[k],
                "address_id": served.grid_code[k],
                "zipcode": served.zipcode[k],
                "lat": float(served.lat[k]),
                "long": float(served.lon[k]),
                "media_url": f"https://media.12345.example/{request_id}/1.jpg" if served.media[k] else None,
                "extended_attributes": extended,
            }
            rows["entity_id"].append(request_id)
            rows["visible_from"].append(int(life.steps[k, step]) * 1_000_000)
            rows["updated"].append(int(served.backwards[k] if backwards else life.steps[k, step]) * 1_000_000)
            rows["body"].append(json.dumps(body, ensure_ascii=False, separators=(",", ":")))
            rows["requested"].append(int(orders.requested[k]) * 1_000_000)
            rows["status"].append(body["status"])
            rows["service_code"].append(served.service_code[k])
            rows["dup_on_page"].append(int(served.kind[k] == "duplicate_on_page"))
    return rows


def _store_table(rows: dict[str, list[Any]], services: tuple[Service, ...]) -> pa.Table:
    """Request versions and the services (visible from the epoch on), as simulators.store writes them."""
    n, m = len(rows["entity_id"]), len(services)
    return pa.table({
        "kind": ["request"] * n + ["service"] * m,
        "entity_id": rows["entity_id"] + [s.service_code for s in services],
        "visible_from": pa.array(rows["visible_from"] + [0] * m, pa.int64()),
        "updated": pa.array(rows["updated"] + [0] * m, pa.int64()),
        "body": rows["body"] + [json.dumps(service_body(s), ensure_ascii=False, separators=(",", ":"))
                                for s in services],
        "requested": pa.array(rows["requested"] + [None] * m, pa.int64()),
        "status": pa.array(rows["status"] + [None] * m, pa.string()),
        "service_code": pa.array(rows["service_code"] + [s.service_code for s in services], pa.string()),
        "dup_on_page": pa.array(rows["dup_on_page"] + [0] * m, pa.int8()),
    })


def _published(ctx: GenContext, orders: _Orders, attrs: _Attributes, life: _Lifecycle) -> pa.Table:
    """``hotline_orders`` for the platforms generated next: every order, clean values."""
    services = ctx.world.services
    tz_type = pa.timestamp("us", tz="Asia/Shanghai")
    resolved = life.present[:, _RESOLVED]
    resolved_us = np.where(resolved, life.steps[:, _RESOLVED], 0) * 1_000_000
    grid_codes = ctx.world.grids["grid_code"].to_numpy(zero_copy_only=False)[orders.grid]
    return pa.table({
        "request_id": pa.array(orders.request_id.tolist(), pa.string()),
        "service_code": pa.array([services[s].service_code for s in orders.service.tolist()], pa.string()),
        "group": pa.array(attrs.group.tolist(), pa.string()),
        "matter_code": pa.array([services[s].matter_code for s in orders.service.tolist()], pa.string()),
        "requested_at": pa.array((orders.requested * 1_000_000).tolist(), tz_type),
        "street_code": pa.array(attrs.street.tolist(), pa.string()),
        "community_code": pa.array(ctx.world.community_codes[orders.community].tolist(), pa.string()),
        "grid_code": pa.array(grid_codes.tolist(), pa.string()),
        "lat": pa.array(orders.lat.astype(float), pa.float64()),
        "lon": pa.array(orders.lon.astype(float), pa.float64()),
        "resolved_at": pa.array(resolved_us.tolist(), tz_type, mask=~resolved),
        "uscc": pa.array(orders.uscc.tolist(), pa.string()),
    })


def generate(ctx: GenContext) -> PlatformResult:
    """Write the hotline's version store, publish ``hotline_orders`` and return counts and truth."""
    rng = rng_for(ctx.seed, "hotline")
    grids = _GridIndex.of(ctx.world)
    orders = _Orders.concat([_background(ctx, rng, grids), _planted(ctx, rng, grids)])
    orders = orders.take(np.lexsort((orders.request_id.astype(str), orders.requested)))  # chronological
    attrs = _attributes(ctx, rng, orders)
    life = _lifecycle(ctx, rng, orders, attrs)
    outcome = _outcomes(rng, orders, attrs, life)
    callers = _callers(rng, orders)
    served = _served(ctx, rng, orders, attrs, life, callers)
    rows = _versions(ctx, orders, attrs, life, outcome, callers, served)
    write_versions(ctx.dataset.store_path("hotline"), _store_table(rows, ctx.world.services),
                   indexes=("requested", "status", "service_code"))
    ctx.shared["hotline_orders"] = _published(ctx, orders, attrs, life)
    n_versions = len(rows["entity_id"])
    ctx.log(f"hotline: {len(orders):,} orders, {n_versions:,} versions")
    return PlatformResult(counts={"request_versions": n_versions, "services": len(ctx.world.services)},
                          truth=_truth(ctx, orders=orders, attrs=attrs, life=life, outcome=outcome,
                                       callers=callers, served=served, n_versions=n_versions))


def _offset_s(ctx: GenContext) -> int:
    """The local UTC offset of the span in seconds (Asia/Shanghai has kept +08:00 since 1991)."""
    offset = ctx.start.utcoffset()
    if offset is None:
        raise ValueError(f"ctx.start {ctx.start!r} is naive: the simulators keep aware times only")
    return int(offset.total_seconds())


def _hours(limit: timedelta) -> str:
    hours = limit.total_seconds() / 3600
    return f"{hours:g}小时" if hours < 48 else f"{hours / 24:g}天"


def _ids(orders: _Orders, selection: np.ndarray) -> dict[str, Any]:
    ids = sorted(orders.request_id[selection].tolist())
    return {"count": len(ids), "ids": ids}


def _truth(ctx: GenContext, *, orders: _Orders, attrs: _Attributes, life: _Lifecycle, outcome: _Outcome,
           callers: _Callers, served: _Served, n_versions: int) -> dict[str, Any]:
    """The hotline's section of truth.json: what was generated, through the horizon unless said otherwise."""
    world, steps, present = ctx.world, life.steps, life.present
    responded = present[:, _RESPONDED]
    respond_h = np.where(responded, (steps[:, _RESPONDED] - steps[:, _RECEIVED]) / _HOUR, np.nan)

    def mean_hours(mask: np.ndarray) -> float | None:
        return round(float(np.nanmean(respond_h[mask & responded])), 2) if (mask & responded).any() else None

    slow_codes = sorted(u.unit_code for u in world.units if u.respond_hours >= 12)
    visited = present[:, _VISITED]
    groups, group_counts = np.unique(attrs.group, return_counts=True)
    end_s = int(ctx.end.timestamp())
    satisfaction = {
        label: {level: int(((outcome.satisfaction == level) & visited & mask).sum())
                for level in ("satisfied", "basically_satisfied", "unsatisfied", "unreachable")}
        for label, mask in (("dispute", attrs.dispute), ("other", ~attrs.dispute))
    }
    return {
        "dirty": {kind: _ids(orders, served.kind == kind) | {"rate": rate}
                  for kind, rate in DIRTY_RATES.items()},
        "counts": {
            "orders": len(orders),
            "planted_orders": int((orders.planted > 0).sum()),
            "versions": n_versions,
            "versions_visible_at_end": int(served.visible_at_end.sum()),
            "open_at_end": int((~present[:, _RESOLVED] | (steps[:, _RESOLVED] > end_s)).sum()),
            "closed_at_horizon": int(present[:, _RESOLVED].sum()),
            "visited_at_horizon": int(visited.sum()),
            "by_group": {str(g): int(c) for g, c in zip(groups, group_counts)},
        },
        "slow_units": {code: mean_hours(life.final == code) for code in slow_codes},
        "respond_hours_other_units": mean_hours(~np.isin(life.final, slow_codes)),
        "dispute_services": sorted(s.service_code for s in world.services if s.dispute),
        "satisfaction": satisfaction,
        "transferred": _ids(orders, life.transferred & present[:, _RETURNED]),
        "excluded": _ids(orders, outcome.excluded),
        "repeat_of": _ids(orders, callers.linked),
        "unlinked_repeats": _ids(orders, callers.unlinked),
        "notes": {
            "respond_hours": "mean hours from received to first contact, by the final handling unit",
            "updated_goes_backwards": "the version current at the span's end (the clock's first now)",
            "unlinked_repeats": "same complainant phone, service and community within 7 days, no repeat_of",
            "excluded": "is_excluded turns true at the resolution step",
        },
    }
