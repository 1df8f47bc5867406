"""The simulated district: places, handling units, hotline services, fleets and market subjects.

Everything here is derived from the seed and the scale alone, so every platform's generator sees the same
district: the restaurant whose sensor exceeds is the one the hotline complains about, whose credit file the
credit platform keeps, and whose uscc the enforcement case names.

Places are the real streets and communities (gridlake.reference); coordinates are approximations: each
street is placed at its rough real centre, communities around it, unit grids around their community.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pyarrow as pa

from gridlake import uscc
from gridlake.reference import communities, streets
from gridlake.settings import get_settings
from simulators.fake import person_names

__all__ = [
    "DEPARTMENTS",
    "ENTERPRISE_UNITS",
    "HOURS",
    "SEASONS",
    "SERVICE_GROUP_DOMAIN",
    "STREET_CENTRES",
    "Service",
    "Unit",
    "WEEKDAYS",
    "World",
    "build_world",
    "rng_for",
]

# Rough real centres (WGS84) of the 17 streets, north to south; used only to place simulated points.
STREET_CENTRES: dict[str, tuple[float, float]] = {
    "110101001": (39.9165, 116.4050),  # 东华门
    "110101002": (39.9285, 116.4000),  # 景山
    "110101003": (39.9395, 116.4045),  # 交道口
    "110101004": (39.9480, 116.4080),  # 安定门
    "110101005": (39.9420, 116.4185),  # 北新桥
    "110101006": (39.9305, 116.4180),  # 东四
    "110101007": (39.9250, 116.4290),  # 朝阳门
    "110101008": (39.9090, 116.4260),  # 建国门
    "110101009": (39.9400, 116.4340),  # 东直门
    "110101010": (39.9585, 116.4150),  # 和平里
    "110101011": (39.8960, 116.3990),  # 前门
    "110101012": (39.8950, 116.4160),  # 崇文门外
    "110101013": (39.8930, 116.4300),  # 东花市
    "110101014": (39.8810, 116.4380),  # 龙潭
    "110101015": (39.8815, 116.4215),  # 体育馆路
    "110101016": (39.8790, 116.4060),  # 天坛
    "110101017": (39.8680, 116.4000),  # 永定门外
}

# The hotline's service groups and the domain each maps to (reference.md); None: no domain.
SERVICE_GROUP_DOMAIN: dict[str, str | None] = {
    "dust": "road_dust",
    "fume": "cooking_fume",
    "garbage": "garbage_sorting",
    "cleaning": "sanitation_vehicle",
    "street_order": "enforcement",
    "facilities": "grid_supervision",
    "parking": "static_traffic",
    "heavy_vehicle": "heavy_diesel",
    "property": None,
    "utilities": None,
    "social": None,
    "other": None,
}


@dataclass(frozen=True, slots=True)
class Unit:
    """A handling unit of hotline orders: a street office, a district department or a utility enterprise."""

    unit_code: str
    unit_name: str
    unit_type: str  # street | department | enterprise
    # Median hours from dispatch to first contact; slow units are part of the scenario's ground truth.
    respond_hours: float = 3.0


DEPARTMENTS: tuple[Unit, ...] = (
    Unit("D01", "区城市管理委员会", "department"),
    Unit("D02", "区城管执法局", "department"),
    Unit("D03", "区生态环境局", "department"),
    Unit("D04", "区住房和城乡建设委员会", "department", respond_hours=30.0),
    Unit("D05", "区市场监督管理局", "department"),
    Unit("D06", "东城交通支队", "department", respond_hours=26.0),
    Unit("D07", "区园林绿化局", "department"),
    Unit("D08", "区人力资源和社会保障局", "department"),
    Unit("D09", "区卫生健康委员会", "department"),
    Unit("D10", "区教育委员会", "department"),
    Unit("D11", "区民政局", "department"),
    Unit("D12", "区水务局", "department"),
    Unit("D13", "东城公安分局", "department"),
)
ENTERPRISE_UNITS: tuple[Unit, ...] = (
    Unit("E01", "北京市热力集团东城分公司", "enterprise", respond_hours=1.0),
    Unit("E02", "北京市自来水集团东城营业所", "enterprise", respond_hours=1.0),
    Unit("E03", "国网北京东城供电公司", "enterprise", respond_hours=0.8),
    Unit("E04", "北京市燃气集团东城分公司", "enterprise", respond_hours=0.8),
)

# Monthly multipliers (January first) of the seasonal profiles.
SEASONS: dict[str, tuple[float, ...]] = {
    "flat": (1.0,) * 12,
    "heating": (2.4, 1.9, 1.4, 0.35, 0.1, 0.1, 0.1, 0.1, 0.1, 0.6, 3.0, 2.8),
    "summer": (0.6, 0.6, 0.8, 0.9, 1.2, 1.7, 1.9, 1.8, 1.1, 0.8, 0.6, 0.6),
    "spring": (0.7, 0.9, 1.9, 2.1, 1.8, 0.9, 0.7, 0.7, 0.8, 0.9, 0.8, 0.8),
    "rain": (0.5, 0.5, 0.6, 0.8, 1.0, 1.6, 2.2, 2.0, 1.1, 0.7, 0.5, 0.5),
}
# Hourly weights (00-23) of the diurnal profiles.
HOURS: dict[str, tuple[float, ...]] = {
    "day": (0.2, 0.1, 0.1, 0.1, 0.1, 0.2, 0.5, 1.2, 2.0, 2.4, 2.4, 2.2,
            1.8, 1.9, 2.2, 2.2, 2.0, 1.8, 1.4, 1.2, 1.0, 0.8, 0.5, 0.3),
    "evening": (0.5, 0.3, 0.1, 0.1, 0.1, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.4,
                1.6, 1.2, 1.0, 1.0, 1.2, 1.8, 2.8, 3.2, 3.0, 2.6, 1.8, 1.0),
    "night": (2.0, 1.6, 0.8, 0.3, 0.2, 0.2, 0.4, 0.8, 1.0, 1.0, 0.9, 0.9,
              0.9, 0.9, 0.9, 0.9, 1.0, 1.0, 1.1, 1.3, 1.6, 2.0, 2.6, 2.6),
}
# Monday first: more calls after the weekend.
WEEKDAYS: tuple[float, ...] = (1.18, 1.06, 1.0, 1.0, 0.98, 0.86, 0.82)


@dataclass(frozen=True, slots=True)
class Service:
    """A hotline matter category (an Open311 service)."""

    service_code: str
    service_name: str
    group: str
    # "street" (the street of the place handles it) or a department / enterprise unit code.
    handler: str
    share: float  # share of the district's daily volume
    season: str = "flat"
    hours: str = "day"
    urgency: str = "normal"
    # A matter where interests conflict (disputes): low satisfaction is part of the ground truth.
    dispute: bool = False
    # Enforcement matter code (reference.md) when the matter can end in an enforcement case.
    matter_code: str | None = None
    keywords: tuple[str, ...] = ()


_SERVICES: tuple[Service, ...] = (
    Service("101001", "道路扬尘", "dust", "street", 0.014, "spring", matter_code="C02", keywords=("扬尘", "尘土")),
    Service("101002", "施工扬尘", "dust", "D04", 0.016, "spring", matter_code="C02", keywords=("工地", "扬尘")),
    Service("102001", "餐饮油烟", "fume", "street", 0.04, "summer", "evening", matter_code="C01",
            keywords=("油烟", "饭馆")),
    Service("103001", "垃圾分类", "garbage", "street", 0.02, keywords=("垃圾分类",)),
    Service("103002", "垃圾清运不及时", "garbage", "D01", 0.03, "summer", keywords=("垃圾", "清运")),
    Service("104001", "道路清扫保洁", "cleaning", "D01", 0.025, keywords=("清扫", "保洁")),
    Service("104002", "环卫作业噪音", "cleaning", "D01", 0.015, hours="night", keywords=("环卫车", "噪音")),
    Service("105001", "无照游商", "street_order", "street", 0.03, "summer", "evening", matter_code="A01"),
    Service("105002", "店外经营", "street_order", "street", 0.03, "summer", matter_code="A02"),
    Service("105003", "占道经营", "street_order", "street", 0.025, matter_code="A03"),
    Service("105004", "噪声扰民", "street_order", "street", 0.045, "summer", "night", matter_code="C04"),
    Service("105005", "违法建设", "street_order", "street", 0.02, dispute=True, matter_code="D05"),
    Service("105006", "露天烧烤", "street_order", "street", 0.01, "summer", "evening", matter_code="A04"),
    Service("106001", "井盖缺失", "facilities", "D01", 0.01, urgency="urgent"),
    Service("106002", "路灯不亮", "facilities", "D01", 0.025),
    Service("106003", "背街小巷环境", "facilities", "street", 0.04, "rain"),
    Service("106004", "公共设施损坏", "facilities", "D01", 0.025),
    Service("107001", "违章停车", "parking", "D06", 0.05, matter_code="F01"),
    Service("107002", "停车难", "parking", "street", 0.02, dispute=True),
    Service("107003", "私设地锁", "parking", "street", 0.015, matter_code="F03"),
    Service("107004", "共享单车乱停", "parking", "street", 0.015, matter_code="F02"),
    Service("108001", "大货车冒黑烟", "heavy_vehicle", "D03", 0.01),
    Service("108002", "渣土车遗撒", "heavy_vehicle", "D03", 0.01, hours="night", matter_code="D02"),
    Service("109001", "物业管理", "property", "street", 0.08, dispute=True),
    Service("109002", "老旧小区改造", "property", "D04", 0.03, dispute=True),
    Service("109003", "房屋漏水", "property", "street", 0.03, "rain"),
    Service("110001", "供暖", "utilities", "E01", 0.05, "heating", urgency="utility"),
    Service("110002", "供水", "utilities", "E02", 0.02, urgency="utility"),
    Service("110003", "停电", "utilities", "E03", 0.015, "rain", urgency="utility"),
    Service("110004", "燃气", "utilities", "E04", 0.01, "heating", urgency="utility"),
    Service("111001", "社会保险", "social", "D08", 0.03),
    Service("111002", "医疗卫生", "social", "D09", 0.025),
    Service("111003", "教育", "social", "D10", 0.025),
    Service("111004", "养老服务", "social", "D11", 0.015),
    Service("111005", "社会治安", "social", "D13", 0.02, hours="night"),
    Service("111006", "邻里纠纷", "social", "street", 0.02, dispute=True),
)
# More of the platform's long service list: third-level categories of a real taxonomy, as "other".
_OTHER_NAMES = (
    "市场监管", "食品药品监管", "商业贸易", "旅游管理", "文物管理", "户籍证件", "就业培训", "劳动关系",
    "住房保障与房地产", "公共卫生", "交通管理", "出租车管理", "电信", "邮政管理", "文化", "体育",
    "知识产权", "法律服务", "社会救助", "福利慈善", "环保管理", "其他",
)


def _services() -> tuple[Service, ...]:
    curated_share = sum(service.share for service in _SERVICES)
    other_share = max(0.0, 1.0 - curated_share) / len(_OTHER_NAMES)
    others = tuple(
        Service(f"199{number:03d}", name, "other", "D05" if name in ("市场监管", "食品药品监管") else "street",
                other_share)
        for number, name in enumerate(_OTHER_NAMES, start=1)
    )
    return _SERVICES + others


def rng_for(seed: int, stream: str) -> np.random.Generator:
    """An independent, reproducible random stream per (seed, purpose), so platforms do not disturb each other."""
    key = [seed] + [ord(char) for char in stream]
    return np.random.default_rng(np.random.SeedSequence(key))


_FLEETS = {
    # fleet: units at scale 1.0 (citymgmt.md, the seed document, and the district's rough counts)
    "roads": 289,
    "restaurants": 1662,
    "vehicles": 403,
    "workers": 709,
    "stations": 1200,
    "parking_lots": 260,
    "heavy_vehicles": 300,
    "subjects": 30000,
    "key_enterprises": 1500,
}

_NAME_WORDS = (
    "东方", "华夏", "京城", "瑞丰", "鸿运", "金泰", "同仁", "和顺", "福兴", "永安", "长城", "天成", "嘉禾", "恒信",
    "德胜", "宏达", "隆昌", "新元", "富华", "安和", "百川", "聚源", "盛世", "广利", "万通", "泰和", "中信", "兴业",
    "锦绣", "祥云", "正阳", "崇文", "景山", "东华", "雍和", "北新", "朝阳", "建国", "龙潭", "天坛",
)
_RESTAURANT_KINDS = ("餐厅", "饭馆", "小吃店", "火锅店", "烤肉店", "面馆", "饺子馆", "烧烤店")
_COMPANY_KINDS = (
    ("L7212", "商务服务有限公司"), ("I6510", "科技有限公司"), ("F5211", "商贸有限公司"),
    ("K7010", "房地产开发有限公司"),
    ("E4890", "建筑工程有限公司"), ("R8810", "文化传媒有限公司"), ("J6620", "投资管理有限公司"),
    ("G5430", "物流有限公司"), ("O8010", "物业管理有限公司"), ("M7320", "设计咨询有限公司"),
)


@dataclass
class World:
    """The simulated district at one (seed, scale)."""

    seed: int
    scale: float
    street_codes: np.ndarray
    community_codes: np.ndarray
    community_street: np.ndarray
    community_lat: np.ndarray
    community_lon: np.ndarray
    # Relative call volume of each community (some communities are busier than others).
    community_weight: np.ndarray
    grids: pa.Table
    services: tuple[Service, ...]
    subjects: pa.Table
    restaurants: pa.Table
    roads: pa.Table
    fleet_sizes: dict[str, int] = field(default_factory=dict)

    @property
    def units(self) -> tuple[Unit, ...]:
        """All handling units: the 17 street offices, the departments, the utility enterprises."""
        street_units = tuple(
            Unit(street.street_code, street.street_name + "办事处", "street") for street in streets()
        )
        return street_units + DEPARTMENTS + ENTERPRISE_UNITS

    @cached_property
    def unit_by_code(self) -> dict[str, Unit]:
        return {unit.unit_code: unit for unit in self.units}

    @cached_property
    def service_by_code(self) -> dict[str, Service]:
        return {service.service_code: service for service in self.services}

    def fleet(self, name: str) -> int:
        """The size of a fleet at this world's scale (at least 2, so every kind of data exists)."""
        return self.fleet_sizes[name]


