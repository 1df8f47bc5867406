"""What the marts' tests share: rows of a query as dicts; for the personal-data tests, the words of column names that
would carry a person or a point, the patterns of a mobile and a resident ID number, every string of a row (lists
flattened), and what staging holds that must never reach a mart (complainants' and plates' hashes, citizens' words,
enforcement texts)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import duckdb

PERSONAL = {"lat", "lon", "latitude", "longitude", "point", "address", "description", "text", "phone", "complainant",
            "citizen", "person", "worker", "plate", "vin", "hash", "id_number", "idcard"}
PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
# a resident ID number: area, birth date (19xx or 20xx), sequence, check - a uscc never has a date there
ID_NUMBER = re.compile(r"(?<![0-9A-Z])\d{6}(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dX]"
                       r"(?![0-9A-Z])")
_SECRETS = {
    "complainant_phone_hash": "select complainant_phone_hash from staging.stg_hotline__requests",
    "plate_hash": "select plate_hash from staging.stg_citymgmt__parking_violations",
    "description": "select description from staging.stg_hotline__requests",
    "address": "select address from staging.stg_hotline__requests",
    "result_text": "select result_text from staging.stg_enforcement__cases",
}


def rows(built: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    cursor = built.execute(sql)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, values)) for values in cursor.fetchall()]


def personal_columns(columns: Iterable[str], *, also: Iterable[str] = ()) -> list[str]:
    """The column names that would carry a person or a point (or one of the words ``also``)."""
    words = PERSONAL | set(also)
    return [c for c in columns if words & set(c.split("_")) or any(w in c for w in words if "_" in w)]


def strings(values: Iterable[Any]) -> set[str]:
    """Every string among the values, those inside lists too."""
    out: set[str] = set()
    for value in values:
        if isinstance(value, str):
            out.add(value)
        elif isinstance(value, list):
            out |= strings(value)
    return out


def staging_secrets(built: duckdb.DuckDBPyConnection, *names: str) -> set[str]:
    """The values of staging's personal or free-text columns (``names`` of ``_SECRETS``)."""
    union = " union ".join(f"{_SECRETS[name]} where {name} is not null" for name in names)
    return {value for (value,) in built.execute(union).fetchall()}
