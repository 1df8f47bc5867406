"""Fake personal data and addresses for the simulated platforms: realistic in form, belonging to nobody.

Names, phone numbers and id numbers are the personal data the platforms really carry (a complainant, a legal
representative, a worker, a party to a case); gridlake must never publish them. One pool for all platforms.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

__all__ = ["ROADS", "id_number", "person_name", "person_names", "phone_numbers"]

_SURNAMES = np.array(list("王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
                          "苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段"))
_GIVEN = np.array(list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国志文亮"
                       "春梅海燕雪飞宇鑫佳欣怡利民宁晓晨辉鹏"))
# Chinese mobile prefixes in use.
_PHONE_PREFIXES = np.array([
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "153", "155", "156",
    "157", "158", "159", "166", "176", "177", "178", "180", "181", "182", "183", "185", "186", "187", "188",
    "189", "191", "198", "199",
])
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
# Real roads and lanes of Dongcheng, for addresses.
ROADS: tuple[str, ...] = (
    "王府井大街", "东四北大街", "南锣鼓巷", "雍和宫大街", "东直门内大街", "崇文门外大街", "前门大街", "建国门内大街",
    "朝阳门北大街", "安定门外大街", "和平里中街", "天坛路", "永定门外大街", "东花市大街", "龙潭路", "体育馆路",
    "景山前街", "交道口南大街", "北新桥三条", "东华门大街", "鼓楼东大街", "地安门东大街", "灯市口大街", "金鱼胡同",
)


def person_names(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` Chinese names: a surname and one or two given characters."""
    surnames = rng.choice(_SURNAMES, size=n)
    given = rng.choice(_GIVEN, size=(n, 2))
    width = rng.integers(1, 3, size=n)
    return [s + "".join(g[:w]) for s, g, w in zip(surnames.tolist(), given.tolist(), width.tolist())]


def person_name(rng: np.random.Generator) -> str:
    return person_names(rng, 1)[0]


def phone_numbers(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` distinct mobile numbers (11 digits): a caller repeats only where a generator means it to."""
    phones: list[str] = []
    seen: set[str] = set()
    while len(phones) < n:
        k = (n - len(phones)) + 16
        prefixes = rng.choice(_PHONE_PREFIXES, size=k)
        numbers = rng.integers(0, 100_000_000, size=k)
        for prefix, number in zip(prefixes.tolist(), numbers.tolist()):
            phone = f"{prefix}{number:08d}"
            if phone not in seen and len(phones) < n:
                seen.add(phone)
                phones.append(phone)
    return phones


def id_number(rng: np.random.Generator) -> str:
    """A resident id number of the GB 11643 form (Dongcheng region, birth date, sequence, MOD 11-2 check)."""
    birth = date(1955, 1, 1) + timedelta(days=int(rng.integers(0, 365 * 50)))
    body = f"110101{birth:%Y%m%d}{int(rng.integers(0, 1000)):03d}"
    total = sum(int(char) * weight for char, weight in zip(body, _ID_WEIGHTS))
    return body + "10X98765432"[total % 11]
