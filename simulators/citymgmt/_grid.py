"""Grid cases (网格化城市管理) and their seven-step closed loop, one day of reported cases at a time.

collect → file → dispatch → handle → feedback → verify_close → evaluate; a case may be returned to the
command centre after feedback (return → dispatch → handle → feedback again) or voided at filing
(collect → void). Each step is a ``grid.case_step`` row; each step also moves the case's ``status`` (a new
version of the ``grid.case`` row with a later ``updated_at``). Steps after the horizon are not generated:
such cases are still open at the end of the data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa

from gridlake.reference import communities
from simulators.citymgmt._loader import Loader
from simulators.citymgmt._masters import Masters
from simulators.citymgmt._util import DAY, HOUR, MINUTE, SECOND, Run, segmented_cummax
from simulators.citymgmt.schema import table
from simulators.scenario import TZ
from simulators.world import HOURS, WEEKDAYS

__all__ = [
    "CASES_PER_DAY",
    "COMMAND_CENTRE",
    "HOTLINE_CENTRE",
    "HOTLINE_CASE_SHARE",
    "GridCases",
    "cases_day",
    "hotline_cases_by_day",
]

CASES_PER_DAY = 1700  # at scale 1.0, all origins together
HOTLINE_CASE_SHARE = 0.3  # share of hotline orders with a domain that the grid platform files as a case
COMMAND_CENTRE = "CC01"  # 区城市管理指挥中心: files, dispatches, verifies and evaluates
HOTLINE_CENTRE = "12345"  # the hotline hands its orders over to the grid platform
_STATUS = {
    "collect": "reported",
    "file": "filed",
    "void": "voided",
    "dispatch": "dispatched",
    "handle": "handling",
    "feedback": "feedback",
    "return": "filed",
    "verify_close": "closed",
    "evaluate": "evaluated",
}
_NOTES = {
    "file": "审核通过，立案",
    "void": "不予立案：重复上报",
    "dispatch": "派遣至责任单位",
    "handle": "已到场处置",
    "feedback": "处置完毕，已反馈",
    "return": "核查未通过，回退重新派遣",
    "verify_close": "核查通过，结案",
    "evaluate": "综合评价：按期办结",
}
_COLLECT_NOTES = {
    "inspector": "监督员上报",
    "video": "视频巡查发现",
    "hotline": "12345转办",
    "media": "媒体曝光",
    "sensor": "物联感知报警",
    "superior": "上级交办",
}
_BACKGROUND_ORIGINS = ("inspector", "video", "sensor", "media", "superior")
_ORIGIN_WEIGHTS = (0.62, 0.26, 0.06, 0.03, 0.03)
# (kind, category, subcategory, enforcement matter, handling unit: "street" or a department, weight)
_CASE_TYPES: tuple[tuple[str, str, str, str | None, str, float], ...] = (
    ("component", "公用设施", "井盖破损", None, "D01", 4),
    ("component", "公用设施", "路灯损坏", None, "D01", 4),
    ("component", "公用设施", "消火栓损坏", None, "D01", 1),
    ("component", "道路交通", "交通护栏损坏", None, "D06", 2),
    ("component", "道路交通", "道路破损", None, "D01", 3),
    ("component", "市容环境", "果皮箱破损", None, "street", 3),
    ("component", "园林绿化", "行道树损坏", None, "D07", 2),
    ("event", "市容环境", "暴露垃圾", None, "street", 14),
    ("event", "市容环境", "积存垃圾渣土", "B05", "street", 6),
    ("event", "市容环境", "道路不洁", None, "D01", 6),
    ("event", "市容环境", "乱堆物料", "B03", "street", 5),
    ("event", "宣传广告", "非法小广告", "A05", "street", 8),
    ("event", "宣传广告", "违规户外广告", "B01", "street", 2),
    ("event", "街面秩序", "占道经营", "A03", "street", 6),
    ("event", "街面秩序", "无照游商", "A01", "street", 5),
    ("event", "街面秩序", "店外经营", "A02", "street", 5),
    ("event", "街面秩序", "露天烧烤", "A04", "street", 2),
    ("event", "施工管理", "施工扬尘", "C02", "D04", 3),
    ("event", "施工管理", "渣土遗撒", "D02", "D04", 2),
    ("event", "施工管理", "违法建设", "D05", "street", 2),
    ("event", "园林绿化", "毁坏绿地", "E01", "D07", 1),
    ("event", "停车秩序", "人行道违停", "F01", "D06", 5),
    ("event", "停车秩序", "共享单车乱停", "F02", "street", 6),
    ("event", "餐饮油烟", "油烟扰民", "C01", "street", 2),
    ("event", "环境保护", "露天焚烧", "C03", "street", 1),
)
_SENSOR_TYPES = tuple(i for i, t in enumerate(_CASE_TYPES) if t[2] in ("施工扬尘", "油烟扰民", "道路不洁"))
# The hotline's service groups (reference.md) as grid case kinds and categories.
_GROUP_CATEGORY = {
    "dust": ("event", "施工管理"),
    "fume": ("event", "餐饮油烟"),
    "garbage": ("event", "市容环境"),
    "cleaning": ("event", "市容环境"),
    "street_order": ("event", "街面秩序"),
    "facilities": ("component", "公用设施"),
    "parking": ("event", "停车秩序"),
    "heavy_vehicle": ("event", "施工管理"),
}
_LOOP = ("collect", "file", "dispatch", "handle", "feedback", "verify_close", "evaluate")


@dataclass
class GridCases:
    """What the cases add up to across chunks: the shared table for enforcement, the planted cases."""

    shared: list[pa.Table] = field(default_factory=list)
    hotline_cases: int = 0
    planted: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class _Case:
    case_id: str
    origin: str
    hotline_request_id: str | None
    kind: str
    category: str
    subcategory: str
    matter_code: str | None
    description: str
    street_code: str
    community_code: str
    grid_code: str
    lat: float
    lon: float
    reported: int
    unit: str
    uscc: str | None = None
    planted: bool = False


def hotline_cases_by_day(run: Run, orders: pa.Table | None) -> dict[int, list[dict[str, Any]]]:
    """The hotline orders that become grid cases, by the chunk (day) of the case's report.

    A share of the orders whose service group has a domain; the scenario's planted fume complaints are
    filed with their fixed ids elsewhere. Without the hotline's orders, there are no such cases.
    """
    if orders is None or orders.num_rows == 0:
        return {}
    rng = run.rng("grid.hotline")
    planted = {c.request_id for chain in run.ctx.scenario.fume_chains for c in chain.complaints}
    requested = orders["requested_at"].cast(pa.timestamp("us", tz="UTC")).cast(pa.int64()).to_numpy()
    groups = orders["group"].to_pylist()
    ids = orders["request_id"].to_pylist()
    chosen = rng.random(orders.num_rows) < HOTLINE_CASE_SHARE
    delay = rng.integers(15, 121, size=orders.num_rows) * MINUTE
    rows = orders.to_pylist()
    by_day: dict[int, list[dict[str, Any]]] = {}
    for i in np.flatnonzero(chosen):
        if groups[i] not in _GROUP_CATEGORY or ids[i] in planted:
            continue
        reported = int(requested[i] + delay[i])
        day = (reported - run.start_us) // DAY
        if 0 <= day < run.days:
            by_day.setdefault(int(day), []).append(rows[i] | {"reported_us": reported})
    return by_day


def _local_date(us: int) -> str:
    return datetime.fromtimestamp(us / SECOND, TZ).strftime("%Y%m%d")


def cases_day(
    run: Run,
    loader: Loader,
    masters: Masters,
    day: int,
    *,
    orders: list[dict[str, Any]],
    rates: dict[str, float],
    out: GridCases,
) -> None:
    rng = run.rng("grid")
    world = run.ctx.world
    day0 = run.day_start(day)
    community_name = {c.community_code: c.community_name.removesuffix("居委会") for c in communities()}
    cases: list[_Case] = []

    # Background cases.
    n_bg = max(2, int(rng.poisson(CASES_PER_DAY * world.scale * WEEKDAYS[run.weekday(day)] * 0.92)))
    origin = rng.choice(len(_BACKGROUND_ORIGINS), size=n_bg, p=_ORIGIN_WEIGHTS)
    weights = np.array([t[5] for t in _CASE_TYPES], dtype=float)
    kind_of = rng.choice(len(_CASE_TYPES), size=n_bg, p=weights / weights.sum())
    sensor = origin == _BACKGROUND_ORIGINS.index("sensor")
    kind_of[sensor] = rng.choice(np.array(_SENSOR_TYPES), size=int(sensor.sum()))
    profile = np.array(HOURS["day"]) / sum(HOURS["day"])
    hour = np.where(
        origin == 0, rng.uniform(8, 19, n_bg), rng.choice(24, size=n_bg, p=profile) + rng.random(n_bg)
    )
    reported = np.sort(day0 + (hour * HOUR).astype(np.int64))
    grid = rng.choice(len(masters.grid_codes), size=n_bg, p=masters.grid_weight)
    date = _local_date(day0)
    for i in range(n_bg):
        kind, category, sub, matter, unit, _ = _CASE_TYPES[kind_of[i]]
        g = grid[i]
        street, community = str(masters.grid_street[g]), str(masters.grid_community[g])
        origin_name = _BACKGROUND_ORIGINS[origin[i]]
        place = f"{community_name[community]}{masters.grid_codes[g][-3:]}号网格"
        cases.append(
            _Case(
                case_id=f"GC{date}0{i + 1:07d}",
                origin=origin_name,
                hotline_request_id=None,
                kind=kind,
                category=category,
                subcategory=sub,
                matter_code=matter,
                description=f"{_COLLECT_NOTES[origin_name]}：{place}{sub}",
                street_code=street,
                community_code=community,
                grid_code=str(masters.grid_codes[g]),
                lat=round(float(masters.grid_lat[g] + rng.uniform(-0.0008, 0.0008)), 6),
                lon=round(float(masters.grid_lon[g] + rng.uniform(-0.0008, 0.0008)), 6),
                reported=int(reported[i]),
                unit=street if unit == "street" else unit,
            )
        )

    # Cases from hotline orders.
    grid_index = {code: i for i, code in enumerate(masters.grid_codes)}
    for number, order in enumerate(sorted(orders, key=lambda o: o["reported_us"]), start=n_bg + 1):
        kind, category = _GROUP_CATEGORY[order["group"]]
        service = world.service_by_code.get(order["service_code"])
        sub = service.service_name if service is not None else category
        street = order["street_code"]
        unit = street if service is None or service.handler == "street" else service.handler
        g = grid_index.get(order["grid_code"])
        cases.append(
            _Case(
                case_id=f"GC{date}0{number:07d}",
                origin="hotline",
                hotline_request_id=order["request_id"],
                kind=kind,
                category=category,
                subcategory=sub,
                matter_code=order.get("matter_code"),
                description=f"{_COLLECT_NOTES['hotline']}：市民反映{sub}问题",
                street_code=street,
                community_code=order["community_code"],
                grid_code=order["grid_code"]
                if g is not None
                else _nearest_grid(masters, order["lat"], order["lon"]),
                lat=order["lat"],
                lon=order["lon"],
                reported=order["reported_us"],
                unit=unit,
                uscc=order.get("uscc"),
            )
        )
    out.hotline_cases += len(orders)

    # The scenario's fume complaints, each filed as a case with its fixed id.
    for chain in run.ctx.scenario.fume_chains:
        for complaint in chain.complaints:
            reported_us = int(complaint.grid_reported_at.timestamp()) * SECOND
            if (reported_us - run.start_us) // DAY != day:
                continue
            cases.append(
                _Case(
                    case_id=complaint.grid_case_id,
                    origin="hotline",
                    hotline_request_id=complaint.request_id,
                    kind="event",
                    category="餐饮油烟",
                    subcategory="餐饮油烟",
                    matter_code="C01",
                    description=f"{_COLLECT_NOTES['hotline']}：市民反映{chain.restaurant_name}油烟扰民，夜间油烟味大",
                    street_code=chain.street_code,
                    community_code=chain.community_code,
                    grid_code=_nearest_grid(
                        masters, complaint.lat, complaint.lon, community=chain.community_code
                    ),
                    lat=complaint.lat,
                    lon=complaint.lon,
                    reported=reported_us,
                    unit=chain.street_code,
                    uscc=chain.uscc,
                    planted=True,
                )
            )
            out.planted[complaint.grid_case_id] = {
                "case_id": complaint.grid_case_id,
                "hotline_request_id": complaint.request_id,
                "restaurant_id": chain.restaurant_id,
                "reported_at": complaint.grid_reported_at.isoformat(),
            }
    # The scenario's long-standing problems: an inspector finds the matter again, month after month.
    for problem in run.ctx.scenario.long_standing:
        service = world.service_by_code[problem.service_code]
        kind, category = _GROUP_CATEGORY[problem.group]
        for case_id, at in zip(problem.grid_case_ids, problem.grid_reported_at):
            reported_us = int(at.timestamp()) * SECOND
            if (reported_us - run.start_us) // DAY != day:
                continue
            g = int(rng.choice(np.flatnonzero(masters.grid_community == problem.community_code)))
            cases.append(
                _Case(
                    case_id=case_id,
                    origin="inspector",
                    hotline_request_id=None,
                    kind=kind,
                    category=category,
                    subcategory=service.service_name,
                    matter_code=service.matter_code,
                    description=f"{_COLLECT_NOTES['inspector']}：{community_name[problem.community_code]}"
                                f"{masters.grid_codes[g][-3:]}号网格{service.service_name}",
                    street_code=problem.street_code,
                    community_code=problem.community_code,
                    grid_code=str(masters.grid_codes[g]),
                    lat=round(float(masters.grid_lat[g] + rng.uniform(-0.0008, 0.0008)), 6),
                    lon=round(float(masters.grid_lon[g] + rng.uniform(-0.0008, 0.0008)), 6),
                    reported=reported_us,
                    unit=problem.street_code if service.handler == "street" else service.handler,
                    planted=True,
                )
            )
    _emit(run, loader, rng, cases, day=day, rates=rates, out=out)


def _nearest_grid(masters: Masters, lat: float, lon: float, *, community: str | None = None) -> str:
    candidates = np.flatnonzero(masters.grid_community == community) if community is not None else None
    if candidates is None or len(candidates) == 0:
        candidates = np.arange(len(masters.grid_codes))
    d = (masters.grid_lat[candidates] - lat) ** 2 + ((masters.grid_lon[candidates] - lon) * 0.77) ** 2
    return str(masters.grid_codes[candidates[int(np.argmin(d))]])


def _lifecycle(u: np.ndarray, case: _Case, *, voided: bool, returned: bool) -> list[tuple[str, int]]:
    """The case's steps in the order the platform records them, with their times (u: 16 uniforms)."""
    t = case.reported
    steps = [("collect", t)]

    def after(lo_h: float, hi_h: float, x: float) -> int:
        return int((lo_h + (hi_h - lo_h) * x) * HOUR)

    if voided:
        return steps + [("void", t + after(10 / 60, 1.5, u[0]))]
    t += after(3 / 60, 40 / 60, u[0])
    steps.append(("file", t))
    t += after(5 / 60, 55 / 60, u[1]) if u[2] > 0.08 else after(1, 4, u[1])
    steps.append(("dispatch", t))
    t += after(2, 60, u[3]) if case.kind == "component" else after(0.5, 36, u[3])
    steps.append(("handle", t))
    t += after(0.2, 6, u[4])
    steps.append(("feedback", t))
    if returned:
        t += after(1, 10, u[5])
        steps.append(("return", t))
        t += after(10 / 60, 50 / 60, u[6])
        steps.append(("dispatch", t))
        t += after(1, 24, u[7])
        steps.append(("handle", t))
        t += after(0.2, 4, u[8])
        steps.append(("feedback", t))
    t += after(0.5, 20, u[9])
    steps.append(("verify_close", t))
    t += after(2, 48, u[10])
    steps.append(("evaluate", t))
    return steps


