"""The words of the hotline's work orders: what citizens say, what units answer, who calls.

Kept apart from the generator so that the generator reads as the lifecycle it simulates. Every text here is
clean by construction (no control characters, far below 4000 characters), so the dirty descriptions the
generator injects cannot arise by chance.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "ASKS",
    "PHONE_PREFIXES",
    "REPEAT_ASK",
    "REPLIES",
    "RETURN_REASONS",
    "SERVICE_DETAILS",
    "STREET_ZIPCODES",
    "UNRESOLVED_REPLIES",
    "complainant_names",
    "complainant_phones",
    "group_label",
]

# What the citizen says, per service code; services not listed use a generic sentence on their name.
SERVICE_DETAILS: dict[str, tuple[str, ...]] = {
    "101001": ("道路上尘土很大，车一过就扬起来，一直没人洒水", "路面积土多，刮风时尘土飞扬"),
    "101002": ("附近工地没有苫盖，渣土裸露，扬尘严重", "工地车辆带泥上路，门口没有冲洗设施"),
    "102001": ("楼下饭馆油烟直排，家里窗户都不敢开", "餐馆排风口正对居民楼，每天晚上油烟味很重"),
    "103001": ("垃圾分类桶站混投严重，没有人指导", "小区厨余垃圾桶经常被投放其他垃圾"),
    "103002": ("垃圾桶满了好几天没人清运，味道很大", "胡同口垃圾堆放，清运不及时"),
    "104001": ("路面脏乱，落叶和垃圾很久没人清扫", "人行道上垃圾多，保洁不到位"),
    "104002": ("环卫车凌晨作业噪音很大，影响休息", "每天夜里垃圾车作业声音大"),
    "105001": ("路边有无照商贩摆摊叫卖", "地铁口有游商聚集，影响通行"),
    "105002": ("门店把货物摆到店外经营，占用人行道", "商户在门前摆桌椅经营"),
    "105003": ("有人占用道路摆摊经营", "早市占道经营，车辆无法通行"),
    "105004": ("夜间施工和商户音响声音很大，无法休息", "附近噪音扰民，深夜仍不停止"),
    "105005": ("有人在院内私搭乱建，影响邻居通行和采光", "楼顶违法加盖房屋"),
    "105006": ("路边有人露天烧烤，烟很大", "商户在门前露天烧烤到深夜"),
    "106001": ("路上井盖缺失，存在安全隐患", "井盖破损下沉，行人容易踩空"),
    "106002": ("路灯不亮好几天了，晚上出行不安全", "胡同里路灯坏了没人修"),
    "106003": ("背街小巷环境脏乱，杂物堆积", "胡同里积水和垃圾没人处理"),
    "106004": ("公共座椅和健身器材损坏", "护栏损坏，存在安全隐患"),
    "107001": ("车辆乱停占用消防通道", "人行道上违章停车严重"),
    "107002": ("小区停车位太少，停车难", "周边没有停车位，车辆只能停在路边"),
    "107003": ("有人私装地锁占用公共车位", "小区里地锁越来越多"),
    "107004": ("共享单车堆放占用人行道", "地铁口共享单车乱停无人清理"),
    "108001": ("大货车冒黑烟，排放很严重", "重型车辆尾气黑烟明显"),
    "108002": ("渣土车遗撒，路面全是泥土", "夜间渣土车沿路撒落渣土"),
    "109001": ("物业不作为，报修多次无人处理", "物业收费不合理，服务质量差"),
    "109002": ("老旧小区改造进度慢，施工影响生活", "老旧小区改造方案没有征求居民意见"),
    "109003": ("楼上漏水，协调多次没有解决", "房屋漏水，墙面发霉"),
    "110001": ("家里暖气不热，室温只有十几度", "暖气管道漏水，停暖了"),
    "110002": ("家里停水了，没有接到通知", "自来水水压低，水质发黄"),
    "110003": ("小区停电了，没有接到通知", "频繁停电，影响生活"),
    "110004": ("闻到燃气味，担心泄漏", "燃气表故障，无法正常使用"),
    "111001": ("社保缴费记录有误", "社保卡办理进度慢"),
    "111002": ("社区卫生服务站服务态度差", "医院挂号困难"),
    "111003": ("学校周边交通秩序混乱", "入学政策不清楚"),
    "111004": ("社区养老驿站服务不到位", "老人助餐服务价格高"),
    "111005": ("小区附近有可疑人员", "夜间有人聚集喧哗"),
    "111006": ("邻居在楼道堆放杂物，协商无果", "邻居饲养宠物扰民"),
}
ASKS: tuple[str, ...] = ("希望相关部门尽快处理。", "请求核实处理。", "要求尽快解决。", "希望给予答复。")
REPEAT_ASK = "此前已经反映过，问题仍未解决，希望这次彻底解决。"
REPLIES: tuple[str, ...] = (
    "经现场核实，情况属实，已督促责任方整改完毕。",
    "已联系相关单位处理，问题已解决，已向来电人反馈。",
    "已安排工作人员现场处置，处置完毕。",
    "经核实情况属实，已依法依规处置，后续将加强巡查。",
    "已向来电人解释相关政策，来电人表示理解。",
)
UNRESOLVED_REPLIES: tuple[str, ...] = (
    "双方诉求分歧较大，已组织调解，将持续跟进。",
    "该问题涉及历史遗留问题，已纳入工作计划，择期解决。",
    "经核实，来电人诉求暂不具备解决条件，已做好解释工作。",
)
RETURN_REASONS: tuple[str, ...] = (
    "不属于本单位职责范围",
    "诉求地址不在本辖区",
    "诉求内容需其他部门处置",
    "权属不清，需重新派单",
)
# The district's postal codes, one per street (code order), for the Open311 zipcode field.
STREET_ZIPCODES: tuple[str, ...] = (
    "100006", "100009", "100007", "100011", "100007", "100010", "100010", "100005", "100027",
    "100013", "100051", "100062", "100062", "100061", "100061", "100050", "100075",
)
# Chinese mobile prefixes (three digits) in use.
PHONE_PREFIXES: tuple[str, ...] = (
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "153", "155", "156",
    "157", "158", "159", "166", "176", "177", "178", "180", "181", "182", "183", "185", "186", "187", "188",
    "189", "191", "198", "199",
)
_SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国志文亮春梅海燕雪飞宇鑫佳欣怡"
_GROUP_LABELS = {
    "dust": "扬尘", "fume": "餐饮油烟", "garbage": "垃圾", "cleaning": "环卫保洁", "street_order": "街面秩序",
    "facilities": "市政设施", "parking": "停车", "heavy_vehicle": "重型车辆", "property": "物业房屋",
    "utilities": "水电气热", "social": "社会事务", "other": "其他",
}


def group_label(group: str) -> str:
    """The Chinese label of a service group, for the services' descriptions."""
    return _GROUP_LABELS.get(group, group)


def complainant_names(rng: np.random.Generator, n: int) -> list[str]:
    """Fake but realistic Chinese names: a surname and one or two given characters."""
    surnames = rng.choice(np.array(list(_SURNAMES)), size=n)
    given = rng.choice(np.array(list(_GIVEN)), size=(n, 2))
    width = rng.integers(1, 3, size=n)
    return [s + "".join(g[:w]) for s, g, w in zip(surnames.tolist(), given.tolist(), width.tolist())]


def complainant_phones(rng: np.random.Generator, n: int) -> list[str]:
    """Distinct fake mobile numbers (11 digits, 1xx): a caller repeats on purpose, never by chance."""
    phones: list[str] = []
    seen: set[str] = set()
    while len(phones) < n:
        k = (n - len(phones)) + 16
        prefixes = rng.choice(np.array(PHONE_PREFIXES), size=k)
        numbers = rng.integers(0, 100_000_000, size=k)
        for prefix, number in zip(prefixes.tolist(), numbers.tolist()):
            phone = f"{prefix}{number:08d}"
            if phone not in seen and len(phones) < n:
                seen.add(phone)
                phones.append(phone)
    return phones
