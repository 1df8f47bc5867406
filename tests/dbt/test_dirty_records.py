"""Every dirty record the generator plants ends somewhere on purpose: quarantined by its connector with the
reason, repaired (and flagged) by a model, or excluded by a model with its reason. Never lost silently.

``FATES`` names, for every dirty kind of every platform in the truth (truth.json, ``dirty``), where it must end:
``quarantined:<reason>`` (the quarantine zone), ``repaired:<model>.<column>`` (the record is in the model, with the
repair or the flag), ``excluded:<model>:<reason>`` (kept out of the model, the reason recorded beside it),
``flagged:<model>.<column>`` (what is dirty is an absence, which no model can repair: an offline gap, said by a flag
on the reading after it). Each kind
is then checked id by id against what the lake holds (the fixture ingests at the clock's start and a day later;
the tests read the lake, never the clock). A truth id the raw and quarantine zones never saw is counted
``not_yet_visible``: only citymgmt plants records that become visible later, and none of its ids visible at the
clock's start (``ids_at_end_by_table``) may be among them.
"""

from __future__ import annotations

import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import duckdb
import pytest

from gridlake.lake import Lake

FATES: dict[str, dict[str, str]] = {
    "hotline": {
        "lat_long_swapped": "quarantined:lat_long_swapped",
        "lat_long_zero": "quarantined:lat_long_zero",
        "outside_beijing": "quarantined:outside_beijing",
        "time_unparseable": "quarantined:time_unparseable",
        "unknown_service_code": "quarantined:unknown_service_code",
        "description_control_chars": "quarantined:description_control_chars",
        "description_too_long": "quarantined:description_too_long",
        "street_code_missing": "repaired:int_hotline_requests_enriched.street_resolved_by",
        "street_code_not_dongcheng": "repaired:int_hotline_requests_enriched.street_resolved_by",
        "duplicate_on_page": "repaired:stg_hotline__requests.request_id",
        "updated_goes_backwards": "repaired:stg_hotline__requests.updated_at",
        "time_without_offset": "repaired:stg_hotline__requests.received_at",
        "fullwidth_codes": "repaired:stg_hotline__requests.service_code",
    },
    "citymgmt": {
        "device_clock_ahead": "quarantined:time_in_future",
        "gps_zero": "quarantined:gps_zero",
        "gps_outside_beijing": "quarantined:outside_beijing",
        "impossible_value": "quarantined:negative_value|sentinel_value|speed_impossible",
        "correction": "repaired:stg_citymgmt__<readings>.updated_at",
        "soft_delete": "excluded:stg_citymgmt__<readings>:deleted_at",
        "street_code_missing": "repaired:int_events_unified|int_sensor_places_resolved.street_located_by",
        "uscc_dirty": "repaired:stg_citymgmt__restaurants.uscc",
        "case_step_out_of_order": "repaired:stg_citymgmt__grid_case_steps.case_steps_out_of_order",
        "case_step_missing": "repaired:stg_citymgmt__grid_case_steps.case_step_missing",
        "case_closed_twice": "repaired:stg_citymgmt__grid_case_steps.case_closed_twice",
        "stuck_sensor": "repaired:stg_citymgmt__<readings>.is_stuck",
        "offline_gap": "flagged:stg_citymgmt__<readings>.is_after_gap",
    },
    "enforcement": {
        "closed_before_filed": "quarantined:closed_before_filed",
        "penalty_negative": "quarantined:penalty_negative",
        "penalty_in_wan_cny": "quarantined:penalty_in_wan_cny",
        "uscc_bad_check": "quarantined:uscc_bad_check",
        "enterprise_without_uscc": "quarantined:enterprise_without_uscc",
        "matter_code_as_name": "quarantined:unknown_matter_code",
        "uscc_lower_case": "repaired:stg_enforcement__cases.party_uscc_is_valid",
        "uscc_spaces": "repaired:stg_enforcement__cases.party_uscc_is_valid",
        "uscc_full_width": "repaired:stg_enforcement__cases.party_uscc_is_valid",
        "matter_code_lower_case": "repaired:stg_enforcement__cases.matter_code",
        "revised_same_day": "repaired:stg_enforcement__cases.updated_at",
    },
    "credit": {
        "uscc_bad_check": "quarantined:uscc_bad_check",
        "registration_number": "quarantined:registration_number",
        "valid_until_before_decided": "quarantined:valid_until_before_decided",
        "re_registration": "repaired:int_enterprises_resolved.successor_uscc",
        "name_full_width_brackets": "repaired:stg_credit__subjects.subject_name",
        "record_of_unlisted_subject": "repaired:int_enterprises_resolved.in_credit_subjects",
    },
    "statistics": {
        "thousands_separator": "repaired:stg_statistics__key_enterprises.<figure>",
        "not_reported": "repaired:stg_statistics__key_enterprises.<figure>",
        "blank_zero": "repaired:stg_statistics__key_enterprises.<figure>",
        "street_short_name": "repaired:raw.street_code",
        "defunct_street": "repaired:int_enterprises_resolved.street_source",
        "csv_utf8_bom": "repaired:raw.key_enterprises",
        "bad_checksum": "excluded:release:checksum_mismatch",
    },
}