def _scaled(count: int, scale: float) -> int:
    return max(2, int(round(count * scale)))


def _jitter(rng: np.random.Generator, centre: np.ndarray, radius: float, n: int | None = None) -> np.ndarray:
    size = centre.shape if n is None else (n,)
    return centre + rng.uniform(-radius, radius, size=size)


def _clip_to_district(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    settings = get_settings()
    margin = 0.002
    return (
        np.clip(lat, settings.lat_min + margin, settings.lat_max - margin),
        np.clip(lon, settings.lon_min + margin, settings.lon_max - margin),
    )


def _make_uscc(rng: np.random.Generator, n: int, *, kind: np.ndarray) -> np.ndarray:
    """Valid codes of Dongcheng subjects: 91/92 + 110101 + a 9-character organisation code + check."""
    alphabet = np.array(list(uscc.ALPHABET))
    body = rng.choice(alphabet, size=(n, 9))
    codes = []
    seen: set[str] = set()
    for index in range(n):
        first17 = f"9{kind[index]}110101" + "".join(body[index])
        code = uscc.complete(first17)
        while code in seen:  # vanishingly rare; keep codes unique
            first17 = first17[:-1] + str(rng.integers(0, 10))
            code = uscc.complete(first17)
        seen.add(code)
        codes.append(code)
    return np.array(codes)


def build_world(*, seed: int, scale: float) -> World:
    """The district at (seed, scale); the same arguments always give the same world."""
    rng = rng_for(seed, "world")
    comms = communities()
    community_codes = np.array([c.community_code for c in comms])
    community_street = np.array([c.street_code for c in comms])
    centres = np.array([STREET_CENTRES[code] for code in community_street])
    c_lat, c_lon = _clip_to_district(_jitter(rng, centres[:, 0], 0.006), _jitter(rng, centres[:, 1], 0.006))
    community_weight = rng.lognormal(0.0, 0.6, size=len(comms))
    community_weight /= community_weight.sum()

    # Unit grids: about 10,000 m2 each, about 25 per community (41.84 km2 / 169 communities / 0.01 km2).
    per_community = rng.integers(18, 33, size=len(comms))
    grid_community = np.repeat(np.arange(len(comms)), per_community)
    seq = np.concatenate([np.arange(1, k + 1) for k in per_community])
    g_lat, g_lon = _clip_to_district(_jitter(rng, c_lat[grid_community], 0.004),
                                     _jitter(rng, c_lon[grid_community], 0.004))
    grids = pa.table({
        "grid_code": [f"{community_codes[c]}{s:03d}" for c, s in zip(grid_community, seq)],
        "street_code": community_street[grid_community],
        "community_code": community_codes[grid_community],
        "area_m2": rng.integers(7000, 14000, size=len(grid_community)).astype(np.int32),
        "centroid_lat": np.round(g_lat, 6),
        "centroid_lon": np.round(g_lon, 6),
    })

    sizes = {name: _scaled(count, scale) for name, count in _FLEETS.items()}

    # Market subjects (the credit platform's files); restaurants and key enterprises are among them.
    n_subjects = max(sizes["subjects"], sizes["restaurants"] + sizes["key_enterprises"] + 10)
    sizes["subjects"] = n_subjects
    n_rest = sizes["restaurants"]
    is_restaurant = np.zeros(n_subjects, dtype=bool)
    is_restaurant[:n_rest] = True
    individual = np.where(is_restaurant, rng.random(n_subjects) < 0.35, rng.random(n_subjects) < 0.15)
    kind_digit = np.where(individual, "2", "1")
    codes = _make_uscc(rng, n_subjects, kind=kind_digit)
    subject_community = rng.choice(len(comms), size=n_subjects, p=community_weight)
    words = rng.choice(np.array(_NAME_WORDS), size=(n_subjects, 2))
    company_kind = rng.integers(0, len(_COMPANY_KINDS), size=n_subjects)
    rest_kind = rng.choice(np.array(_RESTAURANT_KINDS), size=n_subjects)
    names, industries = [], []
    for index in range(n_subjects):
        w1, w2 = words[index]
        if is_restaurant[index]:
            names.append(f"北京{w1}{w2}{rest_kind[index]}" + ("" if individual[index] else "有限公司"))
            industries.append("H6210" if rng.random() < 0.9 else "H6220")
        else:
            code, suffix = _COMPANY_KINDS[company_kind[index]]
            names.append(f"北京{w1}{w2}{suffix}")
            industries.append(code)
    # Names repeat by chance; make them unique so a name identifies one subject (re-registrations aside).
    seen: dict[str, int] = {}
    for index, name in enumerate(names):
        if name in seen:
            seen[name] += 1
            names[index] = f"{name[:2]}{seen[name]}{name[2:]}"
        else:
            seen[name] = 0
    s_lat, s_lon = _clip_to_district(_jitter(rng, c_lat[subject_community], 0.004),
                                     _jitter(rng, c_lon[subject_community], 0.004))
    subjects = pa.table({
        "uscc": codes,
        "name": names,
        "legal_representative": person_names(rng, n_subjects),
        "street_code": community_street[subject_community],
        "community_code": community_codes[subject_community],
        "industry_code": industries,
        "is_restaurant": is_restaurant,
        "individual": individual,
        "lat": np.round(s_lat, 6),
        "lon": np.round(s_lon, 6),
        "registered_capital_wan_cny": np.round(np.where(individual, rng.uniform(1, 50, n_subjects),
                                                         rng.lognormal(5.5, 1.4, n_subjects)), 2),
        "credit_level": rng.choice(np.array(["A", "B", "C", "D"]), size=n_subjects, p=[0.55, 0.33, 0.1, 0.02]),
    })
    restaurants = pa.table({
        "restaurant_id": [f"R{i:05d}" for i in range(1, n_rest + 1)],
        "uscc": codes[:n_rest],
        "name": subjects["name"].to_numpy(zero_copy_only=False)[:n_rest],
        "street_code": community_street[subject_community[:n_rest]],
        "community_code": community_codes[subject_community[:n_rest]],
        "lat": np.round(s_lat[:n_rest], 6),
        "lon": np.round(s_lon[:n_rest], 6),
        "seats": rng.integers(12, 240, size=n_rest).astype(np.int32),
    })

    n_roads = sizes["roads"]
    road_community = rng.choice(len(comms), size=n_roads)
    roads = pa.table({
        "road_id": [f"RD{i:04d}" for i in range(1, n_roads + 1)],
        "street_code": community_street[road_community],
        "community_code": community_codes[road_community],
        "length_m": rng.integers(150, 2600, size=n_roads).astype(np.int32),
        "grade": rng.choice(np.array(["主干路", "次干路", "支路", "背街小巷"]), size=n_roads,
                            p=[0.15, 0.25, 0.35, 0.25]),
        "lat": np.round(c_lat[road_community], 6),
        "lon": np.round(c_lon[road_community], 6),
    })

    return World(
        seed=seed,
        scale=scale,
        street_codes=np.array([street.street_code for street in streets()]),
        community_codes=community_codes,
        community_street=community_street,
        community_lat=c_lat,
        community_lon=c_lon,
        community_weight=community_weight,
        grids=grids,
        services=_services(),
        subjects=subjects,
        restaurants=restaurants,
        roads=roads,
        fleet_sizes=sizes,
    )
