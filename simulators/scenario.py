"""The patterns planted across platforms: what the analysis downstream must find.

The scenario is decided once per (world, span) before any platform is generated, with its identifiers fixed
here, so that each platform's generator writes its own part of the same story:

- fume chains: a restaurant whose evenings smell; citizens call 12345 (hotline), each call becomes a grid
  case (citymgmt ``grid.case``, origin hotline), the last one an enforcement case against the restaurant's uscc
  (enforcement platform), and the restaurant's fume sensor exceeds 1.0 mg/m3 on each complaint day (citymgmt
  ``fume.reading``);
- repeat hotspots (屡治屡返): a (community, service) with orders a few days apart, each closed as resolved,
  and the matter coming back (hotline);
- black-listed enterprises: a subject with a black-list record in force and penalties (credit platform) and
  enforcement cases with fines against its uscc (enforcement platform);
- long-standing problems (老大难, kpis.md's ledger), planted only when the span covers three calendar months of at
  least ``LONG_STANDING_MIN_DAYS`` days each (weeks of data cannot show one): a (community, service) that is a
  repeat hotspot in each of those months (orders 5-9 days apart, each closed as resolved), or one that reaches
  the district by two channels every month (hotline orders and grid cases an inspector files on the same matter).

Planted identifiers use a reserved range (a ``9`` after the date part) that background records never use.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from simulators.world import World, rng_for

__all__ = ["BlacklistCase", "FumeChain", "FumeComplaint", "LongStandingProblem", "RepeatHotspot", "Scenario",
           "plan_scenario", "TZ"]

TZ = ZoneInfo("Asia/Shanghai")
# A calendar month counts towards a planted long-standing problem when the span covers this many of its days.
LONG_STANDING_MIN_DAYS = 14
LONG_STANDING_MONTHS = 3


@dataclass(frozen=True)
class FumeComplaint:
    """One evening of a fume chain: the call, the grid case it became, its place and times."""

    request_id: str
    grid_case_id: str
    requested_at: datetime
    grid_reported_at: datetime
    lat: float
    lon: float


@dataclass(frozen=True)
class FumeChain:
    restaurant_id: str
    uscc: str
    restaurant_name: str
    street_code: str
    community_code: str
    complaints: tuple[FumeComplaint, ...]
    # The enforcement case filed after the last grid case.
    enforcement_case_id: str
    enforcement_filed_at: datetime
    penalty_cny: float

    @property
    def exceed_days(self) -> tuple[date, ...]:
        """Local days on which the restaurant's sensor exceeds the limit (the complaint days)."""
        return tuple(sorted({c.requested_at.astimezone(TZ).date() for c in self.complaints}))


@dataclass(frozen=True)
class RepeatHotspot:
    community_code: str
    street_code: str
    service_code: str
    group: str
    request_ids: tuple[str, ...]
    requested_at: tuple[datetime, ...]


@dataclass(frozen=True)
class BlacklistCase:
    uscc: str
    name: str
    street_code: str
    black_list_record_id: str
    black_listed_on: date
    penalty_record_ids: tuple[str, ...]
    enforcement_case_ids: tuple[str, ...]
    enforcement_filed_at: tuple[datetime, ...]
    penalties_cny: tuple[float, ...]


@dataclass(frozen=True)
class LongStandingProblem:
    """A (community, service) on the long-standing problem ledger by one rule (kpis.md).

    ``rule`` is ``repeat_hotspot`` (a repeat hotspot in each of ``months``: hotline orders only) or ``channels``
    (hotline orders and an inspector's grid cases on the matter in each of ``months``)."""

    rule: str
    community_code: str
    street_code: str
    service_code: str
    group: str
    months: tuple[date, ...]
    request_ids: tuple[str, ...]
    requested_at: tuple[datetime, ...]
    grid_case_ids: tuple[str, ...] = ()
    grid_reported_at: tuple[datetime, ...] = ()


@dataclass
class Scenario:
    start: datetime  # first instant of the span (local midnight)
    end: datetime  # the simulators' initial "now" (local midnight after the last day)
    fume_chains: list[FumeChain] = field(default_factory=list)
    hotspots: list[RepeatHotspot] = field(default_factory=list)
    blacklisted: list[BlacklistCase] = field(default_factory=list)
    long_standing: list[LongStandingProblem] = field(default_factory=list)

    def planted_request_ids(self) -> set[str]:
        ids = {c.request_id for chain in self.fume_chains for c in chain.complaints}
        ids |= {rid for problem in self.long_standing for rid in problem.request_ids}
        return ids | {rid for spot in self.hotspots for rid in spot.request_ids}

    def planted_grid_case_ids(self) -> set[str]:
        ids = {c.grid_case_id for chain in self.fume_chains for c in chain.complaints}
        return ids | {case_id for problem in self.long_standing for case_id in problem.grid_case_ids}

    def to_truth(self) -> dict:
        """The scenario as the ground-truth file records it (JSON-ready)."""

        def encode(value):
            if isinstance(value, (datetime, date)):
                return value.isoformat()
            if isinstance(value, dict):
                return {k: encode(v) for k, v in value.items()}
            if isinstance(value, (list, tuple)):
                return [encode(v) for v in value]
            return value

        return {
            "fume_chains": [encode(asdict(chain)) | {"exceed_days": encode(chain.exceed_days)}
                            for chain in self.fume_chains],
            "repeat_hotspots": [encode(asdict(spot)) for spot in self.hotspots],
            "blacklisted_enterprises": [encode(asdict(case)) for case in self.blacklisted],
            "long_standing_problems": [encode(asdict(problem)) for problem in self.long_standing],
        }