# Kinds with no fate today (marked xfail, strict): known to the truth, flagged nowhere. None left.
GAPS: dict[tuple[str, str], str] = {}

# citymgmt tables whose records the kinds name: raw key, staging model, staging key, the record's own time.
_READINGS = {
    "dust.reading": ("reading_id", "stg_citymgmt__dust_readings", "dust_reading_id", "measured_at"),
    "fume.reading": ("reading_id", "stg_citymgmt__fume_readings", "fume_reading_id", "measured_at"),
    "garbage.collection": ("collection_id", "stg_citymgmt__garbage_collections", "collection_id", "collected_at"),
    "traffic.occupancy": ("occupancy_id", "stg_citymgmt__parking_occupancy", "occupancy_id", "recorded_at"),
    "traffic.violation": ("violation_id", "stg_citymgmt__parking_violations", "violation_id", "observed_at"),
}
_IMPOSSIBLE = {"dust.reading": "negative_value", "fume.reading": "sentinel_value",
               "vehicle.position": "speed_impossible", "diesel.obd": "speed_impossible"}
_FIGURES = {"营业收入(万元)": "revenue_wan", "利润总额(万元)": "profit_wan", "应交税费(万元)": "tax_wan",
            "从业人员(人)": "employees", "综合能耗(吨标准煤)": "energy_tce"}
_STG_FIGURES = {"revenue_wan": "revenue_wan_cny", "profit_wan": "profit_wan_cny", "tax_wan": "tax_wan_cny",
                "employees": "employees", "energy_tce": "energy_tce"}


class Fates:
    """What the lake and the warehouse hold about the truth's ids: one Counter of outcomes per kind, and the ids
    that went nowhere expected (``problems``)."""

    def __init__(self, lake: Lake, built: duckdb.DuckDBPyConnection) -> None:
        self.lake = lake
        self.db = built
        self.counts: Counter[str] = Counter()
        self.problems: list[str] = []

    def rows(self, sql: str, *params: Any) -> list[tuple]:
        return self.db.execute(sql, list(params)).fetchall()

    def quarantine(self, platform: str, entity: str) -> dict[str, set[str]]:
        table = self.lake.read("quarantine", platform, entity)
        reasons: dict[str, set[str]] = defaultdict(set)
        for row in [] if table is None else table.select(["record_id", "reason"]).to_pylist():
            reasons[row["record_id"]].add(row["reason"])
        return reasons

    def raw(self, platform: str, entity: str, key: str) -> dict[str, list[dict[str, Any]]]:
        table = self.lake.read("raw", platform, entity)
        versions: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in [] if table is None else table.to_pylist():
            versions[str(row[key])].append(row)
        return versions

    def outcome(self, record: Any, label: str | None, problem: str = "") -> None:
        """``label``: the fate found; None: not the expected one (``problem`` says what was found)."""
        if label is None:
            self.problems.append(f"{record}: {problem}")
            self.counts["unexpected"] += 1
        else:
            self.counts[label] += 1

    def quarantined(self, platform: str, entity: str, key: str, ids: list[Any], reasons: set[str], *,
                    may_be_unseen: set[str] | None = None) -> None:
        """Each id in quarantine with one of ``reasons`` and never landed; unseen ones allowed in ``may_be_unseen``."""
        held = self.quarantine(platform, entity)
        landed = self.raw(platform, entity, key)
        for record in map(str, ids):
            if record in landed:
                self.outcome(record, None, f"landed in raw/{platform}/{entity}, not quarantined")
            elif held.get(record, set()) & reasons:
                self.outcome(record, "quarantined:" + "|".join(sorted(held[record] & reasons)))
            elif record in held:
                self.outcome(record, None, f"quarantined as {sorted(held[record])}, expected {sorted(reasons)}")
            else:
                self.unseen(record, may_be_unseen)

    def unseen(self, record: str, may_be_unseen: set[str] | None) -> None:
        if may_be_unseen is not None and record in may_be_unseen:
            self.outcome(record, "not_yet_visible")
        else:
            self.outcome(record, None, "neither in raw nor in quarantine: lost before the lake")


