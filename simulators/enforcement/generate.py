"""Generate the enforcement platform's cases (综合执法平台): every version of every case, and its truth.

About 100 cases a day at scale 1.0. A case is opened from a grid case (直派 or 街道转派), a hotline work
order, a patrol, a citizen report or a superior's assignment; it goes filed → investigating → decided →
closed (or is revoked), each stage a new version of the case with its own ``updated_at``, and some cases are
revised a few more times on one day. Lifecycles run on to ``ctx.horizon``, hidden behind the clock.

The scenario's cases are written with exactly their ids and links: a fume chain's case against the
restaurant (origin grid_direct, matter C01, the last complaint's grid case and work order), and the cases of
each black-listed enterprise with their fines.

Dirty records are injected at ``DIRTY_RATES`` (at least one of each kind), each case at most one kind, and
only where the dirt is visible from the clock's first "now" on: clean cases cannot look dirty, so a test
counts them from what the platform serves. ``matter_code_as_name`` serves the name of the matter's category
in place of its code (e.g. "环境保护" for C01), as the spec says. ``revised_same_day`` is a behaviour, not a
field: it names the cases that get extra revisions (versions that change no stage), which only a client
polling over the day sees.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gridlake import uscc as uscc_codes
from gridlake.reference import communities, streets
from simulators.clock import to_micros
from simulators.enforcement.matters import CATEGORIES, MATTERS, matter
from simulators.fake import ROADS, id_number, person_name
from simulators.generate import GenContext, PlatformResult
from simulators.scenario import TZ
from simulators.store import write_versions
from simulators.world import rng_for

__all__ = ["DIRTY_RATES", "ORIGINS", "SHARED_SCHEMA", "generate"]

# Share of the background cases (the planted ones stay clean) that carry each kind of dirt.
DIRTY_RATES: dict[str, float] = {
    "matter_code_lower_case": 0.02,
    "matter_code_as_name": 0.02,
    "uscc_lower_case": 0.01,
    "uscc_spaces": 0.01,
    "uscc_full_width": 0.01,
    "uscc_bad_check": 0.01,
    "enterprise_without_uscc": 0.01,
    "closed_before_filed": 0.01,
    "penalty_negative": 0.005,
    "penalty_in_wan_cny": 0.005,
    "revised_same_day": 0.08,
}

# How cases open: grid cases sent straight to the team, re-dispatched by the street, hotline orders, ...
ORIGINS: dict[str, float] = {
    "grid_direct": 0.35,
    "grid_redispatch": 0.15,
    "hotline": 0.15,
    "patrol": 0.25,
    "report": 0.06,
    "superior": 0.04,
}

# What ``ctx.shared["enforcement_cases"]`` holds (simulators/README.md): clean values, the final state.
SHARED_SCHEMA = pa.schema(
    [
        ("case_id", pa.string()),
        ("party_uscc", pa.string()),
        ("matter_code", pa.string()),
        ("penalty_cny", pa.float64()),
        ("decided_at", pa.timestamp("us", tz="Asia/Shanghai")),
        ("street_code", pa.string()),
    ]
)

CASES_PER_DAY = 100.0
# A small test district still gets a few cases a day, so that every kind of dirt has room.
MIN_CASES_PER_DAY = 4.0
DAY_HOURS = (7, 21)  # teams file and act in working hours

# Who the party of a case usually is, by matter: (enterprise, individual, unknown).
_PARTY_MIX: dict[str, tuple[float, float, float]] = {
    **{
        code: (0.8, 0.15, 0.05)
        for code in (
            "A02",
            "A03",
            "B01",
            "B02",
            "B03",
            "C02",
            "C05",
            "D01",
            "D02",
            "D03",
            "D04",
            "D05",
            "E02",
            "F05",
        )
    },
    "C01": (0.9, 0.05, 0.05),
}
_DEFAULT_PARTY_MIX = (0.1, 0.6, 0.3)
_MATTER_WEIGHT = {"A": 3.0, "B": 1.5, "C": 1.5, "D": 1.2, "E": 0.5, "F": 2.5}
_FINES: dict[str, tuple[int, ...]] = {
    "A": (200, 500, 1000, 2000),
    "B": (500, 1000, 2000, 5000, 10000),
    "C": (1000, 2000, 5000, 10000, 20000, 50000, 100000),
    "D": (2000, 5000, 10000, 20000, 50000, 100000),
    "E": (500, 1000, 5000, 10000, 50000),
    "F": (200, 500, 1000, 2000, 5000),
}
_MEASURE_TEXT = {"warning": "警告", "order_to_correct": "责令改正", "confiscation": "没收违法物品"}
_BLACKLIST_MATTERS = ("B01", "C02", "C05", "D01", "D03", "D05")
_FULL_WIDTH = {code: code + 0xFEE0 for code in range(0x21, 0x7F)}


@dataclass
class _Case:
    """One case's final state, its stage times and its dirt; versions are derived from it."""

    case_id: str
    origin: str
    grid_case_id: str | None
    hotline_request_id: str | None
    matter_code: str
    party: dict[str, Any]
    street_code: str
    address: str
    lat: float
    lon: float
    filed_at: datetime
    investigated_at: datetime | None = None
    decided_at: datetime | None = None
    closed_at: datetime | None = None
    revoked_at: datetime | None = None
    penalty_cny: float | None = None
    measures: list[str] = field(default_factory=list)
    planted: bool = False
    dirty: str | None = None
    dirty_closed_at: datetime | None = None
    revisions: list[datetime] = field(default_factory=list)

    @property
    def team_code(self) -> str:
        return f"ZFD{self.street_code[-3:]}"