def _count(base: float, scale: float, minimum: int) -> int:
    return max(minimum, int(round(base * scale)))


def _evening(day: date, rng: np.random.Generator) -> datetime:
    minutes = int(rng.integers(18 * 60 + 30, 22 * 60))
    return datetime.combine(day, time(0), TZ) + timedelta(minutes=minutes, seconds=int(rng.integers(0, 60)))


def plan_scenario(world: World, *, start: datetime, end: datetime) -> Scenario:
    """Choose the planted patterns for a span; deterministic in (world.seed, span)."""
    rng = rng_for(world.seed, "scenario")
    days = [(start + timedelta(days=k)).date() for k in range((end - start).days)]
    scenario = Scenario(start=start, end=end)
    if len(days) < 3:
        return scenario
    seq = iter(range(1, 10_000_000))

    def request_id(moment: datetime) -> str:
        return f"{moment.astimezone(TZ):%Y%m%d}9{next(seq):07d}"

    # Fume chains.
    restaurants = world.restaurants
    n_chains = _count(12, world.scale, 3)
    picks = rng.choice(restaurants.num_rows, size=min(n_chains, restaurants.num_rows), replace=False)
    for pick in picks:
        row = {name: restaurants[name][int(pick)].as_py() for name in restaurants.column_names}
        n_complaints = int(rng.integers(2, 5))
        chosen = sorted(rng.choice(len(days), size=min(n_complaints, len(days)), replace=False))
        complaints = []
        for day_index in chosen:
            at = _evening(days[day_index], rng)
            rid = request_id(at)
            complaints.append(FumeComplaint(
                request_id=rid,
                grid_case_id=f"GC{rid}",
                requested_at=at,
                grid_reported_at=at + timedelta(minutes=int(rng.integers(20, 120))),
                lat=round(row["lat"] + float(rng.uniform(-0.0002, 0.0002)), 6),
                lon=round(row["lon"] + float(rng.uniform(-0.0002, 0.0002)), 6),
            ))
        last = complaints[-1]
        filed = last.grid_reported_at + timedelta(hours=int(rng.integers(2, 20)))
        scenario.fume_chains.append(FumeChain(
            restaurant_id=row["restaurant_id"], uscc=row["uscc"], restaurant_name=row["name"],
            street_code=row["street_code"], community_code=row["community_code"],
            complaints=tuple(complaints),
            enforcement_case_id=f"ZF-{filed:%Y}-9{next(seq):06d}",
            enforcement_filed_at=filed,
            penalty_cny=float(rng.choice([2000, 5000, 10000, 20000])),
        ))

    # Repeat hotspots: orders 4-9 days apart in one community on one service.
    hotspot_services = [s for s in world.services
                        if s.group in ("street_order", "fume", "facilities", "garbage", "parking")]
    n_spots = _count(10, world.scale, 3)
    spot_communities = rng.choice(len(world.community_codes), size=n_spots, replace=False)
    for community in spot_communities:
        service = hotspot_services[int(rng.integers(0, len(hotspot_services)))]
        n_orders = int(rng.integers(3, 6))
        first = int(rng.integers(0, max(1, len(days) // 3)))
        offsets = first + np.cumsum(np.concatenate([[0], rng.integers(4, 10, size=n_orders - 1)]))
        offsets = [int(o) for o in offsets if o < len(days)]
        if len(offsets) < 3:
            offsets = [0, len(days) // 2, len(days) - 1]
        moments = [datetime.combine(days[o], time(0), TZ)
                   + timedelta(minutes=int(rng.integers(8 * 60, 20 * 60))) for o in offsets]
        scenario.hotspots.append(RepeatHotspot(
            community_code=str(world.community_codes[community]),
            street_code=str(world.community_street[community]),
            service_code=service.service_code,
            group=service.group,
            request_ids=tuple(request_id(m) for m in moments),
            requested_at=tuple(moments),
        ))

    # Black-listed enterprises: companies (not restaurants, not already in a chain).
    subjects = world.subjects
    candidates = np.flatnonzero(~subjects["is_restaurant"].to_numpy(zero_copy_only=False)
                                & ~subjects["individual"].to_numpy(zero_copy_only=False))
    n_black = _count(8, world.scale, 2)
    for number, pick in enumerate(rng.choice(candidates, size=n_black, replace=False), start=1):
        n_cases = int(rng.integers(2, 4))
        filed = sorted(start + timedelta(minutes=int(m))
                       for m in rng.integers(0, int((end - start).total_seconds() // 60) - 600, size=n_cases))
        scenario.blacklisted.append(BlacklistCase(
            uscc=subjects["uscc"][int(pick)].as_py(),
            name=subjects["name"][int(pick)].as_py(),
            street_code=subjects["street_code"][int(pick)].as_py(),
            black_list_record_id=f"CR9{number:07d}",
            black_listed_on=(start - timedelta(days=int(rng.integers(30, 300)))).date(),
            penalty_record_ids=tuple(f"CR9{number:03d}{k:04d}" for k in range(1, n_cases + 1)),
            enforcement_case_ids=tuple(f"ZF-{f:%Y}-9{next(seq):06d}" for f in filed),
            enforcement_filed_at=tuple(filed),
            penalties_cny=tuple(float(rng.choice([5000, 20000, 50000, 100000])) for _ in filed),
        ))

    taken = {spot.community_code for spot in scenario.hotspots} | {chain.community_code
                                                                   for chain in scenario.fume_chains}
    scenario.long_standing = _long_standing(world, days, taken, hotspot_services, request_id)
    return scenario


def _long_standing_months(days: list[date]) -> list[date]:
    """The last LONG_STANDING_MONTHS calendar months the span covers for LONG_STANDING_MIN_DAYS days or more, if
    they follow one another; else none."""
    covered: dict[date, int] = {}
    for day in days:
        covered[day.replace(day=1)] = covered.get(day.replace(day=1), 0) + 1
    months = [month for month, count in sorted(covered.items()) if count >= LONG_STANDING_MIN_DAYS]
    months = months[-LONG_STANDING_MONTHS:]
    if len(months) < LONG_STANDING_MONTHS:
        return []
    index = [month.year * 12 + month.month for month in months]
    return months if index[-1] - index[0] == LONG_STANDING_MONTHS - 1 else []


def _long_standing(world: World, days: list[date], taken: set[str], services: list, request_id) -> list[
        LongStandingProblem]:
    """Long-standing problems, half by each rule, in communities no other pattern uses (a random stream of their
    own: the other patterns stay as they are whatever the span)."""
    months = _long_standing_months(days)
    if not months:
        return []
    rng = rng_for(world.seed, "scenario.long_standing")
    free = [k for k, code in enumerate(world.community_codes.tolist()) if code not in taken]
    n_problems = min(_count(8, world.scale, 4), len(free))
    picks = rng.choice(free, size=n_problems, replace=False)
    span = [day for day in days if day.replace(day=1) >= months[0]]
    problems = []
    for number, community in enumerate(picks):
        service = services[int(rng.integers(0, len(services)))]
        rule = "repeat_hotspot" if number % 2 == 0 else "channels"
        if rule == "repeat_hotspot":
            # every 5-9 days from the first covered day of the first month: in each month an order comes with two
            # more in the 30 days before it
            offsets = [int(rng.integers(0, 3))]
            while offsets[-1] + 9 < len(span):
                offsets.append(offsets[-1] + int(rng.integers(5, 10)))
            moments = [_daytime(span[k], rng) for k in offsets]
            inspected: list[datetime] = []
        else:
            # one or two orders and one or two inspections in each month, on different days
            moments, inspected = [], []
            for month in months:
                in_month = [k for k, day in enumerate(span) if day.replace(day=1) == month]
                chosen = sorted(rng.choice(in_month, size=int(rng.integers(2, 5)), replace=False).tolist())
                split = int(rng.integers(1, len(chosen)))
                moments += [_daytime(span[k], rng) for k in chosen[:split]]
                inspected += [_daytime(span[k], rng) for k in chosen[split:]]
        problems.append(LongStandingProblem(
            rule=rule,
            community_code=str(world.community_codes[community]),
            street_code=str(world.community_street[community]),
            service_code=service.service_code,
            group=service.group,
            months=tuple(months),
            request_ids=tuple(request_id(m) for m in moments),
            requested_at=tuple(moments),
            grid_case_ids=tuple(f"GC{request_id(m)}" for m in inspected),
            grid_reported_at=tuple(inspected),
        ))
    return problems


def _daytime(day: date, rng: np.random.Generator) -> datetime:
    return datetime.combine(day, time(0), TZ) + timedelta(minutes=int(rng.integers(8 * 60, 20 * 60)),
                                                          seconds=int(rng.integers(0, 60)))