def _citymgmt_unseen_allowed(entry: dict[str, Any], table: str) -> set[str]:
    """citymgmt ids of ``table`` the lake may not have seen yet: those not visible at the clock's start."""
    return {str(i) for i in entry["ids_by_table"].get(table, [])} - {
        str(i) for i in entry.get("ids_at_end_by_table", {}).get(table, [])}


def _normalised(value: str) -> str:
    return unicodedata.normalize("NFKC", value).replace(" ", "")


# --- hotline -------------------------------------------------------------------------------------------------------

def _hotline(fates: Fates, kind: str, entry: dict[str, Any]) -> None:
    fate = FATES["hotline"][kind]
    ids = [str(i) for i in entry["ids"]]
    if fate.startswith("quarantined:"):
        fates.quarantined("hotline", "requests", "service_request_id", ids, {fate.split(":", 1)[1]})
        return
    raw = fates.raw("hotline", "requests", "service_request_id")
    for record in ids:
        if record not in raw:
            fates.unseen(record, None)
            continue
        staged = fates.rows("select updated_at, received_at, service_code, street_code_as_served, "
                            "community_code_as_served from staging.stg_hotline__requests where request_id = ?",
                            record)
        if len(staged) != 1:
            fates.outcome(record, None, f"{len(staged)} rows in stg_hotline__requests")
            continue
        updated_at, received_at, service_code, street_code, community_code = staged[0]
        versions = raw[record]
        if kind in ("street_code_missing", "street_code_not_dongcheng"):
            found = fates.rows("select street_code, street_resolved_by from intermediate.int_hotline_requests_enriched"
                               " where request_id = ?", record)
            street, resolved_by = found[0]
            if resolved_by == "unresolved" and street is None:
                fates.outcome(record, "excluded:int_hotline_requests_enriched:street_resolved_by=unresolved")
            elif resolved_by != "code" and street is not None and street.startswith("110101"):
                fates.outcome(record, f"repaired:street_resolved_by={resolved_by}")
            else:
                fates.outcome(record, None, f"street {street} resolved by {resolved_by} (served {street_code})")
        elif kind == "duplicate_on_page":
            keys = Counter(version["updated_datetime"] for version in versions)
            if max(keys.values()) == 1:
                fates.outcome(record, "repaired:landed_once")
            else:
                fates.outcome(record, None, f"a version landed {max(keys.values())} times")
        elif kind == "updated_goes_backwards":
            # The platform's current state is the version read last; the backwards one must not outrank it.
            current = max(versions, key=lambda v: (v["_ingested_at"], v["updated_datetime"]))
            if updated_at == current["updated_datetime"]:
                fates.outcome(record, f"repaired:latest_version_wins({len(versions)} versions)")
            else:
                fates.outcome(record, None, f"staged {updated_at}, the platform's latest {current['updated_datetime']}")
        elif kind == "time_without_offset":
            if received_at is not None and received_at.utcoffset() is not None:
                fates.outcome(record, "repaired:read_as_+08:00")
            else:
                fates.outcome(record, None, f"received_at {received_at!r}")
        elif kind == "fullwidth_codes":
            current = max(versions, key=lambda v: (v["updated_datetime"], v["_ingested_at"]))
            pairs = [(current["service_code"], service_code), (current["street_code"], street_code),
                     (current["community_code"], community_code)]
            dirty = [(served, staged) for served, staged in pairs
                     if served is not None and served != _normalised(served)]
            if dirty and all(staged == _normalised(served) and staged.isascii() for served, staged in dirty):
                fates.outcome(record, "repaired:code_normalised")
            else:
                fates.outcome(record, None, f"codes served/staged {pairs}")
        else:
            raise AssertionError(f"no check for hotline kind {kind}")