def _seconds(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(TZ).isoformat(timespec="seconds")


def _working(moment: datetime, rng: np.random.Generator) -> datetime:
    """The moment, moved into working hours (a team acts between 07:00 and 21:00)."""
    local = moment.astimezone(TZ)
    first, last = DAY_HOURS
    if local.hour < first:
        local = datetime.combine(local.date(), time(first), TZ) + timedelta(
            minutes=int(rng.integers(30, 180))
        )
    elif local.hour >= last:
        local = datetime.combine(local.date() + timedelta(days=1), time(first), TZ) + timedelta(
            minutes=int(rng.integers(30, 180))
        )
    return _seconds(local)


def _after(moment: datetime, rng: np.random.Generator, low: timedelta, high: timedelta) -> datetime:
    span = (high - low).total_seconds()
    return _working(moment + low + timedelta(seconds=float(rng.uniform(0, span))), rng)


class _Places:
    """Street, community and address lookups of the world, for cases that do not come from a grid case."""

    def __init__(self, ctx: GenContext) -> None:
        grids = ctx.world.grids
        self.grid_community = grids["community_code"].to_numpy(zero_copy_only=False)
        self.grid_street = grids["street_code"].to_numpy(zero_copy_only=False)
        self.grid_lat = grids["centroid_lat"].to_numpy()
        self.grid_lon = grids["centroid_lon"].to_numpy()
        self.street_name = {street.street_code: street.street_name for street in streets()}
        self.community_name = {
            item.community_code: item.community_name.removesuffix("居委会") for item in communities()
        }

    def address(self, rng: np.random.Generator, street_code: str, community_code: str | None) -> str:
        community = self.community_name.get(community_code or "", "")
        road = str(rng.choice(ROADS))
        return f"北京市东城区{self.street_name[street_code]}{community}{road}{int(rng.integers(1, 240))}号"

    def random_place(self, rng: np.random.Generator) -> tuple[str, str, float, float]:
        index = int(rng.integers(0, len(self.grid_street)))
        lat = round(float(self.grid_lat[index] + rng.uniform(-0.0006, 0.0006)), 6)
        lon = round(float(self.grid_lon[index] + rng.uniform(-0.0006, 0.0006)), 6)
        return str(self.grid_street[index]), str(self.grid_community[index]), lat, lon


class _Parties:
    """Draws the party of a case: an enterprise of the world, a (fake) person, or nobody known."""

    def __init__(self, ctx: GenContext) -> None:
        subjects = ctx.world.subjects
        codes = subjects["uscc"].to_numpy(zero_copy_only=False)
        names = subjects["name"].to_numpy(zero_copy_only=False)
        self.name_of = dict(zip(codes.tolist(), names.tolist()))
        reserved = {chain.uscc for chain in ctx.scenario.fume_chains}
        reserved |= {case.uscc for case in ctx.scenario.blacklisted}
        self.reserved = reserved
        restaurant = subjects["is_restaurant"].to_numpy(zero_copy_only=False)
        free = np.array([code not in reserved for code in codes])
        self.restaurants = codes[restaurant & free]
        self.companies = codes[~restaurant & free]

    def enterprise(self, code: str, *, record: str) -> dict[str, Any]:
        if code not in self.name_of:
            raise ValueError(f"{record}: uscc {code!r} is not a subject of the world")
        return {"type": "enterprise", "uscc": code, "name": self.name_of[code], "id_number": None}

    def draw(self, rng: np.random.Generator, matter_code: str) -> dict[str, Any]:
        mix = _PARTY_MIX.get(matter_code, _DEFAULT_PARTY_MIX)
        kind = rng.choice(["enterprise", "individual", "unknown"], p=mix)
        if kind == "enterprise":
            pool = self.restaurants if matter_code == "C01" else self.companies
            code = str(pool[int(rng.integers(0, len(pool)))])
            return {"type": "enterprise", "uscc": code, "name": self.name_of[code], "id_number": None}
        if kind == "individual":
            return {
                "type": "individual",
                "uscc": None,
                "name": person_name(rng),
                "id_number": id_number(rng),
            }
        return {"type": "unknown", "uscc": None, "name": None, "id_number": None}


def _source_rows(
    ctx: GenContext, key: str, time_column: str, *, exclude_ids: set[str], id_column: str
) -> list[dict[str, Any]]:
    """Rows of a shared table that can start a case: a matter code, inside the span, not planted."""
    table = ctx.shared.get(key)
    if table is None or table.num_rows == 0:
        return []
    moment_type = table.schema.field(time_column).type
    mask = pc.and_(
        pc.is_valid(table["matter_code"]),
        pc.and_(
            pc.greater_equal(table[time_column], pa.scalar(ctx.start, moment_type)),
            pc.less(table[time_column], pa.scalar(ctx.end - timedelta(hours=2), moment_type)),
        ),
    )
    rows = [row for row in table.filter(mask).to_pylist() if row[id_column] not in exclude_ids]
    for row in rows:
        code = row["matter_code"]
        try:
            matter(code)
        except KeyError:
            raise ValueError(
                f"{key} {row[id_column]}: matter_code {code!r} is not one of the 30 matters"
            ) from None
    return rows


def _background_times(ctx: GenContext, rng: np.random.Generator, n: int) -> list[datetime]:
    """Filing times of cases that start on the platform itself, in working hours across the span."""
    days = rng.integers(0, ctx.days, size=n)
    first, last = DAY_HOURS
    seconds = rng.integers(first * 3600, last * 3600, size=n)
    return [ctx.start + timedelta(days=int(d), seconds=int(s)) for d, s in zip(days, seconds)]


def _decide(case: _Case, rng: np.random.Generator) -> None:
    """The measures and fine of a decided case (a fine only when the party is known)."""
    if case.party["type"] != "unknown" and rng.random() < 0.65:
        fines = _FINES[case.matter_code[0]]
        case.penalty_cny = float(fines[int(rng.integers(0, len(fines)))])
        case.measures = ["fine"]
        if rng.random() < 0.6:
            case.measures.append("order_to_correct")
        if case.matter_code in ("A01", "A03", "A04") and rng.random() < 0.3:
            case.measures.append("confiscation")
    else:
        case.measures = [["warning"], ["order_to_correct"], ["warning", "order_to_correct"]][
            int(rng.integers(0, 3))
        ]


def _lifecycle(case: _Case, rng: np.random.Generator) -> None:
    """Stage times of a background case after filing (some revoked before a decision)."""
    case.investigated_at = _after(case.filed_at, rng, timedelta(hours=2), timedelta(days=3))
    revoke = 0.2 if case.party["type"] == "unknown" else 0.04
    if rng.random() < revoke:
        case.revoked_at = _after(case.investigated_at, rng, timedelta(days=1), timedelta(days=6))
        return
    case.decided_at = _after(case.investigated_at, rng, timedelta(days=1), timedelta(days=10))
    case.closed_at = _after(case.decided_at, rng, timedelta(hours=4), timedelta(days=6))
    _decide(case, rng)


def _planted_lifecycle(case: _Case, rng: np.random.Generator, end: datetime) -> None:
    """A planted case is decided before the clock's first "now" when it was filed early enough."""
    room = end - case.filed_at
    if room > timedelta(hours=4):
        case.investigated_at = _seconds(
            case.filed_at + min(timedelta(hours=float(rng.uniform(1, 12))), room * 0.3)
        )
        rest = end - case.investigated_at
        case.decided_at = _seconds(
            case.investigated_at + min(timedelta(days=float(rng.uniform(1, 5))), rest * 0.8)
        )
    else:
        case.investigated_at = _seconds(case.filed_at + timedelta(hours=float(rng.uniform(1, 12))))
        case.decided_at = _seconds(case.investigated_at + timedelta(days=float(rng.uniform(1, 3))))
    case.closed_at = _seconds(case.decided_at + timedelta(days=float(rng.uniform(1, 7))))


def _planted_cases(ctx: GenContext, rng: np.random.Generator, places: _Places) -> list[_Case]:
    """The scenario's cases: fume chains' cases against the restaurants, black-listed enterprises' fines."""
    cases: list[_Case] = []
    for chain in ctx.scenario.fume_chains:
        last = chain.complaints[-1]
        case = _Case(
            case_id=chain.enforcement_case_id,
            origin="grid_direct",
            grid_case_id=last.grid_case_id,
            hotline_request_id=last.request_id,
            matter_code="C01",
            party={
                "type": "enterprise",
                "uscc": chain.uscc,
                "name": chain.restaurant_name,
                "id_number": None,
            },
            street_code=chain.street_code,
            address=places.address(rng, chain.street_code, chain.community_code),
            lat=last.lat,
            lon=last.lon,
            filed_at=_seconds(chain.enforcement_filed_at),
            planted=True,
        )
        _planted_lifecycle(case, rng, ctx.end)
        case.penalty_cny = float(chain.penalty_cny)
        case.measures = ["fine", "order_to_correct"]
        cases.append(case)
    subjects = ctx.world.subjects
    row_of = {code: index for index, code in enumerate(subjects["uscc"].to_pylist())}
    for black in ctx.scenario.blacklisted:
        index = row_of[black.uscc]
        for case_id, filed, fine in zip(
            black.enforcement_case_ids, black.enforcement_filed_at, black.penalties_cny
        ):
            case = _Case(
                case_id=case_id,
                origin=str(rng.choice(["patrol", "report"])),
                grid_case_id=None,
                hotline_request_id=None,
                matter_code=str(rng.choice(_BLACKLIST_MATTERS)),
                party={"type": "enterprise", "uscc": black.uscc, "name": black.name, "id_number": None},
                street_code=black.street_code,
                address=places.address(rng, black.street_code, subjects["community_code"][index].as_py()),
                lat=round(subjects["lat"][index].as_py() + float(rng.uniform(-0.0003, 0.0003)), 6),
                lon=round(subjects["lon"][index].as_py() + float(rng.uniform(-0.0003, 0.0003)), 6),
                filed_at=_seconds(filed),
                planted=True,
            )
            _planted_lifecycle(case, rng, ctx.end)
            case.penalty_cny = float(fine)
            case.measures = ["fine", "order_to_correct"]
            cases.append(case)
    return cases


def _background_cases(
    ctx: GenContext, rng: np.random.Generator, parties: _Parties, places: _Places
) -> list[_Case]:
    """The platform's everyday cases, without ids yet (ids follow the filing order)."""
    per_day = max(CASES_PER_DAY * ctx.world.scale, MIN_CASES_PER_DAY)
    n = int(rng.poisson(per_day * ctx.days))
    origin_names = list(ORIGINS)
    origins = rng.choice(origin_names, size=n, p=list(ORIGINS.values()))

    planted_orders = ctx.scenario.planted_request_ids()
    planted_grid = ctx.scenario.planted_grid_case_ids()
    grid_rows = _source_rows(ctx, "grid_cases", "reported_at", exclude_ids=planted_grid, id_column="case_id")
    grid_rows = [row for row in grid_rows if row["hotline_request_id"] not in planted_orders]
    from_grid = {row["hotline_request_id"] for row in grid_rows if row["hotline_request_id"]}
    order_rows = _source_rows(
        ctx, "hotline_orders", "requested_at", exclude_ids=planted_orders | from_grid, id_column="request_id"
    )
    grid_order = [int(i) for i in rng.permutation(len(grid_rows))]
    hotline_order = [int(i) for i in rng.permutation(len(order_rows))]

    matter_codes = [item.matter_code for item in MATTERS]
    weights = np.array([_MATTER_WEIGHT[code[0]] for code in matter_codes])
    weights /= weights.sum()
    own_times = iter(_background_times(ctx, rng, n))
    cases: list[_Case] = []
    for origin in origins.tolist():
        source: dict[str, Any] | None = None
        if origin in ("grid_direct", "grid_redispatch") and grid_order:
            source = grid_rows[grid_order.pop()]
            filed = _after(source["reported_at"], rng, timedelta(hours=1), timedelta(hours=20))
        elif origin == "hotline" and hotline_order:
            source = order_rows[hotline_order.pop()]
            filed = _after(source["requested_at"], rng, timedelta(hours=2), timedelta(hours=30))
        if origin in ("grid_direct", "grid_redispatch", "hotline") and (source is None or filed >= ctx.end):
            # Without a source row left (or too late to file in the span), the team found it on patrol.
            origin, source = "patrol", None
        if source is None:
            filed = _seconds(next(own_times))
            code = str(rng.choice(matter_codes, p=weights))
            street, community, lat, lon = places.random_place(rng)
            party = parties.draw(rng, code)
            grid_case_id = hotline_request_id = None
        else:
            code = source["matter_code"]
            street, community = source["street_code"], source["community_code"]
            lat = round(float(source["lat"]) + float(rng.uniform(-0.0002, 0.0002)), 6)
            lon = round(float(source["lon"]) + float(rng.uniform(-0.0002, 0.0002)), 6)
            record = (
                f"hotline order {source['request_id']}"
                if origin == "hotline"
                else f"grid case {source['case_id']}"
            )
            if source.get("uscc") and source["uscc"] not in parties.reserved:
                party = parties.enterprise(source["uscc"], record=record)
            else:
                party = parties.draw(rng, code)
            grid_case_id = source.get("case_id") if origin != "hotline" else None
            hotline_request_id = (
                source.get("hotline_request_id") if origin != "hotline" else source["request_id"]
            )
        case = _Case(
            case_id="",
            origin=origin,
            grid_case_id=grid_case_id,
            hotline_request_id=hotline_request_id,
            matter_code=code,
            party=party,
            street_code=street,
            address=places.address(rng, street, community),
            lat=lat,
            lon=lon,
            filed_at=filed,
        )
        _lifecycle(case, rng)
        cases.append(case)
    cases.sort(key=lambda case: case.filed_at)
    counters: dict[int, int] = {}
    for case in cases:
        year = case.filed_at.astimezone(TZ).year
        counters[year] = counters.get(year, int(rng.integers(10_000, 20_000))) + 1
        case.case_id = f"ZF-{year}-{counters[year]:07d}"
    return cases


def _dirty_count(kind: str, n: int) -> int:
    return max(1, int(round(DIRTY_RATES[kind] * n)))


def _inject_dirt(cases: list[_Case], rng: np.random.Generator, end: datetime) -> dict[str, list[str]]:
    """Choose the dirty cases, most constrained kinds first, one kind per case."""
    n = len(cases)
    taken: set[int] = set()

    def enterprise_with_code(case: _Case) -> bool:
        return case.party["type"] == "enterprise" and case.party["uscc"] is not None

    def fined_by(case: _Case) -> bool:
        return case.penalty_cny is not None and case.decided_at is not None and case.decided_at < end

    eligible = {
        "closed_before_filed": lambda case: case.closed_at is not None and case.closed_at < end,
        "penalty_negative": fined_by,
        "penalty_in_wan_cny": fined_by,
        "uscc_lower_case": lambda case: (
            enterprise_with_code(case) and any(char.isalpha() for char in case.party["uscc"])
        ),
        "uscc_spaces": enterprise_with_code,
        "uscc_full_width": enterprise_with_code,
        "uscc_bad_check": enterprise_with_code,
        "enterprise_without_uscc": enterprise_with_code,
        "matter_code_lower_case": lambda case: True,
        "matter_code_as_name": lambda case: True,
    }
    chosen: dict[str, list[str]] = {}
    for kind, test in eligible.items():
        pool = [i for i, case in enumerate(cases) if i not in taken and test(case)]
        picks = rng.choice(len(pool), size=min(_dirty_count(kind, n), len(pool)), replace=False)
        indexes = sorted(pool[int(p)] for p in picks)
        taken.update(indexes)
        for index in indexes:
            cases[index].dirty = kind
            if kind == "closed_before_filed":
                case = cases[index]
                case.dirty_closed_at = _seconds(case.filed_at - timedelta(hours=float(rng.uniform(1, 72))))
        chosen[kind] = sorted(cases[i].case_id for i in indexes)

    revised = []
    for index in rng.choice(n, size=min(_dirty_count("revised_same_day", n), n), replace=False):
        case = cases[int(index)]
        moment = case.filed_at
        for _ in range(int(rng.integers(2, 5))):
            moment = moment + timedelta(minutes=int(rng.integers(5, 30)), seconds=int(rng.integers(0, 60)))
            case.revisions.append(moment)
        revised.append(case.case_id)
    chosen["revised_same_day"] = sorted(revised)
    return chosen


def _dirty_uscc(kind: str, code: str, rng: np.random.Generator) -> str | None:
    if kind == "uscc_lower_case":
        return code.lower()
    if kind == "uscc_spaces":
        return [f"{code[:2]} {code[2:8]} {code[8:]}", f" {code} ", f"{code[:9]} {code[9:]}"][
            int(rng.integers(0, 3))
        ]
    if kind == "uscc_full_width":
        return code.translate(_FULL_WIDTH)
    if kind == "uscc_bad_check":
        wrong = [char for char in uscc_codes.ALPHABET if char != code[17]]
        return code[:17] + wrong[int(rng.integers(0, len(wrong)))]
    return None  # enterprise_without_uscc


def _result_texts(case: _Case) -> dict[str, str]:
    team = f"{case.team_code}执法队"
    decided = (
        "；".join(
            f"罚款{int(case.penalty_cny)}元" if measure == "fine" else _MEASURE_TEXT[measure]
            for measure in case.measures
        )
        if case.measures
        else ""
    )
    return {
        "filed": f"已立案，交{team}办理",
        "investigating": "已现场检查，调查取证中",
        "decided": f"作出处理决定：{decided}",
        "closed": f"已结案：{decided}，当事人已履行",
        "revoked": "经调查违法事实不能成立，撤销案件",
    }


def _versions(
    case: _Case, rng: np.random.Generator, horizon: datetime
) -> list[tuple[datetime, dict[str, Any]]]:
    """Every version of a case up to the horizon: one per stage, plus its extra revisions."""
    stages = [
        ("filed", case.filed_at),
        ("investigating", case.investigated_at),
        ("decided", case.decided_at),
        ("closed", case.closed_at),
        ("revoked", case.revoked_at),
    ]
    events: list[tuple[datetime, str, int]] = [(at, stage, 0) for stage, at in stages if at is not None]
    events += [(at, "revision", number) for number, at in enumerate(case.revisions, start=1)]
    events.sort(key=lambda event: event[0])
    texts = _result_texts(case)
    party = dict(case.party)
    matter_code = case.matter_code
    if case.dirty in (
        "uscc_lower_case",
        "uscc_spaces",
        "uscc_full_width",
        "uscc_bad_check",
        "enterprise_without_uscc",
    ):
        party["uscc"] = _dirty_uscc(case.dirty, party["uscc"], rng)
    elif case.dirty == "matter_code_lower_case":
        matter_code = matter_code.lower()
    elif case.dirty == "matter_code_as_name":  # enforcement.md: "with the category name instead of the code"
        category_code = matter(matter_code).category_code
        matter_code = next(c.name for c in CATEGORIES if c.category_code == category_code)
    penalty = case.penalty_cny
    if penalty is not None and case.dirty == "penalty_negative":
        penalty = -penalty
    elif penalty is not None and case.dirty == "penalty_in_wan_cny":
        penalty = penalty * 10_000

    versions: list[tuple[datetime, dict[str, Any]]] = []
    reached: dict[str, datetime] = {}
    status, text = "filed", texts["filed"]
    previous: datetime | None = None
    for at, event, number in events:
        if at >= horizon:
            break
        if previous is not None and at <= previous:
            at = previous + timedelta(seconds=1)
        previous = at
        if event == "revision":
            text = f"{texts[status]}（第{number}次修订）"
        else:
            status, text = event, texts[event]
            reached[event] = at
        decided = "decided" in reached
        closed_at = reached.get("closed")
        if closed_at is not None and case.dirty_closed_at is not None:
            closed_at = case.dirty_closed_at
        versions.append(
            (
                at,
                {
                    "case_id": case.case_id,
                    "origin": case.origin,
                    "grid_case_id": case.grid_case_id,
                    "hotline_request_id": case.hotline_request_id,
                    "matter_code": matter_code,
                    "party": party,
                    "street_code": case.street_code,
                    "address": case.address,
                    "lat": case.lat,
                    "lon": case.lon,
                    "filed_at": _iso(case.filed_at),
                    "investigated_at": _iso(reached.get("investigating")),
                    "decided_at": _iso(reached.get("decided")),
                    "closed_at": _iso(closed_at),
                    "status": status,
                    "penalty_cny": penalty if decided else None,
                    "measures": list(case.measures) if decided else [],
                    "result_text": text,
                    "team_code": case.team_code,
                    "updated_at": _iso(at),
                },
            )
        )
    return versions


def generate(ctx: GenContext) -> PlatformResult:
    """Write the enforcement platform's case versions and publish the clean cases for the credit platform."""
    rng = rng_for(ctx.seed, "enforcement")
    places = _Places(ctx)
    parties = _Parties(ctx)
    planted = _planted_cases(ctx, rng, places)
    background = _background_cases(ctx, rng, parties, places)
    dirty_ids = _inject_dirt(background, rng, ctx.end)
    cases = background + planted

    kind, entity, visible, bodies = [], [], [], []
    end_micros = to_micros(ctx.end)
    visible_at_end = set()
    for case in cases:
        for at, body in _versions(case, rng, ctx.horizon):
            micros = to_micros(at)
            kind.append("case")
            entity.append(case.case_id)
            visible.append(micros)
            bodies.append(json.dumps(body, ensure_ascii=False, separators=(",", ":")))
            if micros <= end_micros:
                visible_at_end.add(case.case_id)
    versions = pa.table(
        {
            "kind": pa.array(kind, pa.string()),
            "entity_id": pa.array(entity, pa.string()),
            "visible_from": pa.array(visible, pa.int64()),
            "updated": pa.array(visible, pa.int64()),
            "body": pa.array(bodies, pa.string()),
        }
    )
    n_versions = write_versions(ctx.dataset.store_path("enforcement"), versions)

    ctx.shared["enforcement_cases"] = pa.table(
        {
            "case_id": [case.case_id for case in cases],
            "party_uscc": [case.party["uscc"] for case in cases],
            "matter_code": [case.matter_code for case in cases],
            "penalty_cny": [
                case.penalty_cny if case.decided_at is not None and case.decided_at < ctx.horizon else None
                for case in cases
            ],
            "decided_at": [
                case.decided_at if case.decided_at is not None and case.decided_at < ctx.horizon else None
                for case in cases
            ],
            "street_code": [case.street_code for case in cases],
        },
        schema=SHARED_SCHEMA,
    )

    origins: dict[str, int] = {}
    for case in cases:
        origins[case.origin] = origins.get(case.origin, 0) + 1
    truth = {
        "dirty": {kind_: {"count": len(ids), "ids": ids} for kind_, ids in dirty_ids.items()},
        "counts": {"cases": len(cases), "versions": n_versions, "cases_visible_at_end": len(visible_at_end)},
        "origins": dict(sorted(origins.items())),
        "planted": {
            "fume_chain_cases": [chain.enforcement_case_id for chain in ctx.scenario.fume_chains],
            "blacklist_cases": [
                case_id for black in ctx.scenario.blacklisted for case_id in black.enforcement_case_ids
            ],
        },
    }
    ctx.log(f"enforcement: {len(cases):,} cases, {n_versions:,} versions")
    return PlatformResult(counts={"cases": len(cases), "versions": n_versions}, truth=truth)
