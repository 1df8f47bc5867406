"""Staging of the enforcement, credit and statistics platforms: the latest version of each record, the newest
revision of each statistics month, and the uscc check (macros/uscc.sql) agreeing with gridlake.uscc."""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Iterable
from decimal import Decimal
from typing import Any

import duckdb
import jinja2
import pyarrow as pa
import pytest

from gridlake.lake import Lake
from gridlake.reference import to_half_width
from gridlake.settings import repo_root
from gridlake.uscc import ALPHABET, is_valid, normalise

MACROS = repo_root() / "dbt_project" / "macros"
PERSONAL = ("id_number", "legal_representative", "phone", "complainant")


def _raw(lake: Lake, platform: str, entity: str) -> list[dict[str, Any]]:
    table = lake.read("raw", platform, entity)
    assert table is not None, f"nothing landed in raw/{platform}/{entity}"
    return table.to_pylist()


def _latest(rows: Iterable[dict[str, Any]], key: Callable[[dict[str, Any]], Hashable]) -> dict[Hashable, dict]:
    """Independently of the SQL: per key, the version with the newest updated time (then the newest landing)."""
    latest: dict[Hashable, dict[str, Any]] = {}
    for row in rows:
        known = latest.get(key(row))
        if known is None or (row["updated_at"], row["_ingested_at"]) > (known["updated_at"], known["_ingested_at"]):
            latest[key(row)] = row
    return latest


def _staged(built: duckdb.DuckDBPyConnection, model: str, key: str, columns: str) -> dict[Any, tuple]:
    rows = built.execute(f"select {key}, {columns} from staging.{model}").fetchall()
    staged = {row[0]: row[1:] for row in rows}
    assert len(staged) == len(rows), f"{model}: {key} is not unique"
    return staged


def _half_width_brackets(name: str | None) -> str | None:
    return None if name is None else name.replace("（", "(").replace("）", ")").strip()


def test_enforcement_cases_are_the_latest_version_of_each_case_without_personal_data(built, lake: Lake) -> None:
    raw = _raw(lake, "enforcement", "cases")
    latest = _latest(raw, lambda row: row["case_id"])
    staged = _staged(built, "stg_enforcement__cases", "case_id",
                     "updated_at, status, matter_code, party_type, party_uscc, party_uscc_is_valid, "
                     "party_enterprise_name, penalty_cny, closed_at")
    assert len(raw) > len(staged) == len(latest) > 20  # cases were revised between the loads, each once here
    for case_id, row in latest.items():
        party = row["party"] or {}
        uscc = normalise(party.get("uscc"))
        assert staged[case_id] == (
            row["updated_at"], row["status"], normalise(row["matter_code"]), party.get("type"), uscc,
            is_valid(uscc), party.get("name") if party.get("type") == "enterprise" else None,
            row["penalty_cny"], row["closed_at"],
        ), case_id
    kinds = {party_type for _, _, _, party_type, *_ in staged.values()}
    assert {"enterprise", "individual"} <= kinds  # both kinds are there, so the name rule was exercised
    columns = [name for (name,) in built.execute(
        "select column_name from information_schema.columns where table_schema = 'staging' "
        "and table_name in ('stg_enforcement__cases', 'stg_credit__subjects', 'stg_credit__records', "
        "'stg_statistics__key_enterprises')").fetchall()]
    assert columns and not [name for name in columns if any(word in name for word in PERSONAL)]


def test_enforcement_matters_are_the_newest_snapshot_that_has_rows(built, lake: Lake) -> None:
    raw = _raw(lake, "enforcement", "matters")
    newest = max({(row["_ingested_at"], row["_batch_id"]) for row in raw})[1]
    expected = {(row["matter_code"], row["matter_name"], row["category_code"])
                for row in raw if row["_batch_id"] == newest}
    staged = built.execute(
        "select matter_code, matter_name, category_code from staging.stg_enforcement__matters").fetchall()
    assert len(staged) == len(expected) == 30
    assert set(staged) == expected