# --- citymgmt ------------------------------------------------------------------------------------------------------

def _latest(versions: list[dict[str, Any]]) -> dict[str, Any]:
    return max(versions, key=lambda v: (v["updated_at"], v["_ingested_at"]))


def _citymgmt(fates: Fates, kind: str, entry: dict[str, Any]) -> None:
    fate = FATES["citymgmt"][kind]
    if kind == "offline_gap":
        _offline_gap(fates, entry)
        return
    if kind == "stuck_sensor":
        _stuck_sensor(fates, entry)
        return
    for table, ids in entry["ids_by_table"].items():
        entity = table.replace(".", "__")
        allowed = _citymgmt_unseen_allowed(entry, table)
        if fate.startswith("quarantined:"):
            reason = _IMPOSSIBLE[table] if kind == "impossible_value" else fate.split(":", 1)[1]
            from connectors.citymgmt.schema import TABLES

            fates.quarantined("citymgmt", entity, TABLES[table].pk, ids, {reason}, may_be_unseen=allowed)
        elif kind in ("correction", "soft_delete"):
            _versions(fates, kind, table, ids, allowed)
        elif kind == "street_code_missing":
            _street_missing(fates, table, ids, allowed)
        elif kind == "uscc_dirty":
            _restaurant_uscc(fates, ids, allowed)
        elif kind.startswith("case_"):
            flag = fate.rsplit(".", 1)[1]
            steps = fates.raw("citymgmt", "grid__case_step", "case_id")
            for case_id in map(str, ids):
                if case_id not in steps:
                    fates.unseen(case_id, allowed)
                    continue
                flagged = fates.rows(f"select bool_and({flag}) from staging.stg_citymgmt__grid_case_steps "
                                     "where case_id = ?", case_id)[0][0]
                counted = fates.rows("select is_counted_in_durations from marts.grid_case_lifecycle "
                                     "where case_id = ?", case_id)
                if flagged and counted and counted[0][0] is False:
                    fates.outcome(case_id, f"repaired:{flag}+excluded:grid_case_lifecycle:is_counted_in_durations")
                elif flagged and counted and kind == "case_closed_twice":
                    # the loop is whole: the case keeps counting (its first close), flagged
                    fates.outcome(case_id, f"repaired:{flag}(counted in durations: {counted[0][0]})")
                else:
                    fates.outcome(case_id, None, f"{flag}={flagged}, counted in durations {counted}")
        else:
            raise AssertionError(f"no check for citymgmt kind {kind}")


def _versions(fates: Fates, kind: str, table: str, ids: list[Any], allowed: set[str]) -> None:
    """Corrections: the latest version wins in staging. Soft deletes: the deleted record left out of staging."""
    raw_key, model, key, at = _READINGS[table]
    versions = fates.raw("citymgmt", table.replace(".", "__"), raw_key)
    for record in map(str, ids):
        mine = versions.get(record, [])
        if kind == "correction":
            dirty = [v for v in mine if v["deleted_at"] is None and v["updated_at"] - v[at] > timedelta(minutes=30)]
        else:
            dirty = [v for v in mine if v["deleted_at"] is not None]
        if not dirty:
            # the record's dirty version is not in the lake yet (an earlier version may be)
            fates.unseen(record, allowed)
            continue
        latest = _latest(mine)
        staged = fates.rows(f"select updated_at from staging.{model} where cast({key} as varchar) = ?", record)
        if latest["deleted_at"] is not None:
            if staged:
                fates.outcome(record, None, f"deleted at {latest['deleted_at']} but still in {model}")
            else:
                fates.outcome(record, f"excluded:{model}:deleted_at")
        elif len(staged) == 1 and staged[0][0] == latest["updated_at"]:
            fates.outcome(record, f"repaired:{model}.updated_at(latest of {len(mine)} landed)")
        else:
            fates.outcome(record, None, f"staged {staged}, latest version {latest['updated_at']}")


