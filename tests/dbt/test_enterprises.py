"""Enterprises across the platforms (models/intermediate/enterprises, models/marts/enterprises): one profile per
valid uscc, every code of the raw zone profiled or rejected with its reason, and the generator's black-listed
enterprises high risk by their black list.

The expectations are computed here from the raw zone in Python, independently of the SQL: per source the rows
staging keeps (the latest version of each key, a restaurant not soft-deleted, the newest revision of each
statistics month), codes normalised and checked with gridlake.uscc."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable
from datetime import date, datetime
from typing import Any

import duckdb
import pytest

from gridlake.lake import Lake
from gridlake.reference import resolve_street
from gridlake.uscc import ALPHABET, is_valid, normalise
from simulators.scenario import TZ

SOURCES = ("credit_subjects", "credit_records", "statistics", "enforcement_parties", "restaurants")


def _raw(lake: Lake, platform: str, entity: str) -> list[dict[str, Any]]:
    table = lake.read("raw", platform, entity)
    assert table is not None, f"nothing landed in raw/{platform}/{entity}"
    return table.to_pylist()


def _latest(rows: Iterable[dict[str, Any]], key: Callable[[dict[str, Any]], Hashable]) -> list[dict[str, Any]]:
    """Per key, the version with the newest updated time, then the newest landing."""
    latest: dict[Hashable, dict[str, Any]] = {}
    for row in rows:
        known = latest.get(key(row))
        order = (row["updated_at"], row["_ingested_at"], row["_batch_id"])
        if known is None or order > (known["updated_at"], known["_ingested_at"], known["_batch_id"]):
            latest[key(row)] = row
    return list(latest.values())


def _reason(code: str | None) -> str | None:
    """Why a normalised code cannot identify an enterprise (None: it can), as int_enterprise_uscc_rejected says."""
    if code is None:
        return "missing"
    if len(code) == 15 and code.isdigit():
        return "registration_number"
    if len(code) != 18:
        return "wrong_length"
    if any(char not in ALPHABET for char in code):
        return "bad_character"
    return None if is_valid(code) else "bad_check"


def _clean_name(name: str | None) -> str | None:
    """Brackets and spaces as enterprise_clean_name normalises them, written again in Python."""
    if name is None:
        return None
    text = re.sub(r"\s+", " ", name.replace("（", "(").replace("）", ")").replace("\u3000", " "))
    text = re.sub(r" ?([^\x00-\x7f]) ?", r"\1", text).replace("( ", "(").replace(" )", ")").strip()
    return text or None


class Served:
    """The rows staging keeps of each source that names an enterprise, as (source, key, code, name, updated)."""

    def __init__(self, lake: Lake) -> None:
        subjects = _latest(_raw(lake, "credit", "subjects"), lambda row: normalise(row["uscc"]))
        records = _latest(_raw(lake, "credit", "records"), lambda row: row["record_id"])
        cases = _latest(_raw(lake, "enforcement", "cases"), lambda row: row["case_id"])
        restaurants = [row for row in _latest(_raw(lake, "citymgmt", "fume__restaurant"),
                                              lambda row: row["restaurant_id"]) if row["deleted_at"] is None]
        statistics = _raw(lake, "statistics", "key_enterprises")
        newest: dict[str, tuple] = {}
        for row in statistics:
            landing = (row["revision"], row["published_at"], row["_ingested_at"], row["_batch_id"])
            newest[row["period"]] = max(newest.get(row["period"], landing), landing)
        statistics = [row for row in statistics if row["_batch_id"] == newest[row["period"]][3]]
        parties = [row for row in cases
                   if (row["party"] or {}).get("type") == "enterprise" or (row["party"] or {}).get("uscc")]
        self.subjects, self.records, self.cases, self.statistics = subjects, records, cases, statistics
        self.rows: list[tuple[str, str, str | None, str | None]] = (
            [("credit_subjects", normalise(row["uscc"]), normalise(row["uscc"]), row["name"]) for row in subjects]
            + [("credit_records", row["record_id"], normalise(row["uscc"]), None) for row in records]
            + [("statistics", f"{row['release']}#{row['source_row']}", normalise(row["uscc"]),
                row["enterprise_name"]) for row in statistics]
            + [("enforcement_parties", row["case_id"], normalise(row["party"]["uscc"]), row["party"]["name"])
               for row in parties]
            + [("restaurants", row["restaurant_id"], normalise(row["uscc"]), row["name"]) for row in restaurants]
        )
        # The reference time: the newest updated time of what is staged (statistics: the release's publication).
        self.reference_at: datetime = max(
            row["updated_at"] for rows in (subjects, records, cases, restaurants) for row in rows
        )
        self.reference_at = max(self.reference_at, *(row["published_at"] for row in statistics))
        self.reference_date: date = self.reference_at.astimezone(TZ).date()

    def in_force(self, kind: str) -> dict[str, set[str]]:
        """Per uscc, the ids of its credit records of a kind in force on the reference date."""
        found: dict[str, set[str]] = defaultdict(set)
        for row in self.records:
            if (row["kind"] == kind and not row["revoked"] and row["decided_on"] <= self.reference_date
                    and (row["valid_until"] is None or row["valid_until"] >= self.reference_date)):
                found[normalise(row["uscc"])].add(row["record_id"])
        return dict(found)


@pytest.fixture(scope="module")
def served(lake: Lake) -> Served:
    return Served(lake)


@pytest.fixture(scope="module")
def profile(built: duckdb.DuckDBPyConnection) -> dict[str, dict[str, Any]]:
    cursor = built.execute("select * from marts.enterprise_profile")
    names = [column[0] for column in cursor.description]
    rows = [dict(zip(names, row)) for row in cursor.fetchall()]
    by_uscc = {row["uscc"]: row for row in rows}
    assert len(by_uscc) == len(rows) > 0
    return by_uscc


def test_every_code_of_the_raw_zone_is_profiled_or_rejected_with_its_reason(built, served: Served,
                                                                            profile) -> None:
    valid = {code for _, _, code, _ in served.rows if _reason(code) is None}
    rejected = {(source, key): (code, _reason(code)) for source, key, code, _ in served.rows if _reason(code)}
    assert set(profile) == valid
    listed = {(source, key): (code, reason) for source, key, code, reason in built.execute(
        "select mention_source, source_key, uscc_as_served, uscc_rejection_reason "
        "from intermediate.int_enterprise_uscc_rejected").fetchall()}
    assert listed == rejected
    assert rejected, "the district sends dirty codes (restaurants): the rejection was exercised"

    # Counts reconcile: each source's rows are profiled or rejected, and the sources each profile names agree.
    resolved = built.execute("select count(*) from intermediate.int_enterprises_resolved").fetchone()[0]
    assert resolved == len(profile) == len(valid)
    for source in SOURCES:
        codes = {code for name, _, code, _ in served.rows if name == source and _reason(code) is None}
        named = {uscc for uscc, row in profile.items() if source in row["mention_sources"].split(",")}
        assert named == codes, source
        rows = sum(1 for name, *_ in served.rows if name == source)
        kept = built.execute("select count(*) from intermediate.int_enterprise_mentions_unified "
                             "where mention_source = ? and uscc_rejection_reason is null", [source]).fetchone()[0]
        assert kept + sum(1 for name, _ in rejected if name == source) == rows, source


def test_names_prefer_the_credit_file_then_the_statistics_bureau(served: Served, profile) -> None:
    credit = {normalise(row["uscc"]): _clean_name(row["name"]) for row in served.subjects}
    newest_month: dict[str, dict[str, Any]] = {}
    for row in served.statistics:
        code = normalise(row["uscc"])
        if code not in newest_month or row["period"] > newest_month[code]["period"]:
            newest_month[code] = row
    for uscc, row in profile.items():
        if uscc in credit:
            assert (row["enterprise_name"], row["name_source"]) == (credit[uscc], "credit_subjects"), uscc
        elif uscc in newest_month:
            expected = _clean_name(newest_month[uscc]["enterprise_name"])
            assert (row["enterprise_name"], row["name_source"]) == (expected, "statistics"), uscc
    # the street: the credit file's where it resolves, else one that another source of the enterprise serves
    credit_streets = {normalise(row["uscc"]): resolve_street(row["street_code"]) for row in served.subjects}
    served_streets: dict[str, set[str | None]] = defaultdict(set)
    for row in served.statistics:
        served_streets[normalise(row["uscc"])].add(resolve_street(row["street_name"]))
    for uscc, row in profile.items():
        if credit_streets.get(uscc):
            assert (row["street_code"], row["street_source"]) == (credit_streets[uscc], "credit_subjects"), uscc
        elif row["street_source"] == "statistics" and row["street_code"]:
            assert row["street_code"] in served_streets[uscc], uscc
    assert sum(1 for row in profile.values() if row["street_code"]) > len(profile) // 2
    # the credit platform serves full-width brackets: they were made half-width
    assert any("（" in (row["name"] or "") for row in served.subjects)
    assert not any("（" in (row["enterprise_name"] or "") for row in profile.values())


def test_credit_records_in_force_and_the_reference_date(served: Served, profile) -> None:
    assert {row["reference_date"] for row in profile.values()} == {served.reference_date}
    penalties, black_lists = served.in_force("penalty"), served.in_force("black_list")
    for uscc, row in profile.items():
        assert set(row["penalty_record_ids_in_force"]) == penalties.get(uscc, set()), uscc
        assert set(row["black_list_record_ids_in_force"]) == black_lists.get(uscc, set()), uscc
        assert row["black_lists_in_force"] == len(black_lists.get(uscc, ())), uscc
    levels = {normalise(row["uscc"]): row["credit_level"] for row in served.subjects}
    assert {uscc: row["credit_level"] for uscc, row in profile.items() if uscc in levels} == levels
    cases: dict[str, set[str]] = defaultdict(set)
    for row in served.cases:
        code = normalise((row["party"] or {}).get("uscc"))
        if code and row["status"] != "revoked":
            cases[code].add(row["case_id"])
    assert {uscc: set(row["enforcement_case_ids"]) for uscc, row in profile.items() if row["enforcement_case_ids"]} \
        == dict(cases)
    # some penalties are in force and some are not (revoked or expired): the date mattered
    assert penalties and any(row["kind"] == "penalty" and row["record_id"] not in penalties.get(
        normalise(row["uscc"]), set()) for row in served.records)


def test_planted_black_listed_enterprises_are_high_risk_by_their_black_list(district, served: Served,
                                                                             profile) -> None:
    planted = district.dataset.truth()["scenario"]["blacklisted_enterprises"]
    assert planted
    case_ids = {row["case_id"] for row in served.cases}
    for case in planted:
        row = profile[case["uscc"]]
        assert (row["risk_level"], row["risk_rule"]) == ("high", "black_list_in_force"), case["uscc"]
        assert case["black_list_record_id"] in row["black_list_record_ids_in_force"]
        assert row["enterprise_name"] == _clean_name(case["name"])
        assert set(case["enforcement_case_ids"]) & case_ids <= set(row["enforcement_case_ids"])
    # The generator's other black lists are expired or repaired: exactly the planted ones are in force.
    assert {uscc for uscc, row in profile.items() if row["risk_rule"] == "black_list_in_force"} \
        == {case["uscc"] for case in planted}
    # The levels are a ranking, not one bucket: all three occur.
    assert {row["risk_level"] for row in profile.values()} == {"low", "medium", "high"}
