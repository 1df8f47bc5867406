"""The district's code lists: its 17 streets and 169 communities (national statistical division codes).

The lists ship with the package (``reference_data/``, see SOURCES.md there) because they are part of the
contract with every platform: a street written by code, full name or short name must resolve.
"""

from __future__ import annotations

import csv
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

__all__ = [
    "Community",
    "Street",
    "communities",
    "reference_path",
    "resolve_street",
    "streets",
    "to_half_width",
]

_DATA = Path(__file__).resolve().parent / "reference_data"


@dataclass(frozen=True, slots=True)
class Street:
    street_code: str
    street_name: str
    short_name: str


@dataclass(frozen=True, slots=True)
class Community:
    community_code: str
    community_name: str
    street_code: str


def reference_path(name: str) -> Path:
    """The path of one shipped reference file, e.g. ``dongcheng_streets.csv``."""
    path = _DATA / name
    if not path.exists():
        raise FileNotFoundError(f"no reference file {name!r} in {_DATA}")
    return path


def _rows(name: str) -> list[dict[str, str]]:
    with reference_path(name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@lru_cache(maxsize=1)
def streets() -> tuple[Street, ...]:
    """The 17 streets, in code order."""
    return tuple(
        Street(row["street_code"], row["street_name"], row["short_name"])
        for row in _rows("dongcheng_streets.csv")
    )


@lru_cache(maxsize=1)
def communities() -> tuple[Community, ...]:
    """The 169 communities, in code order."""
    return tuple(
        Community(row["community_code"], row["community_name"], row["street_code"])
        for row in _rows("dongcheng_communities.csv")
    )


def to_half_width(text: str) -> str:
    """Full-width letters, digits, spaces and brackets to their ASCII forms (NFKC)."""
    return unicodedata.normalize("NFKC", text)


@lru_cache(maxsize=1)
def _street_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for street in streets():
        for key in (street.street_code, street.street_name, street.short_name):
            index[key] = street.street_code
    return index


def resolve_street(value: str | None) -> str | None:
    """A street's 9-digit code from its code, full name (东华门街道) or short name (东华门); None if unknown."""
    if value is None:
        return None
    key = "".join(to_half_width(value).split())
    return _street_index().get(key)