def _street_missing(fates: Fates, table: str, ids: list[Any], allowed: set[str]) -> None:
    """A record with no street code gets one from its community or its point, and says so."""
    raw_key = {"fume.restaurant": "restaurant_id", "garbage.station": "station_id", "grid.case": "case_id",
               "traffic.violation": "violation_id"}[table]
    versions = fates.raw("citymgmt", table.replace(".", "__"), raw_key)
    for record in map(str, ids):
        if not any(v["street_code"] is None for v in versions.get(record, [])):
            fates.unseen(record, allowed)
            continue
        latest = _latest(versions[record])
        if latest.get("deleted_at") is not None:
            fates.outcome(record, "excluded:deleted_at")
            continue
        if table in ("fume.restaurant", "garbage.station"):
            found = fates.rows("select street_code, street_located_by from intermediate.int_sensor_places_resolved "
                               "where place_id = ?", record)
            where = "int_sensor_places_resolved"
        else:
            found = fates.rows("select street_code, street_located_by from intermediate.int_events_unified "
                               "where source_entity = ? and source_id = ?", table, record)
            where = "int_events_unified"
        if len(found) == 1 and found[0][1] not in (None, "street_code", "code") and found[0][0] is not None:
            fates.outcome(record, f"repaired:{where}.street_located_by={found[0][1]}")
        elif len(found) == 1 and found[0][0] is None:
            fates.outcome(record, f"excluded:{where}:street_located_by={found[0][1]}")
        else:
            fates.outcome(record, None, f"{where}: {found}")


def _restaurant_uscc(fates: Fates, ids: list[Any], allowed: set[str]) -> None:
    """A dirty restaurant uscc is normalised and valid, or listed in int_enterprise_uscc_rejected with a reason."""
    raw = fates.raw("citymgmt", "fume__restaurant", "restaurant_id")
    for record in map(str, ids):
        if record not in raw:
            fates.unseen(record, allowed)
            continue
        rejected = fates.rows("select uscc_rejection_reason from intermediate.int_enterprise_uscc_rejected "
                              "where mention_source = 'restaurants' and source_key = ?", record)
        staged = fates.rows("select uscc, uscc from staging.stg_citymgmt__restaurants where restaurant_id = ?",
                            record)
        resolved = fates.rows("select count(*) from intermediate.int_enterprises_resolved where uscc = ?",
                              staged[0][0] if staged else None)[0][0]
        if rejected:
            fates.outcome(record, f"excluded:int_enterprise_uscc_rejected:{rejected[0][0]}")
        elif staged and staged[0][0] == _normalised(_latest(raw[record])["uscc"]).upper() and resolved == 1:
            fates.outcome(record, "repaired:uscc_normalised")
        else:
            fates.outcome(record, None, f"staged {staged}, not rejected, resolved {resolved}")


def _span_bounds(span: dict[str, Any]) -> tuple[datetime, datetime]:
    return datetime.fromisoformat(span["from"]), datetime.fromisoformat(span["to"])


def _stuck_sensor(fates: Fates, entry: dict[str, Any]) -> None:
    """Every staged reading of a stuck span carries is_stuck."""
    for span in entry["spans"]:
        model, sensor = {"dust.reading": ("stg_citymgmt__dust_readings", "sensor_id"),
                         "fume.reading": ("stg_citymgmt__fume_readings", "restaurant_id")}[span["table"]]
        start, end = _span_bounds(span)
        readings, stuck = fates.rows(
            f"select count(*), count(*) filter (where is_stuck) from staging.{model} "
            f"where {sensor} = ? and measured_at between ? and ?", span["sensor"], start, end)[0]
        record = f"{span['table']} {span['sensor']} {span['from']}"
        if readings == 0:
            fates.unseen(record, None)
        elif stuck == readings:
            fates.outcome(record, f"repaired:{model}.is_stuck")
        else:
            fates.outcome(record, None, f"{stuck} of {readings} staged readings flagged is_stuck")