def _unit_of(step: str, case: _Case) -> str:
    if step == "collect":
        return {"inspector": case.street_code, "hotline": HOTLINE_CENTRE}.get(case.origin, COMMAND_CENTRE)
    if step in ("handle", "feedback"):
        return case.unit
    return COMMAND_CENTRE


def _emit(
    run: Run,
    loader: Loader,
    rng: np.random.Generator,
    cases: list[_Case],
    *,
    day: int,
    rates: dict[str, float],
    out: GridCases,
) -> None:
    n = len(cases)
    if n == 0:
        return
    u = rng.random((n, 16))
    planted = np.array([c.planted for c in cases])
    voided = (rng.random(n) < 0.04) & ~planted
    returned = (rng.random(n) < 0.07) & ~voided & ~planted
    lifecycles = [
        _lifecycle(u[i], c, voided=bool(voided[i]), returned=bool(returned[i])) for i, c in enumerate(cases)
    ]
    horizon = run.horizon_us

    # Dirty cases: whole loops inside the horizon, planted and returned ones aside; one anomaly each.
    anomaly: dict[int, str] = {}
    if run.spans_allowed(day):
        complete = np.array([lc[-1][0] == "evaluate" and lc[-1][1] <= horizon for lc in lifecycles])
        eligible = complete & ~planted & ~returned
        kinds = ("case_step_out_of_order", "case_step_missing", "case_closed_twice")
        counts = [run.quota.take(kind, "grid.case_step", rates[kind], int(eligible.sum())) for kind in kinds]
        pool = rng.permutation(np.flatnonzero(eligible))
        at = 0
        for kind, count in zip(kinds, counts):
            for i in pool[at : at + count]:
                anomaly[int(i)] = kind
            at += count
    others = np.flatnonzero(~planted & ~np.isin(np.arange(n), list(anomaly)))
    count = run.quota.take("street_code_missing", "grid.case", rates["street_code_missing"], len(others))
    street_missing = {int(i) for i in rng.permutation(others)[:count]}

    # Each step is one transaction: the step row and the case's new status. The case row's lock orders
    # them, so a case's steps become visible in the order they were written, late commits or not.
    step_rows: list[tuple[str, str, str, int, str, int]] = []  # case_id, step, unit, occurred, note, updated
    version_rows: list[tuple[int, str, int, int]] = []  # case index, status, updated, step row (-1: none)
    evidence: dict[int, tuple[str, int]] = {}  # case index → (kind, the version that shows the anomaly)
    for i, (case, steps) in enumerate(zip(cases, lifecycles)):
        # Written seconds after the step; a planted complaint's case within the minute (it is on the
        # platform before the clock's first "now" even when filed just before midnight).
        spread = 55 if case.planted else 115
        written = [
            (name, at, at + int((5 + spread * u[i, 11 + k % 5]) * SECOND))
            for k, (name, at) in enumerate(steps)
        ]
        kind = anomaly.get(i)
        occurred = [at for _, at, _ in written]
        skip = proof = None
        if kind == "case_step_out_of_order":
            # handle, feedback or verify_close recorded as done before the step it follows
            proof = 3 + int(u[i, 12] * 3)
            occurred[proof] = occurred[proof - 1] - int((5 + 85 * u[i, 13]) * MINUTE)
        elif kind == "case_step_missing":
            skip = 2 + int(u[i, 13] * 4)  # dispatch, handle, feedback or verify_close not recorded
            proof = skip + 1
        elif kind == "case_closed_twice":
            k = [name for name, _, _ in written].index("verify_close")
            again = (written[k][1] + written[k + 1][1]) // 2
            written.insert(k + 1, ("verify_close", again, again + 30 * SECOND))
            occurred.insert(k + 1, again)
            proof = k + 1
        for k, (name, _, updated) in enumerate(written):
            if occurred[k] > horizon:
                break
            row = -1
            if k != skip:
                row = len(step_rows)
                note = _COLLECT_NOTES[case.origin] if name == "collect" else _NOTES[name]
                step_rows.append((case.case_id, name, _unit_of(name, case), occurred[k], note, updated))
            if k == proof and kind is not None:
                evidence[i] = (kind, len(version_rows))
            version_rows.append((i, _STATUS[name], updated, row))

    idx = np.array([v[0] for v in version_rows])
    updated = np.array([v[2] for v in version_rows], dtype=np.int64)
    first_version = np.r_[True, idx[1:] != idx[:-1]]
    planted_version = np.array([cases[i].planted for i in idx])
    visible = segmented_cummax(
        run.late.visible("grid.case", updated, eligible=~planted_version), first_version
    )
    step_of = np.array([v[3] for v in version_rows])
    has_step = step_of >= 0

    # grid.case_step rows.
    n_steps = len(step_rows)
    step_updated = np.array([r[5] for r in step_rows], dtype=np.int64)
    step_visible = np.empty(n_steps, dtype=np.int64)
    step_visible[step_of[has_step]] = visible[has_step]
    run.late.note("grid.case_step", step_updated, step_visible)
    order = np.argsort(step_updated, kind="stable")
    step_ids = np.empty(n_steps, dtype=np.int64)
    step_ids[order] = run.ids.take("grid.case_step", n_steps)
    loader.add(
        table("grid.case_step"),
        {
            "step_id": step_ids,
            "case_id": np.array([r[0] for r in step_rows], dtype=object),
            "step": np.array([r[1] for r in step_rows], dtype=object),
            "unit_code": np.array([r[2] for r in step_rows], dtype=object),
            "occurred_at": np.array([r[3] for r in step_rows], dtype=np.int64),
            "note": np.array([r[4] for r in step_rows], dtype=object),
            "updated_at": step_updated,
        },
        visible_at=step_visible,
    )
    for i, (kind, version) in evidence.items():
        run.ledger.add(kind, "grid.case_step", [cases[i].case_id], [int(visible[version])])

    # grid.case versions: one per step, the status it leaves the case in.
    def column(attr: str) -> np.ndarray:
        return np.array([getattr(cases[i], attr) for i in idx], dtype=object)

    street = column("street_code")
    street[np.isin(idx, list(street_missing))] = None
    loader.add(
        table("grid.case"),
        {
            "case_id": column("case_id"),
            "origin": column("origin"),
            "hotline_request_id": column("hotline_request_id"),
            "kind": column("kind"),
            "category": column("category"),
            "subcategory": column("subcategory"),
            "description": column("description"),
            "street_code": street,
            "community_code": column("community_code"),
            "grid_code": column("grid_code"),
            "lat": column("lat").astype(float),
            "lon": column("lon").astype(float),
            "reported_at": np.array([cases[i].reported for i in idx], dtype=np.int64),
            "status": np.array([v[1] for v in version_rows], dtype=object),
            "responsible_unit_code": column("unit"),
            "updated_at": updated,
        },
        visible_at=visible,
    )
    first_visible = dict(zip(idx[first_version].tolist(), visible[first_version].tolist()))
    missing = sorted(street_missing)
    run.ledger.add(
        "street_code_missing",
        "grid.case",
        [cases[i].case_id for i in missing],
        [first_visible[i] for i in missing],
    )

    # The cases other platforms link to (enforcement): every case not voided, with clean values.
    keep = [i for i in range(n) if not voided[i]]
    out.shared.append(
        pa.table(
            {
                "case_id": [cases[i].case_id for i in keep],
                "origin": [cases[i].origin for i in keep],
                "hotline_request_id": pa.array([cases[i].hotline_request_id for i in keep], pa.string()),
                "category": [cases[i].category for i in keep],
                "matter_code": pa.array([cases[i].matter_code for i in keep], pa.string()),
                "street_code": [cases[i].street_code for i in keep],
                "community_code": [cases[i].community_code for i in keep],
                "grid_code": [cases[i].grid_code for i in keep],
                "lat": pa.array([cases[i].lat for i in keep], pa.float64()),
                "lon": pa.array([cases[i].lon for i in keep], pa.float64()),
                "reported_at": pa.array([cases[i].reported for i in keep], pa.int64())
                .cast(pa.timestamp("us", tz="UTC"))
                .cast(pa.timestamp("us", tz="Asia/Shanghai")),
                "uscc": pa.array([cases[i].uscc for i in keep], pa.string()),
            }
        )
    )
