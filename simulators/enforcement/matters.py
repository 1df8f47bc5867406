"""The enforcement platform's matter list: 6 categories and 30 matters (specs/reference.md).

The list is the platform's own code list: the generator draws matters from it, the server answers it at
``GET /api/v1/matters``, and the credit simulator names a penalty's matter with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

__all__ = ["CATEGORIES", "MATTERS", "Category", "Matter", "matter", "matters_document"]


@dataclass(frozen=True, slots=True)
class Category:
    category_code: str
    name: str
    name_en: str


@dataclass(frozen=True, slots=True)
class Matter:
    matter_code: str
    name: str
    name_en: str

    @property
    def category_code(self) -> str:
        return self.matter_code[0]


CATEGORIES: tuple[Category, ...] = (
    Category("A", "街面秩序", "street order"),
    Category("B", "市容环境", "city appearance"),
    Category("C", "环境保护", "environment"),
    Category("D", "施工管理", "construction"),
    Category("E", "园林绿化", "greenery"),
    Category("F", "停车秩序", "parking order"),
)

MATTERS: tuple[Matter, ...] = (
    Matter("A01", "无照游商", "unlicensed street vending"),
    Matter("A02", "店外经营", "business outside the shop"),
    Matter("A03", "占道经营", "trading on the road"),
    Matter("A04", "露天烧烤", "open-air barbecue"),
    Matter("A05", "非法小广告", "illegal flyers"),
    Matter("B01", "违规户外广告", "illegal outdoor advertising"),
    Matter("B02", "违规牌匾标识", "illegal signboards"),
    Matter("B03", "乱堆物料", "stacking materials"),
    Matter("B04", "违规晾晒", "drying laundry on the street"),
    Matter("B05", "积存垃圾渣土", "accumulated waste"),
    Matter("C01", "餐饮油烟", "cooking fumes"),
    Matter("C02", "施工扬尘", "construction dust"),
    Matter("C03", "露天焚烧", "open burning"),
    Matter("C04", "噪声扰民", "noise nuisance"),
    Matter("C05", "违规排污", "illegal sewage discharge"),
    Matter("D01", "夜间施工", "construction at night"),
    Matter("D02", "渣土运输遗撒", "spilling muck trucks"),
    Matter("D03", "无证施工", "unlicensed construction"),
    Matter("D04", "施工占道", "construction occupying the road"),
    Matter("D05", "违法建设", "illegal building"),
    Matter("E01", "毁坏绿地", "damaging green space"),
    Matter("E02", "擅自砍伐树木", "felling trees"),
    Matter("E03", "占用绿地", "occupying green space"),
    Matter("E04", "绿地内停车", "parking on green space"),
    Matter("E05", "损坏园林设施", "damaging park facilities"),
    Matter("F01", "人行道违停", "parking on the sidewalk"),
    Matter("F02", "共享单车乱停", "disorderly shared bikes"),
    Matter("F03", "私设地锁", "private parking locks"),
    Matter("F04", "占用消防通道", "blocking fire lanes"),
    Matter("F05", "非法停车场", "illegal parking lot"),
)


@cache
def _by_code() -> dict[str, Matter]:
    return {item.matter_code: item for item in MATTERS}


def matter(code: str) -> Matter:
    """The matter of a clean code ("C01"); an unknown code is an error naming it."""
    try:
        return _by_code()[code]
    except KeyError:
        raise KeyError(f"unknown enforcement matter code {code!r}") from None


def matters_document() -> dict[str, Any]:
    """The answer of ``GET /api/v1/matters``: the categories, each with its matters."""
    return {
        "categories": [
            {
                "category_code": category.category_code,
                "name": category.name,
                "name_en": category.name_en,
                "matters": [
                    {"matter_code": item.matter_code, "name": item.name, "name_en": item.name_en}
                    for item in MATTERS
                    if item.category_code == category.category_code
                ],
            }
            for category in CATEGORIES
        ]
    }