def _offline_gap(fates: Fates, entry: dict[str, Any]) -> None:
    """Each planted gap the lake holds: no reading staged inside it, and the first reading after it (at the span's
    `to`) flagged is_after_gap, its gap_before_minutes the span's length. A span whose end the lake has not seen
    yet (no reading of the sensor at or after it) is not yet visible; every span visible at the clock's start
    (``count_at_end``) must be found. And no other reading of these tables is flagged: every is_after_gap is a
    planted gap (their clean readings are 5 and 15 minutes apart, 10 and 30 around a reading set aside)."""
    models = {"dust.reading": ("stg_citymgmt__dust_readings", "dust_reading_id", "sensor_id", "measured_at"),
              "traffic.occupancy": ("stg_citymgmt__parking_occupancy", "occupancy_id", "lot_id", "recorded_at")}
    found: dict[str, set[Any]] = defaultdict(set)
    for span in entry["spans"]:
        model, key, sensor, at = models[span["table"]]
        start, end = _span_bounds(span)
        record = f"{span['table']} {span['sensor']} {span['from']}..{span['to']}"
        after = fates.rows(f"select {key}, is_after_gap, gap_before_minutes from staging.{model} "
                           f"where {sensor} = ? and {at} = ?", span["sensor"], end)
        if not after:
            later = fates.rows(f"select count(*) from staging.{model} where {sensor} = ? and {at} >= ?",
                               span["sensor"], end)[0][0]
            fates.outcome(record, "not_yet_visible" if later == 0 else None,
                          f"{later} readings staged after the gap but none at its end")
            continue
        inside = fates.rows(f"select count(*) from staging.{model} where {sensor} = ? and {at} > ? and {at} < ?",
                            span["sensor"], start, end)[0][0]
        reading, flagged, gap = after[0]
        length = (end - start).total_seconds() / 60
        if inside:
            fates.outcome(record, None, f"{inside} readings staged inside the gap")
        elif flagged is True and gap is not None and abs(gap - length) < 1e-9:
            fates.outcome(record, f"flagged:{model}.is_after_gap")
            found[model].add(reading)
        else:
            fates.outcome(record, None, f"the reading after the gap: is_after_gap {flagged}, "
                          f"gap_before_minutes {gap} (the gap: {length} minutes)")
    visible = sum(len(keys) for keys in found.values())
    if visible < entry["count_at_end"]:
        fates.outcome("offline_gap", None, f"{visible} gaps flagged, {entry['count_at_end']} visible at the start")
    for model, key, _, _ in models.values():
        for (reading,) in fates.rows(f"select {key} from staging.{model} where is_after_gap"):
            if reading not in found[model]:
                fates.outcome(f"{model} {reading}", None, "flagged is_after_gap, but no planted gap ends there")


# --- enforcement ---------------------------------------------------------------------------------------------------

def _enforcement(fates: Fates, kind: str, entry: dict[str, Any]) -> None:
    fate = FATES["enforcement"][kind]
    ids = [str(i) for i in entry["ids"]]
    if fate.startswith("quarantined:"):
        fates.quarantined("enforcement", "cases", "case_id", ids, {fate.split(":", 1)[1]})
        return
    raw = fates.raw("enforcement", "cases", "case_id")
    for record in ids:
        if record not in raw:
            fates.unseen(record, None)
            continue
        staged = fates.rows("select matter_code, party_uscc, party_uscc_is_valid, updated_at "
                            "from staging.stg_enforcement__cases where case_id = ?", record)
        if len(staged) != 1:
            fates.outcome(record, None, f"{len(staged)} rows in stg_enforcement__cases")
            continue
        matter_code, uscc, uscc_valid, updated_at = staged[0]
        if kind.startswith("uscc_"):
            ok = uscc_valid is True and uscc == _normalised(uscc).upper()
            fates.outcome(record, "repaired:party_uscc_normalised" if ok else None, f"uscc {uscc!r} valid {uscc_valid}")
        elif kind == "matter_code_lower_case":
            known = fates.rows("select count(*) from staging.stg_enforcement__matters where matter_code = ?",
                               matter_code)[0][0]
            fates.outcome(record, "repaired:matter_code_normalised" if known == 1 else None,
                          f"matter_code {matter_code!r} not a listed matter")
        elif kind == "revised_same_day":
            latest = max(v["updated_at"] for v in raw[record])
            fates.outcome(record, f"repaired:latest_revision_wins({len(raw[record])} landed)"
                          if updated_at == latest else None, f"staged {updated_at}, latest {latest}")
        else:
            raise AssertionError(f"no check for enforcement kind {kind}")


