"""The platform's registers: roads, restaurants, garbage stations, vehicles, workers, unit grids, parking lots
and the heavy vehicles seen in the district. Built once from the world; their dirty fields are injected here.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from gridlake import uscc as uscc_codes
from gridlake.reference import communities, streets
from simulators.citymgmt._loader import Loader
from simulators.citymgmt._util import DAY, SECOND, Run
from simulators.citymgmt.schema import table
from simulators.fake import person_names
from simulators.world import STREET_CENTRES

__all__ = ["Masters", "build_masters", "DUST_GRADE_BASE"]

# Typical dust load (g/m2) of a road grade before the season, hour and weather factors.
DUST_GRADE_BASE = {"主干路": 0.17, "次干路": 0.15, "支路": 0.12, "背街小巷": 0.10}
_ROAD_SUFFIX = {"主干路": "大街", "次干路": "路", "支路": "街", "背街小巷": "胡同"}
_ROAD_WORDS = (
    "王府井",
    "东单",
    "东四",
    "朝阳门",
    "交道口",
    "鼓楼",
    "地安门",
    "北河沿",
    "南河沿",
    "东直门",
    "安定门",
    "雍和宫",
    "北新桥",
    "建国门",
    "崇文门",
    "前门",
    "珠市口",
    "天坛",
    "永定门",
    "磁器口",
    "广渠门",
    "东花市",
    "龙潭",
    "景山",
    "美术馆",
    "灯市口",
    "金宝",
    "东华门",
    "南池子",
    "北池子",
    "东皇城根",
    "张自忠",
    "平安",
    "和平里",
    "光明",
    "法华寺",
    "花市",
    "蒜市口",
    "草厂",
    "打磨厂",
    "鲜鱼口",
    "南锣鼓巷",
    "帽儿",
    "菊儿",
    "东棉花",
    "国子监",
    "五道营",
    "方家",
    "史家",
    "内务部",
    "演乐",
    "本司",
    "东堂子",
    "西总布",
    "赵堂子",
    "干面",
    "新鲜",
    "东总布",
)
_DIRECTIONS = ("东", "西", "南", "北", "中")
_STATION_KINDS = ("building", "bin_point", "transfer")
_STATION_NAMES = {"building": "垃圾分类驿站", "bin_point": "垃圾桶站", "transfer": "垃圾转运站"}
VEHICLE_KINDS = ("sweeper", "washer", "garbage_truck", "sprinkler")
WORKER_ROLES = ("sweeper", "inspector", "driver", "supervisor")
LOT_KINDS = ("residential", "commercial", "mixed")
_PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXY"


@dataclass
class Masters:
    """The registers, with the attributes the readings generators need (clean values)."""

    road_ids: np.ndarray
    road_sensor: np.ndarray
    road_base: np.ndarray  # typical dust load of each road
    restaurant_ids: np.ndarray
    restaurant_schedule: np.ndarray  # (n, 4) minutes of the day: lunch open, lunch close, dinner open, close
    restaurant_base: np.ndarray  # typical fume concentration
    restaurant_rest_day: np.ndarray  # weekday the restaurant is closed, -1: never
    restaurant_chain: np.ndarray  # index into the scenario's fume chains, -1: none
    station_ids: np.ndarray
    station_kind: np.ndarray  # index into _STATION_KINDS
    vehicle_ids: np.ndarray
    vehicle_plates: np.ndarray
    vehicle_kind: np.ndarray  # index into VEHICLE_KINDS
    vehicle_centre: np.ndarray  # (n, 2) lat, lon of the vehicle's street
    worker_ids: np.ndarray
    worker_role: np.ndarray  # index into WORKER_ROLES
    worker_centre: np.ndarray
    lot_ids: np.ndarray
    lot_capacity: np.ndarray
    lot_kind: np.ndarray  # index into LOT_KINDS
    heavy_vin_hash: np.ndarray
    heavy_high_emitter: np.ndarray
    grid_codes: np.ndarray
    grid_street: np.ndarray
    grid_community: np.ndarray
    grid_lat: np.ndarray
    grid_lon: np.ndarray
    grid_weight: np.ndarray  # share of cases and violations falling in each grid


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        if name in seen:
            seen[name] += 1
            out.append(f"{name}{_DIRECTIONS[seen[name] % len(_DIRECTIONS)]}段{seen[name]}")
        else:
            seen[name] = 0
            out.append(name)
    return out


def _plates(rng: np.random.Generator, n: int, *, taken: set[str]) -> np.ndarray:
    alphabet = np.array(list("0123456789" * 3 + _PLATE_LETTERS))
    plates = []
    while len(plates) < n:
        plate = "京" + str(rng.choice(list("ABCEFGHJKLMNPQ"))) + "".join(rng.choice(alphabet, size=5))
        if plate not in taken:
            taken.add(plate)
            plates.append(plate)
    return np.array(plates, dtype=object)


def _dirty_uscc(code: str, form: str, rng: np.random.Generator) -> str | None:
    if form == "lower":
        return code.lower()
    if form == "spaces":
        return f"{code[:2]} {code[2:8]} {code[8:]}"
    if form == "full_width":
        return "".join(chr(ord(char) + 0xFEE0) for char in code)
    if form == "wrong_check":
        wrong = [char for char in uscc_codes.ALPHABET if char != code[17]]
        return code[:17] + str(rng.choice(wrong))
    if form == "missing":
        return None
    raise ValueError(f"unknown uscc dirty form {form!r}")


USCC_FORMS = ("lower", "spaces", "full_width", "wrong_check", "missing")


def build_masters(run: Run, loader: Loader, *, rates: dict[str, float]) -> Masters:
    """Build and load the registers; returns what the readings generators need."""
    ctx, world = run.ctx, run.ctx.world
    rng = run.rng("masters")
    street_short = {s.street_code: s.short_name for s in streets()}
    community_name = {c.community_code: c.community_name.removesuffix("居委会") for c in communities()}

    def registered(n: int) -> np.ndarray:
        """Registration times: before the span, so the registers are visible from the start."""
        return run.start_us - rng.integers(30 * DAY // SECOND, 700 * DAY // SECOND, size=n) * SECOND

    def load(name: str, columns: dict[str, Any]) -> None:
        loader.add(table(name), columns, visible_at=columns["updated_at"])

    # Unit grids: the world's.
    grids = world.grids
    grid_codes = grids["grid_code"].to_numpy(zero_copy_only=False)
    grid_community = grids["community_code"].to_numpy(zero_copy_only=False)
    community_index = {code: i for i, code in enumerate(world.community_codes)}
    per_community = np.bincount(
        [community_index[c] for c in grid_community], minlength=len(world.community_codes)
    )
    grid_weight = np.array(
        [
            world.community_weight[community_index[c]] / per_community[community_index[c]]
            for c in grid_community
        ]
    )
    grid_weight /= grid_weight.sum()
    load(
        "grid.cell",
        {name: grids[name] for name in grids.column_names} | {"updated_at": registered(len(grids))},
    )

    # Roads and their dust sensors.
    roads = world.roads
    n_roads = roads.num_rows
    road_ids = roads["road_id"].to_numpy(zero_copy_only=False)
    grades = roads["grade"].to_numpy(zero_copy_only=False)
    words = rng.choice(np.array(_ROAD_WORDS), size=n_roads)
    road_names = _unique([f"{w}{_ROAD_SUFFIX[g]}" for w, g in zip(words, grades)])
    road_base = np.array([DUST_GRADE_BASE[g] for g in grades]) * rng.lognormal(0.0, 0.2, size=n_roads)
    road_sensor = np.array([f"DS-{rid[2:]}" for rid in road_ids], dtype=object)
    load(
        "dust.road",
        {
            "road_id": road_ids,
            "name": np.array(road_names, dtype=object),
            "street_code": roads["street_code"],
            "length_m": roads["length_m"],
            "grade": roads["grade"],
            "updated_at": registered(n_roads),
        },
    )

    # Restaurants: the world's, with an address, an opening schedule and a fume sensor.
    rest = world.restaurants
    n_rest = rest.num_rows
    rest_ids = rest["restaurant_id"].to_numpy(zero_copy_only=False)
    rest_street = rest["street_code"].to_numpy(zero_copy_only=False)
    road_by_street: dict[str, list[str]] = {}
    for name, street in zip(road_names, roads["street_code"].to_numpy(zero_copy_only=False)):
        road_by_street.setdefault(street, []).append(name)
    addresses = []
    for street in rest_street:
        candidates = road_by_street.get(street) or road_names
        addresses.append(
            f"北京市东城区{street_short[street]}街道{candidates[int(rng.integers(len(candidates)))]}"
            f"{int(rng.integers(1, 220))}号"
        )
    chain_index = np.full(n_rest, -1)
    for k, chain in enumerate(ctx.scenario.fume_chains):
        chain_index[np.flatnonzero(rest_ids == chain.restaurant_id)] = k
    schedule = np.column_stack(
        [
            rng.choice([600, 630, 660], size=n_rest),  # lunch opens 10:00-11:00
            rng.choice([810, 840, 870], size=n_rest),  # lunch closes 13:30-14:30
            rng.choice([990, 1020], size=n_rest),  # dinner opens 16:30-17:00
            rng.choice([1290, 1320, 1350], size=n_rest),  # dinner closes 21:30-22:30
        ]
    )
    schedule[chain_index >= 0, 3] = 1350  # a chain restaurant cooks until 22:30: the complaints' evenings
    rest_day = np.where(rng.random(n_rest) < 0.12, rng.integers(0, 7, size=n_rest), -1)
    rest_day[chain_index >= 0] = -1
    rest_base = rng.lognormal(np.log(0.26), 0.25, size=n_rest)

    clean_uscc = rest["uscc"].to_numpy(zero_copy_only=False)
    served_uscc = clean_uscc.astype(object).copy()
    rest_updated = registered(n_rest)
    eligible = chain_index < 0
    # Every form at least once, so that even a small district shows them all.
    n_dirty = min(int(eligible.sum()), max(len(USCC_FORMS), round(rates["uscc_dirty"] * n_rest)))
    picks = rng.permutation(np.flatnonzero(eligible))[:n_dirty]
    has_letter = np.array([any(ch.isalpha() for ch in code) for code in clean_uscc])
    forms = [USCC_FORMS[i % len(USCC_FORMS)] for i in range(len(picks))]
    by_form: dict[str, list[int]] = {form: [] for form in USCC_FORMS}
    for pick, form in zip(picks, forms):
        if form == "lower" and not has_letter[pick]:
            form = "spaces"  # a code without letters looks the same in lower case
        by_form[form].append(int(pick))
    for form, rows in by_form.items():
        for row in rows:
            served_uscc[row] = _dirty_uscc(str(clean_uscc[row]), form, rng)
        run.ledger.add("uscc_dirty", "fume.restaurant", rest_ids[rows], rest_updated[rows], form=form)
    rest_served_street = _street_missing(
        run,
        rng,
        "fume.restaurant",
        rest_ids,
        rest_street,
        rest_updated,
        eligible=eligible,
        rate=rates["street_code_missing"],
    )
    load(
        "fume.restaurant",
        {
            "restaurant_id": rest_ids,
            "name": rest["name"],
            "uscc": served_uscc,
            "street_code": rest_served_street,
            "community_code": rest["community_code"],
            "address": np.array(addresses, dtype=object),
            "lat": rest["lat"],
            "lon": rest["lon"],
            "seats": rest["seats"],
            "updated_at": rest_updated,
        },
    )

    # Garbage stations.
    n_st = world.fleet("stations")
    st_comm = rng.choice(len(world.community_codes), size=n_st, p=world.community_weight)
    st_kind = rng.choice(3, size=n_st, p=[0.6, 0.37, 0.03])
    st_ids = np.array([f"GS{i:05d}" for i in range(1, n_st + 1)], dtype=object)
    st_seq: dict[int, int] = {}
    st_names = []
    for comm, kind in zip(st_comm, st_kind):
        st_seq[comm] = st_seq.get(comm, 0) + 1
        st_names.append(
            f"{community_name[world.community_codes[comm]]}{st_seq[comm]}号"
            f"{_STATION_NAMES[_STATION_KINDS[kind]]}"
        )
    st_street = world.community_street[st_comm]
    st_updated = registered(n_st)
    st_served_street = _street_missing(
        run,
        rng,
        "garbage.station",
        st_ids,
        st_street,
        st_updated,
        eligible=np.ones(n_st, dtype=bool),
        rate=rates["street_code_missing"],
    )
    load(
        "garbage.station",
        {
            "station_id": st_ids,
            "name": np.array(st_names, dtype=object),
            "kind": np.array(_STATION_KINDS, dtype=object)[st_kind],
            "street_code": st_served_street,
            "community_code": world.community_codes[st_comm],
            "lat": np.round(world.community_lat[st_comm] + rng.uniform(-0.003, 0.003, n_st), 6),
            "lon": np.round(world.community_lon[st_comm] + rng.uniform(-0.003, 0.003, n_st), 6),
            "updated_at": st_updated,
        },
    )

    # Sanitation vehicles (at least one garbage truck: it carries the pick-ups).
    n_veh = world.fleet("vehicles")
    veh_kind = rng.choice(4, size=n_veh, p=[0.35, 0.2, 0.3, 0.15])
    veh_kind[0] = VEHICLE_KINDS.index("garbage_truck")
    taken: set[str] = set()
    plates = _plates(rng, n_veh, taken=taken)
    veh_street = rng.choice(world.street_codes, size=n_veh)
    veh_ids = np.array([f"V{i:04d}" for i in range(1, n_veh + 1)], dtype=object)
    load(
        "vehicle.vehicle",
        {
            "vehicle_id": veh_ids,
            "plate": plates,
            "kind": np.array(VEHICLE_KINDS, dtype=object)[veh_kind],
            "street_code": veh_street,
            "updated_at": registered(n_veh),
        },
    )

    # Sanitation workers.
    n_wk = world.fleet("workers")
    role = rng.choice(4, size=n_wk, p=[0.7, 0.12, 0.13, 0.05])
    wk_street = rng.choice(world.street_codes, size=n_wk)
    wk_ids = np.array([f"W{i:05d}" for i in range(1, n_wk + 1)], dtype=object)
    load(
        "staff.worker",
        {
            "worker_id": wk_ids,
            "name": person_names(rng, n_wk),
            "street_code": wk_street,
            "role": np.array(WORKER_ROLES, dtype=object)[role],
            "updated_at": registered(n_wk),
        },
    )

    # Parking lots.
    n_lot = world.fleet("parking_lots")
    lot_comm = rng.choice(len(world.community_codes), size=n_lot, p=world.community_weight)
    lot_kind = rng.choice(3, size=n_lot, p=[0.45, 0.35, 0.2])
    capacity = np.clip(np.round(rng.lognormal(np.log(90), 0.7, size=n_lot)), 20, 800).astype(np.int32)
    lot_names = [
        f"{community_name[world.community_codes[c]].removesuffix('社区')}{['小区', '商业', '公共'][k]}停车场"
        for c, k in zip(lot_comm, lot_kind)
    ]
    load(
        "traffic.parking_lot",
        {
            "lot_id": np.array([f"P{i:04d}" for i in range(1, n_lot + 1)], dtype=object),
            "name": np.array(_unique(lot_names), dtype=object),
            "street_code": world.community_street[lot_comm],
            "capacity": capacity,
            "lat": np.round(world.community_lat[lot_comm] + rng.uniform(-0.003, 0.003, n_lot), 6),
            "lon": np.round(world.community_lon[lot_comm] + rng.uniform(-0.003, 0.003, n_lot), 6),
            "updated_at": registered(n_lot),
        },
    )

    # Heavy vehicles that cross the district (no register of their own: the OBD rows name a VIN hash).
    n_heavy = world.fleet("heavy_vehicles")
    vins = [
        "LZZ" + "".join(rng.choice(list("0123456789ABCDEFGHJKLMNPRSTUVWXYZ"), size=14))
        for _ in range(n_heavy)
    ]
    vin_hash = np.array([hashlib.sha256(v.encode()).hexdigest() for v in vins], dtype=object)
    draw = rng.random(n_heavy)
    high = draw < 0.06
    high[np.argmin(draw)] = True  # one at least, whatever the scale: the NOx limit must be crossed

    def centre(street_codes: np.ndarray) -> np.ndarray:
        return np.array([STREET_CENTRES[code] for code in street_codes])

    return Masters(
        road_ids=road_ids,
        road_sensor=road_sensor,
        road_base=road_base,
        restaurant_ids=rest_ids,
        restaurant_schedule=schedule,
        restaurant_base=rest_base,
        restaurant_rest_day=rest_day,
        restaurant_chain=chain_index,
        station_ids=st_ids,
        station_kind=st_kind,
        vehicle_ids=veh_ids,
        vehicle_plates=plates,
        vehicle_kind=veh_kind,
        vehicle_centre=centre(veh_street),
        worker_ids=wk_ids,
        worker_role=role,
        worker_centre=centre(wk_street),
        lot_ids=np.array([f"P{i:04d}" for i in range(1, n_lot + 1)], dtype=object),
        lot_capacity=capacity,
        lot_kind=lot_kind,
        heavy_vin_hash=vin_hash,
        heavy_high_emitter=high,
        grid_codes=grid_codes,
        grid_street=grids["street_code"].to_numpy(zero_copy_only=False),
        grid_community=grid_community,
        grid_lat=grids["centroid_lat"].to_numpy(),
        grid_lon=grids["centroid_lon"].to_numpy(),
        grid_weight=grid_weight,
    )


def _street_missing(
    run: Run,
    rng: np.random.Generator,
    name: str,
    ids: np.ndarray,
    street: np.ndarray,
    updated: np.ndarray,
    *,
    eligible: np.ndarray,
    rate: float,
) -> np.ndarray:
    """The served street codes: a share missing (the community code stays, so the street is recoverable)."""
    served = np.asarray(street, dtype=object).copy()
    n = min(int(eligible.sum()), max(1, round(rate * len(ids))))
    picks = np.sort(rng.permutation(np.flatnonzero(eligible))[:n])
    served[picks] = None
    run.ledger.add("street_code_missing", name, ids[picks], updated[picks])
    return served