def test_credit_subjects_are_the_latest_version_of_each_code(built, lake: Lake) -> None:
    latest = _latest(_raw(lake, "credit", "subjects"), lambda row: normalise(row["uscc"]))
    staged = _staged(built, "stg_credit__subjects", "uscc",
                     "uscc_is_valid, updated_at, status, credit_level, subject_name, street_code_as_served")
    assert len(staged) == len(latest) > 100
    for uscc, row in latest.items():
        assert staged[uscc] == (is_valid(uscc), row["updated_at"], row["status"], row["credit_level"],
                                _half_width_brackets(row["name"]), normalise(row["street_code"])), uscc
    # the platform writes some names with full-width brackets: staging makes them half-width
    assert any("（" in (row["name"] or "") for row in latest.values())
    assert not any("（" in (name or "") or "）" in (name or "") for *_, name, _ in staged.values())


def test_credit_records_are_the_latest_version_with_revoked_and_valid_until(built, lake: Lake) -> None:
    latest = _latest(_raw(lake, "credit", "records"), lambda row: row["record_id"])
    staged = _staged(built, "stg_credit__records", "record_id",
                     "uscc, uscc_is_valid, kind, decided_on, valid_until, revoked, updated_at")
    assert len(staged) == len(latest) > 100
    for record_id, row in latest.items():
        uscc = normalise(row["uscc"])
        assert staged[record_id] == (uscc, is_valid(uscc), row["kind"], row["decided_on"], row["valid_until"],
                                     bool(row["revoked"]), row["updated_at"]), record_id
    # what "in force" needs is there: revoked records, and records that end and that do not
    assert any(revoked for *_, revoked, _ in staged.values())
    assert {valid_until is None for *_, valid_until, _, _ in staged.values()} == {True, False}


_FIGURES = ("revenue_wan", "profit_wan", "tax_wan", "employees", "energy_tce")


def test_statistics_keeps_the_newest_revision_of_each_month(built, lake: Lake) -> None:
    raw = _raw(lake, "statistics", "key_enterprises")
    newest: dict[str, tuple] = {}
    for row in raw:  # per month, the newest landing of its newest revision
        landing = (row["revision"], row["published_at"], row["_ingested_at"], row["_batch_id"])
        newest[row["period"]] = max(newest.get(row["period"], landing), landing)
    expected = {(row["uscc"], row["period"]): (row["release"], *(row[name] for name in _FIGURES))
                for row in raw if row["_batch_id"] == newest[row["period"]][3]}
    staged = {(uscc, period): tuple(rest) for uscc, period, *rest in built.execute(
        "select uscc, period, release, revenue_wan_cny, profit_wan_cny, tax_wan_cny, employees, energy_tce "
        "from staging.stg_statistics__key_enterprises").fetchall()}
    assert staged == {key: tuple(value) for key, value in expected.items()}
    # the lake holds revisions whose figures differ from the month's older release: the choice mattered
    older = {(row["uscc"], row["period"]): tuple(row[name] for name in _FIGURES)
             for row in raw if row["_batch_id"] != newest[row["period"]][3]}
    assert any(older[key] != tuple(expected[key][1:]) for key in older.keys() & expected.keys())
    assert any(isinstance(value, Decimal) for value in next(iter(staged.values())))  # exact figures


def test_statistics_streets_are_kept_as_written_normalised(built, lake: Lake) -> None:
    raw = _raw(lake, "statistics", "key_enterprises")
    written = {"".join(to_half_width(row["street_name"]).split()).upper() for row in raw if row["street_name"]}
    staged = {street for (street,) in built.execute(
        "select distinct street_code_as_served from staging.stg_statistics__key_enterprises").fetchall()}
    assert staged and staged <= written
    assert any(not street.endswith("街道") for street in staged)  # short names too: resolved in intermediate