# --- credit --------------------------------------------------------------------------------------------------------

def _credit(fates: Fates, kind: str, entry: dict[str, Any]) -> None:
    fate = FATES["credit"][kind]
    ids = [str(i) for i in entry["ids"]]
    entity = "records" if kind in ("valid_until_before_decided", "record_of_unlisted_subject") else "subjects"
    key = "record_id" if entity == "records" else "uscc"
    if fate.startswith("quarantined:"):
        fates.quarantined("credit", entity, key, ids, {fate.split(":", 1)[1]})
        return
    raw = fates.raw("credit", entity, key)
    for record in ids:
        if record not in raw:
            fates.unseen(record, None)
            continue
        if kind == "re_registration":
            found = fates.rows("select successor_uscc, predecessor_uscc from intermediate.int_enterprises_resolved "
                               "where uscc = ?", record)
            linked = bool(found) and (found[0][0] is not None or found[0][1] is not None)
            fates.outcome(record, "repaired:successor_or_predecessor_linked" if linked else None,
                          f"int_enterprises_resolved: {found}")
        elif kind == "name_full_width_brackets":
            found = fates.rows("select subject_name, subject_name_as_served from staging.stg_credit__subjects "
                               "where uscc = ?", record)
            ok = (len(found) == 1 and "（" not in found[0][0] and "）" not in found[0][0]
                  and found[0][0] != found[0][1])
            fates.outcome(record, "repaired:subject_name_half_width" if ok else None, f"stg_credit__subjects: {found}")
        elif kind == "record_of_unlisted_subject":
            found = fates.rows(
                "select enterprises.in_credit_subjects, enterprises.in_credit_records "
                "from staging.stg_credit__records as records "
                "left join intermediate.int_enterprises_resolved as enterprises on enterprises.uscc = records.uscc "
                "where records.record_id = ?", record)
            ok = found == [(False, True)]
            fates.outcome(record, "repaired:in_credit_subjects=false" if ok else None, f"found {found}")
        else:
            raise AssertionError(f"no check for credit kind {kind}")


# --- statistics ----------------------------------------------------------------------------------------------------

