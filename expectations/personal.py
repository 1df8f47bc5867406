"""Personal data that must never be published: mobile numbers, resident id numbers and people's names.

The same three rules run as SQL on the candidates (DuckDB's RE2 regular expressions) and in Python on the few
sample rows a report shows, which are masked before they are written anywhere.

- A mobile number: ``1`` then ``3``-``9`` then nine digits, not inside a longer run of digits (ids of orders,
  codes and amounts are longer digit runs and are not numbers of people).
- A resident id number (GB 11643): six digits of region, a birth date (18xx-20xx, month 01-12, day 01-31), three
  digits and a check digit or ``X``, not inside a longer run of digits or letters (an enterprise's 18-character
  credit code has letters and no birth date in that place).
- A name: a value (or a list element) that is, trimmed, exactly two or three Chinese characters beginning with a
  common surname (or four-character compound surnames' three-character names, 欧阳X), and is not a word of the
  district's own vocabulary (street, community, domain, service group, enforcement matter and hotline service
  names, ``vocabulary()``). A name inside longer text (``张伟反映...``) is not caught: the shared datasets carry no
  free text (the citizens' words stay in the intermediate layer), so a leaked name shows up as a whole value.
  Ordinary words that merely start with a surname character (油烟, 停车, 市政设施) are not names: they are either
  longer than three characters, start with a character that is not a common surname, or are vocabulary.
"""

from __future__ import annotations

import csv
import re
from functools import lru_cache
from typing import Any

from gridlake.reference import communities, streets
from gridlake.settings import repo_root

__all__ = [
    "COMPOUND_SURNAMES",
    "ID_NUMBER_PATTERN",
    "NAME_PATTERN",
    "PHONE_PATTERN",
    "SURNAMES",
    "is_person_name",
    "mask",
    "vocabulary",
]

# The most common surnames of the mainland (census order, roughly the first hundred, and the variants written
# for some of them), one character each.
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗郑梁谢宋唐许韩冯邓曹彭曾肖萧田董潘袁蔡蒋余于杜叶程魏苏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫阎段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔"
    "向汤康常温施"
)
COMPOUND_SURNAMES = ("欧阳", "上官", "司马", "诸葛", "皇甫", "令狐", "慕容", "尉迟", "夏侯", "公孙", "宇文", "司徒")

_HAN = "[一-鿿]"
# RE2 (DuckDB) and Python's re read these alike: no look-around, explicit boundaries instead.
PHONE_PATTERN = r"(^|[^0-9])1[3-9][0-9]{9}([^0-9]|$)"
ID_NUMBER_PATTERN = (
    r"(^|[^0-9A-Za-z])[1-9][0-9]{5}(18|19|20)[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx]"
    r"([^0-9A-Za-z]|$)"
)
NAME_PATTERN = f"^([{SURNAMES}]{_HAN}{{1,2}}|({'|'.join(COMPOUND_SURNAMES)}){_HAN})$"

_PHONE = re.compile(r"(?<![0-9])(1[3-9][0-9])([0-9]{4})([0-9]{4})(?![0-9])")
_ID_NUMBER = re.compile(
    r"(?<![0-9A-Za-z])([1-9][0-9]{5})((?:18|19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01]))"
    r"([0-9]{3}[0-9Xx])(?![0-9A-Za-z])"
)
_NAME = re.compile(NAME_PATTERN)


def _seed(name: str) -> list[dict[str, str]]:
    with (repo_root() / "dbt_project" / "seeds" / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@lru_cache(maxsize=1)
def vocabulary() -> frozenset[str]:
    """The district's own words of name shape: they are places and matters, not people."""
    words: set[str] = set()
    for street in streets():
        words.update((street.street_name, street.short_name))
    for community in communities():
        name = community.community_name
        words.add(name)
        for suffix in ("社区居委会", "居委会", "社区"):
            name = name.removesuffix(suffix)
        words.add(name)
    for row in _seed("domains.csv"):
        words.add(row["domain_name"])
    for row in _seed("service_groups.csv"):
        words.add(row["service_group_name"])
    for row in _seed("enforcement_matters.csv"):
        words.update((row["category_name"], row["matter_name"]))
    from gridlake.reference import reference_path

    with reference_path("hotline_taxonomy_cn.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.reader(handle):
            words.update(row)
    return frozenset(word for word in words if _NAME.match(word))


def is_person_name(value: str) -> bool:
    """Whether a whole value reads as a person's name by the rule above."""
    text = value.strip()
    return bool(_NAME.match(text)) and text not in vocabulary()


def _mask_text(text: str) -> str:
    if is_person_name(text):
        stripped = text.strip()
        surname = next((s for s in COMPOUND_SURNAMES if stripped.startswith(s)), stripped[0])
        return surname + "*" * (len(stripped) - len(surname))
    text = _ID_NUMBER.sub(lambda m: m.group(1) + "*" * 8 + "*" * 3 + m.group(3)[-1], text)
    return _PHONE.sub(lambda m: m.group(1) + "****" + m.group(3), text)


def mask(value: Any) -> Any:
    """A sample value with its personal data masked: 138****5678, 110101***********3, 张**; lists element-wise."""
    if isinstance(value, str):
        return _mask_text(value)
    if isinstance(value, (list, tuple)):
        return [mask(item) for item in value]
    if isinstance(value, dict):
        return {key: mask(item) for key, item in value.items()}
    return value