def _macro_sql(call: str) -> str:
    """A macro call rendered as dbt renders it on DuckDB: both macros are Jinja over SQL text, ``uscc_is_valid``
    dispatched by adapter (``adapter.dispatch`` picks its ``default__`` implementation, ``return`` gives a value)."""
    source = (MACROS / "normalise.sql").read_text() + (MACROS / "uscc.sql").read_text()
    environment = jinja2.Environment()
    macros: dict[str, object] = {}

    class _DuckDBAdapter:
        @staticmethod
        def dispatch(name: str, package: str) -> object:
            return macros[f"default__{name}"]

    environment.globals.update({"adapter": _DuckDBAdapter(), "return": lambda value: value})
    module = environment.from_string(source).make_module()
    macros.update({name: getattr(module, name) for name in dir(module) if name.startswith("default__")})
    return environment.from_string(source + "{{ " + call + " }}").render()


def _quarantined_codes(lake: Lake) -> list[str]:
    codes = []
    for platform, entity in (("enforcement", "cases"), ("credit", "subjects"), ("credit", "records")):
        table = lake.read("quarantine", platform, entity)
        for row in table.to_pylist() if table is not None else []:
            record = json.loads(row["raw"])
            code = (record.get("party") or {}).get("uscc") if entity == "cases" else record.get("uscc")
            if isinstance(code, str):
                codes.append(code)
    return codes


@pytest.fixture(scope="module")
def raw_codes(lake: Lake) -> list[str]:
    """Every uscc in the raw zone of the three platforms."""
    codes = {(row["party"] or {}).get("uscc") for row in _raw(lake, "enforcement", "cases")}
    for platform, entity in (("credit", "subjects"), ("credit", "records"), ("statistics", "key_enterprises")):
        codes |= {row["uscc"] for row in _raw(lake, platform, entity)}
    return sorted(code for code in codes if code)


def test_uscc_macro_agrees_with_gridlake_uscc(raw_codes: list[str], lake: Lake) -> None:
    assert len(raw_codes) > 300
    candidates = set(raw_codes) | set(_quarantined_codes(lake))
    for code in raw_codes:  # every check character for each body: exactly one is right
        candidates |= {code[:17] + char for char in ALPHABET}
        candidates |= {code.lower(), f" {code[:8]}　{code[8:]} ",
                       code.translate({ord(c): ord(c) + 0xFEE0 for c in code})}  # full width
    codes = sorted(candidates)
    normalised_valid = _macro_sql("uscc_is_valid(normalise_code('code'))")
    as_given_valid = _macro_sql("uscc_is_valid('code')")
    with duckdb.connect() as connection:
        connection.register("candidates", pa.table({"code": codes}))
        checked = connection.execute(
            f"select code, {normalised_valid}, {as_given_valid} from candidates").fetchall()
    assert len(checked) == len(codes)
    disagree = [(code, sql_normalised, sql_given) for code, sql_normalised, sql_given in checked
                if (sql_normalised, sql_given) != (is_valid(normalise(code)), is_valid(code))]
    assert not disagree, disagree[:10]
    verdicts = [normalised for _, normalised, _ in checked]
    assert sum(verdicts) > len(raw_codes) and len(verdicts) - sum(verdicts) > 20 * len(raw_codes)


def test_staged_uscc_flags_agree_with_gridlake_uscc_on_every_raw_code(built, raw_codes: list[str]) -> None:
    staged = dict(built.execute(
        "select party_uscc, party_uscc_is_valid from staging.stg_enforcement__cases where party_uscc is not null "
        "union select uscc, uscc_is_valid from staging.stg_credit__subjects "
        "union select uscc, uscc_is_valid from staging.stg_credit__records "
        "union select uscc, uscc_is_valid from staging.stg_statistics__key_enterprises").fetchall())
    python = {normalise(code): is_valid(normalise(code)) for code in raw_codes}
    assert staged.keys() <= python.keys()
    assert {code: python[code] for code in staged} == staged
    assert len(staged) > 0.9 * len(python)  # nearly every raw code is in some latest version