def _statistics(fates: Fates, kind: str, entry: dict[str, Any]) -> None:
    cursor = fates.lake.cursor("statistics", "key_enterprises") or {}
    rejected = cursor.get("rejected", {})
    landed = cursor.get("releases", {})
    rows = fates.lake.read("raw", "statistics", "key_enterprises")
    raw = [] if rows is None else rows.to_pylist()
    current = {(period, revision) for period, revision in fates.rows(
        "select distinct period, revision from staging.stg_statistics__key_enterprises")}

    def release_fate(release: str) -> str | None:
        if release in rejected:
            return f"excluded:release:{rejected[release]['reason']}"
        if release not in landed:
            return "not_yet_visible"
        return None

    if kind in ("csv_utf8_bom", "bad_checksum"):
        for release in entry["ids"]:
            excluded = release_fate(release)
            expected_reason = "checksum_mismatch" if kind == "bad_checksum" else None
            if excluded and (expected_reason is None or excluded.endswith(expected_reason)):
                fates.outcome(release, excluded if kind == "bad_checksum" else None,
                              f"release {release}: {excluded}")
            elif excluded:
                fates.outcome(release, None, f"release {release}: {excluded}")
            elif kind == "csv_utf8_bom":
                count = sum(1 for row in raw if row["release"] == release)
                fates.outcome(release, "repaired:decoded_and_landed" if count == landed[release]["rows"] else None,
                              f"{count} rows of {landed[release]['rows']}")
            else:
                fates.outcome(release, None, f"release {release} with a bad checksum landed")
        return
    if kind in ("thousands_separator", "not_reported", "blank_zero"):
        cells = [tuple(i) for i in entry["ids"]]
        if kind == "blank_zero":  # (uscc, header): blank in every release of the enterprise
            cells = sorted({(row["release"], uscc, header) for uscc, header in cells for row in raw
                            if row["uscc"] == uscc} | {(r, uscc, header) for uscc, header in cells for r in rejected})
        for release, uscc, header in cells:
            record = f"{release} {uscc} {header}"
            excluded = release_fate(release)
            if excluded:
                fates.outcome(record, excluded)
                continue
            column = _FIGURES[header]
            found = [row for row in raw if row["release"] == release and row["uscc"] == uscc]
            if len(found) != 1:
                fates.outcome(record, None, f"{len(found)} raw rows")
                continue
            value = found[0][column]
            good = {"thousands_separator": value is not None and value > 0, "not_reported": value is None,
                    "blank_zero": value is not None and value == 0}[kind]
            if not good:
                fates.outcome(record, None, f"raw {column} = {value!r}")
                continue
            row = found[0]
            if (row["period"], row["revision"]) not in current:
                fates.outcome(record, "repaired:raw(superseded_by_a_later_revision)")
                continue
            staged = fates.rows(f"select {_STG_FIGURES[column]} from staging.stg_statistics__key_enterprises "
                                "where period = ? and uscc = ?", row["period"], uscc)
            fates.outcome(record, f"repaired:stg_statistics__key_enterprises.{_STG_FIGURES[column]}"
                          if staged == [(value,)] else None, f"staged {staged}, raw {value!r}")
        return
    for uscc in entry["ids"]:
        found = [row for row in raw if row["uscc"] == uscc]
        if not found:
            fates.unseen(uscc, None)
            continue
        if kind == "street_short_name":
            ok = all(row["street_code"] is not None for row in found)
            fates.outcome(uscc, "repaired:raw.street_code(resolved by the connector)" if ok else None,
                          f"unresolved street {[row['street_name'] for row in found]}")
        elif kind == "defunct_street":
            street = fates.rows("select street_code, street_source, statistics_street_as_served "
                                "from intermediate.int_enterprises_resolved where uscc = ?", uscc)
            unresolved = all(row["street_code"] is None for row in found)
            ok = unresolved and len(street) == 1 and street[0][0] is not None and street[0][1] != "statistics"
            fates.outcome(uscc, f"repaired:int_enterprises_resolved.street_source={street[0][1]}" if ok else None,
                          f"raw street codes {[row['street_code'] for row in found]}, resolved {street}")
        else:
            raise AssertionError(f"no check for statistics kind {kind}")


CHECKS: dict[str, Callable[[Fates, str, dict[str, Any]], None]] = {
    "hotline": _hotline, "citymgmt": _citymgmt, "enforcement": _enforcement, "credit": _credit,
    "statistics": _statistics,
}
CASES = [
    pytest.param(platform, kind, id=f"{platform}-{kind}", marks=(
        [pytest.mark.xfail(strict=True, reason=GAPS[(platform, kind)])] if (platform, kind) in GAPS else []))
    for platform, kinds in FATES.items() for kind in kinds
]


def test_the_fates_cover_exactly_the_truths_dirty_kinds(district) -> None:
    truth = district.dataset.truth()
    assert set(FATES) == {p for p, section in truth.items() if isinstance(section, dict) and "dirty" in section}
    for platform, kinds in FATES.items():
        assert set(kinds) == set(truth[platform]["dirty"]), platform


@pytest.mark.parametrize(("platform", "kind"), CASES)
def test_every_dirty_record_has_its_fate(platform: str, kind: str, district, built, lake: Lake) -> None:
    entry = district.dataset.truth()[platform]["dirty"][kind]
    fates = Fates(lake, built)
    CHECKS[platform](fates, kind, entry)
    print(f"{platform}.{kind} ({FATES[platform][kind]}): truth count {entry['count']}, found {dict(fates.counts)}")
    assert not fates.problems, f"{platform}.{kind}: {len(fates.problems)} without their fate: {fates.problems[:10]}"
    if platform == "citymgmt" and "ids_at_end_by_table" in entry:
        at_end = sum(len(ids) for ids in entry["ids_at_end_by_table"].values())
        assert sum(n for label, n in fates.counts.items() if label != "not_yet_visible") >= at_end
