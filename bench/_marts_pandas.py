"""bench/marts.py's pandas side: the KPI and sensor marts computed as a team without a SQL engine would, with
pandas over the raw files (read through its Parquet engine, pyarrow) and sort, shift, merge and groupby, to the
same rows as dbt's marts.

The logic is the dbt models' (bench/_marts_sql.py says which), written the pandas way: each sensor domain read,
deduplicated, flagged and aggregated per sensor and day on its own (its frames freed before the next), decimals
read as whole numbers of their unit (milligrams, tenths) so that thresholds and jumps compare exactly as DuckDB's
decimals do, and the nearest unit grid of the diesel fixes found in chunks (the bucketed join against the cells
multiplies the rows). The orders' preparation is done once for both hotline marts."""

from __future__ import annotations

import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gridlake.settings import repo_root

__all__ = ["compute"]

_ZONE = "Asia/Shanghai"
_FULL_WIDTH = ("０１２３４５６７８９ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺ"
               "ａｂｃｄｅｆｇｈｉｊｋｌｍｎｏｐｑｒｓｔｕｖｗｘｙｚ")
_TO_HALF = str.maketrans(_FULL_WIDTH, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", " 　")
_UNITS = ("street", "department")
_MINUTE_US = 60_000_000
_CHUNK = 200_000


# --- reading and the shared rules ----------------------------------------------------------------------------------

def _read(lake: Path, platform: str, entity: str, columns: list[str]) -> pd.DataFrame:
    """Every file of a raw entity (the empty _schema.parquet too, so that an entity without rows has its columns),
    through pandas' Parquet engine, pyarrow: decimals as doubles (pandas would make them Python objects)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables = []
    for path in sorted((lake / "raw" / platform / entity).rglob("*.parquet")):
        table = pq.read_table(path, columns=columns)
        tables.append(table.cast(pa.schema([
            pa.field(f.name, pa.float64()) if pa.types.is_decimal(f.type) else f for f in table.schema])))
    return pa.concat_tables(tables).to_pandas()


def _norm(values: pd.Series) -> pd.Series:
    """Codes made comparable (macros/normalise.sql): half-width, no spaces, upper case, '' as null."""
    out = values.map(lambda text: text.translate(_TO_HALF).upper() if isinstance(text, str) else None)
    return out.where(out != "", None).astype(object)


def _latest(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    """The live latest version of each key: updated_at, then the landing, then the batch, newest first; soft
    deletes left out. Only keys landed more than once are sorted."""
    repeated = frame[key].duplicated(keep=False)
    if repeated.any():
        winners = (frame[repeated]
                   .sort_values([key, "updated_at", "_ingested_at", "_batch_id"], ascending=[True, False, False, False],
                                na_position="last")
                   .drop_duplicates(key))
        frame = pd.concat([frame[~repeated], winners])
    return frame[frame["deleted_at"].isna()].drop(columns=["updated_at", "_ingested_at", "_batch_id", "deleted_at"])


def _local_day(instants: pd.Series) -> pd.Series:
    """The Beijing date of an instant, as a naive midnight."""
    return instants.dt.tz_convert(_ZONE).dt.tz_localize(None).dt.floor("D")


_EPOCH = pd.Timestamp(0, tz="UTC")
_MICROSECOND = pd.Timedelta(microseconds=1)


def _micros(instants: pd.Series) -> pd.Series:
    """Microseconds since the epoch, exactly (as doubles: NaN for null)."""
    return (instants - _EPOCH) // _MICROSECOND


def _epoch(instants: pd.Series) -> pd.Series:
    """Seconds since the epoch as a double (DuckDB's epoch())."""
    return _micros(instants) / 1e6


def _round(values: pd.Series, places: int) -> pd.Series:
    """DuckDB's round() of a double: half away from zero."""
    scale = 10.0 ** places
    return np.sign(values) * np.floor(np.abs(values) * scale + 0.5) / scale


def _exceeds(scaled: pd.Series, scale: int, threshold: Any) -> pd.Series:
    """scaled / scale > threshold, exactly (the threshold as DuckDB reads its literal: a decimal)."""
    limit = Fraction(str(threshold))
    return (scaled * limit.denominator > limit.numerator * scale).fillna(False).astype(bool)


def _scaled(values: pd.Series, scale: int) -> pd.Series:
    """A decimal column (read as doubles) as whole numbers of 1/scale, exact in doubles; NaN for null."""
    return (values.astype("float64") * scale).round()


def _names() -> tuple[dict[str, str], dict[str, str]]:
    """Every spelling of a street → its code, of a community → its street (int_street_names, int_community_names),
    the spellings normalised; a spelling two kinds share resolves by the stronger kind."""
    reference = repo_root() / "gridlake" / "reference_data"
    streets = pd.read_csv(reference / "dongcheng_streets.csv", dtype=str)
    communities = pd.read_csv(reference / "dongcheng_communities.csv", dtype=str)
    spellings = pd.concat([
        pd.DataFrame({"code": streets.street_code, "spelling": streets.street_code, "preference": 1}),
        pd.DataFrame({"code": streets.street_code, "spelling": streets.street_name, "preference": 2}),
        pd.DataFrame({"code": streets.street_code, "spelling": streets.short_name, "preference": 3}),
        pd.DataFrame({"code": streets.street_code, "spelling": streets.street_name + "办事处", "preference": 4}),
    ])
    spellings["spelling"] = _norm(spellings.spelling)
    spellings = spellings.dropna(subset=["spelling"]).sort_values(["spelling", "preference"], kind="stable")
    street = dict(spellings.drop_duplicates("spelling")[["spelling", "code"]].itertuples(index=False))
    named = pd.concat([
        pd.DataFrame({"code": communities.community_code, "street": communities.street_code,
                      "spelling": communities.community_code, "preference": 1}),
        pd.DataFrame({"code": communities.community_code, "street": communities.street_code,
                      "spelling": communities.community_name, "preference": 2}),
        pd.DataFrame({"code": communities.community_code, "street": communities.street_code,
                      "spelling": communities.community_name.str.replace("居委会$", "", regex=True),
                      "preference": 3}),
    ])
    named["spelling"] = _norm(named.spelling)
    named = named.dropna(subset=["spelling"]).sort_values(["spelling", "preference"], kind="stable")
    named = named.drop_duplicates("spelling")
    return street, dict(named[["spelling", "street"]].itertuples(index=False))


def _integers(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    for column in columns:
        frame[column] = frame[column].astype("Int32")
    return frame


def _dates(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    for column in columns:
        frame[column] = frame[column].dt.date
    return frame


# --- the hotline ---------------------------------------------------------------------------------------------------

def _orders(lake: Path, v: dict[str, Any], street: dict[str, str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each work order's latest version with its final unit, deadlines and flags, and each dispatch with its unit."""
    raw = _read(lake, "hotline", "requests", [
        "service_request_id", "service_code", "request_type", "urgency", "requested_datetime", "updated_datetime",
        "responded_datetime", "resolved_datetime", "dispatches", "return_visit", "repeat_of",
        "complainant_phone_hash", "is_excluded", "_ingested_at"])
    requests = (raw.sort_values(["service_request_id", "updated_datetime", "_ingested_at"],
                                ascending=[True, False, False], na_position="last")
                .drop_duplicates("service_request_id"))
    requests = requests.rename(columns={
        "service_request_id": "request_id", "requested_datetime": "received_at", "updated_datetime": "updated_at",
        "responded_datetime": "responded_at", "resolved_datetime": "resolved_at"}).reset_index(drop=True)
    requests["service_code"] = _norm(requests.service_code)
    visit = requests.return_visit.map(lambda value: value if isinstance(value, dict) else {})
    requests["return_visited_at"] = pd.to_datetime(visit.map(lambda value: value.get("visited_at")), utc=True)
    requests["return_visit_resolved"] = visit.map(lambda value: value.get("is_resolved"))
    requests["satisfaction"] = visit.map(lambda value: value.get("satisfaction"))
    requests["is_excluded"] = requests.is_excluded.fillna(False).astype(bool)

    # dispatches: one row per element, in list order; a street unit resolved by its code, else its name
    listed = requests[["request_id", "dispatches"]]
    listed = listed[listed.dispatches.map(lambda value: value is not None and len(value) > 0)]
    exploded = listed.explode("dispatches")
    records = [value if isinstance(value, dict) else {} for value in exploded.dispatches]
    dispatches = pd.DataFrame.from_records(records, columns=["unit_code", "unit_name", "unit_type", "dispatched_at",
                                                             "accepted_at", "returned_at"])
    dispatches.insert(0, "request_id", exploded.request_id.to_numpy())
    dispatches["dispatch_seq"] = exploded.groupby(level=0).cumcount().to_numpy() + 1
    for column in ("dispatched_at", "accepted_at", "returned_at"):
        dispatches[column] = pd.to_datetime(dispatches[column], utc=True)
    kind = dispatches.unit_type.map(lambda text: text.strip(" ").lower() if isinstance(text, str) else None)
    code = _norm(dispatches.unit_code)
    resolved = code.map(street).fillna(_norm(dispatches.unit_name).map(street)).fillna(code)
    dispatches["unit_type"] = kind.where(kind != "", None)
    dispatches["unit_code"] = resolved.where(kind == "street", code)
    dispatches["is_returned"] = dispatches.returned_at.notna()
    open_seq = dispatches.dispatch_seq.where(dispatches.accepted_at.notna() & ~dispatches.is_returned)
    final_seq = open_seq.groupby(dispatches.request_id).transform("max")
    final = dispatches[dispatches.dispatch_seq == final_seq]
    flow = dispatches.groupby("request_id").size().rename("dispatch_count").to_frame().join(
        final.set_index("request_id")[["unit_code", "unit_type", "accepted_at"]].rename(columns={
            "unit_code": "final_unit_code", "unit_type": "final_unit_type", "accepted_at": "final_accepted_at"}))
    orders = requests.merge(flow, left_on="request_id", right_index=True, how="left").reset_index(drop=True)
    orders["dispatch_count"] = orders.dispatch_count.fillna(0).astype("int64")

    # the repeat rule: linked, or the same complainant and service within the window
    callers = orders[orders.complainant_phone_hash.notna() & orders.service_code.notna()].sort_values(
        ["complainant_phone_hash", "service_code", "received_at", "request_id"], na_position="last")
    previous = callers.groupby(["complainant_phone_hash", "service_code"], sort=False).received_at.shift()
    orders["previous_received_at"] = previous.reindex(orders.index)
    within = (_epoch(orders.received_at) - _epoch(orders.previous_received_at)) <= v["repeat_window_days"] * 86400
    orders["is_repeat"] = orders.repeat_of.notna() | within

    def deadline(kind_: str) -> pd.Series:
        hours = orders.urgency.map({level: float(v[f"{kind_}_hours_{level}"])
                                    for level in ("urgent", "utility", "normal", "complex")})
        return orders.received_at + pd.to_timedelta(hours * 3600, unit="s")

    respond, resolve = deadline("respond"), deadline("resolve")
    orders["data_as_of"] = orders.updated_at.max()
    answered = orders.satisfaction.isin(["satisfied", "basically_satisfied", "unsatisfied"])
    orders["is_visit_answered"] = answered
    orders["is_responded_in_time"] = (orders.responded_at <= respond).fillna(False).astype(bool)
    orders["is_late_response"] = (orders.responded_at.fillna(orders.data_as_of) > respond).fillna(False).astype(bool)
    orders["is_overdue"] = (orders.resolved_at.fillna(orders.data_as_of) > resolve).fillna(False).astype(bool)
    orders["is_visit_resolved"] = answered & orders.return_visit_resolved.map(
        lambda value: value is not None and bool(value))
    orders["is_visit_satisfied"] = answered & (orders.satisfaction == "satisfied")
    orders["is_visit_basically_satisfied"] = answered & (orders.satisfaction == "basically_satisfied")
    orders["is_counted_in_rates"] = (~orders.is_excluded & ~orders.request_type.isin(["consult", "praise"])
                                     & ~orders.is_repeat)
    orders["transfer_hours"] = (_epoch(orders.final_accepted_at) - _epoch(orders.received_at)) / 3600
    orders["deadline_date"] = _local_day(resolve)
    orders["period_month"] = orders.deadline_date.dt.to_period("M").dt.to_timestamp()
    orders["is_due"] = (resolve <= orders.data_as_of).fillna(False).astype(bool)
    return orders, dispatches


def _unit_kpis(held: pd.DataFrame, returned: pd.DataFrame, dispatches: pd.DataFrame, period: list[str],
               answered: str, v: dict[str, Any]) -> pd.DataFrame:
    """Per unit and period: the volumes and counts, returns, rates, composite and rank (macros/hotline_kpis.sql)."""
    keys = ["unit_type", "unit_code", *period]
    held = held.rename(columns={"final_unit_type": "unit_type", "final_unit_code": "unit_code"})
    counted = held.is_counted_in_rates
    visit = counted & held[answered]
    flags = pd.DataFrame({
        "orders": 1, "orders_counted": counted, "responded_in_time": counted & held.is_responded_in_time,
        "visits_answered": visit, "visits_resolved": visit & held.is_visit_resolved,
        "visits_satisfied": visit & held.is_visit_satisfied,
        "visits_basically_satisfied": visit & held.is_visit_basically_satisfied,
        "repeat_orders": held.is_repeat, "excluded_orders": held.is_excluded, "overdue_orders": held.is_overdue,
        "late_response_orders": held.is_late_response, "dispatches": held.dispatch_count,
    }).astype("int64")
    grouped = pd.concat([held[keys], flags, held[["transfer_hours"]]], axis=1).groupby(keys, dropna=False)
    counts = grouped[list(flags.columns)].sum()
    counts["mean_transfer_hours"] = _round(grouped.transfer_hours.mean(), 6)
    returns = returned.groupby(keys, dropna=False).size().rename("returns")
    kpis = counts.join(returns, how="outer").reset_index()
    kpis[list(flags.columns) + ["returns"]] = kpis[list(flags.columns) + ["returns"]].fillna(0).astype("int64")

    w = {name: float(v[f"weight_{name}"]) for name in ("response", "resolution", "satisfaction",
                                                         "basically_satisfied")}
    kpis["response_rate"] = kpis.responded_in_time.astype("float64") / kpis.orders_counted.where(
        kpis.orders_counted != 0)
    answered_visits = kpis.visits_answered.where(kpis.visits_answered != 0)
    kpis["resolution_rate"] = kpis.visits_resolved.astype("float64") / answered_visits
    kpis["satisfaction_rate"] = (kpis.visits_satisfied + w["basically_satisfied"] * kpis.visits_basically_satisfied
                                 ) / answered_visits
    kpis["composite_score"] = _round(100 * (w["response"] * kpis.response_rate
                                            + w["resolution"] * kpis.resolution_rate
                                            + w["satisfaction"] * kpis.satisfaction_rate)
                                     / (w["response"] + w["resolution"] + w["satisfaction"]), 6)
    ranked = kpis[kpis.composite_score.notna()].assign(resolution_order=lambda f: _round(f.resolution_rate, 9))
    ranked = ranked.sort_values(["unit_type", period[0], "composite_score", "resolution_order", "orders_counted",
                                 "unit_code"], ascending=[True, True, False, False, False, True])
    kpis["unit_rank"] = ranked.groupby(["unit_type", period[0]]).cumcount().add(1).reindex(kpis.index)
    kpis["units_ranked"] = kpis.groupby(["unit_type", period[0]], dropna=False).composite_score.transform("count")

    named = dispatches[dispatches.unit_type.isin(_UNITS) & dispatches.unit_name.notna()
                       & dispatches.dispatched_at.notna()]
    names = named.loc[named.groupby(["unit_type", "unit_code"]).dispatched_at.idxmax(),
                      ["unit_type", "unit_code", "unit_name"]]
    kpis = kpis.merge(names, on=["unit_type", "unit_code"], how="left")
    columns = ["unit_type", "unit_code", "unit_name", *period, "orders", "orders_counted", "responded_in_time",
               "visits_answered", "visits_resolved", "visits_satisfied", "visits_basically_satisfied",
               "response_rate", "resolution_rate", "satisfaction_rate", "composite_score", "unit_rank",
               "units_ranked", "repeat_orders", "excluded_orders", "overdue_orders", "late_response_orders",
               "dispatches", "returns", "mean_transfer_hours"]
    return _integers(kpis[columns].copy(), [
        "orders", "orders_counted", "responded_in_time", "visits_answered", "visits_resolved", "visits_satisfied",
        "visits_basically_satisfied", "unit_rank", "units_ranked", "repeat_orders", "excluded_orders",
        "overdue_orders", "late_response_orders", "dispatches", "returns"])


def _key(*parts: pd.Series) -> pd.Series:
    """concat_ws('|', ...): null parts left out."""
    return pd.Series(["|".join(p for p in row if isinstance(p, str)) for row in zip(*parts, strict=True)],
                     index=parts[0].index)


def _hotline_kpi_monthly(orders: pd.DataFrame, dispatches: pd.DataFrame, v: dict[str, Any]) -> pd.DataFrame:
    held = orders[orders.is_due & orders.final_unit_type.isin(_UNITS)]
    returned = dispatches[dispatches.is_returned & dispatches.unit_type.isin(_UNITS)].merge(
        orders.loc[orders.is_due, ["request_id", "period_month"]], on="request_id")
    kpis = _unit_kpis(held, returned, dispatches, ["period_month"], "is_visit_answered", v)
    as_of = orders.data_as_of.max()
    kpis.insert(0, "unit_month_key", _key(kpis.unit_type, kpis.unit_code, kpis.period_month.dt.strftime("%Y-%m")))
    month_end = kpis.period_month + pd.offsets.MonthEnd(0)
    kpis["is_period_complete"] = month_end < as_of.tz_convert(_ZONE).tz_localize(None).floor("D")
    kpis["data_as_of"] = as_of
    return _dates(kpis, ["period_month"])


def _hotline_kpi_daily(orders: pd.DataFrame, dispatches: pd.DataFrame, v: dict[str, Any]) -> pd.DataFrame:
    as_of = orders.data_as_of.max()
    as_of_date = as_of.tz_convert(_ZONE).tz_localize(None).floor("D")
    months = orders.loc[orders.is_due, "period_month"].dropna().unique()
    days = pd.concat([pd.DataFrame({"period_month": pd.Timestamp(month), "kpi_date": pd.date_range(
        pd.Timestamp(month), min(pd.Timestamp(month) + pd.offsets.MonthEnd(0), as_of_date), freq="D")})
        for month in months]
        or [pd.DataFrame({"period_month": pd.Series(dtype="datetime64[us]"),
                          "kpi_date": pd.Series(dtype="datetime64[us]")})])
    held = days.merge(orders[orders.is_due & orders.final_unit_type.isin(_UNITS)], on="period_month")
    held = held[held.deadline_date <= held.kpi_date]
    visited = _local_day(held.return_visited_at.fillna(held.updated_at))
    held = held.assign(is_answered_by_then=held.is_visit_answered & (visited <= held.kpi_date).fillna(False))
    returned = dispatches[dispatches.is_returned & dispatches.unit_type.isin(_UNITS)].merge(
        orders.loc[orders.is_due, ["request_id", "period_month", "deadline_date"]], on="request_id").merge(
        days, on="period_month")
    returned = returned[returned.deadline_date <= returned.kpi_date]
    kpis = _unit_kpis(held, returned, dispatches, ["kpi_date", "period_month"], "is_answered_by_then", v)
    kpis.insert(0, "unit_day_key", _key(kpis.unit_type, kpis.unit_code, kpis.kpi_date.dt.strftime("%Y-%m-%d")))
    kpis["data_as_of"] = as_of
    return _dates(kpis, ["kpi_date", "period_month"])


# --- the sensors -----------------------------------------------------------------------------------------------------

class _Cells:
    """The unit grids with their street, for the nearest-cell search (macros/places_locate.sql)."""

    def __init__(self, lake: Path, v: dict[str, Any], street: dict[str, str],
                 community_street: dict[str, str]) -> None:
        raw = _read(lake, "citymgmt", "grid__cell", ["grid_code", "street_code", "community_code", "centroid_lat",
                                                      "centroid_lon", "updated_at", "deleted_at", "_ingested_at",
                                                      "_batch_id"])
        raw["grid_code"] = _norm(raw.grid_code)
        cells = _latest(raw, "grid_code")
        usable = _usable(cells.centroid_lat, cells.centroid_lon)
        cells = cells[usable & np.isfinite(cells.centroid_lat) & np.isfinite(cells.centroid_lon)]
        self.radius = float(v["link_max_cell_distance_m"])
        self.cos = np.cos(np.radians(float(Fraction(str(v["lat_min"])) + Fraction(str(v["lat_max"]))) / 2.0))
        x, y = self.project(cells.centroid_lat, cells.centroid_lon)
        table = pd.DataFrame({
            "grid_code": cells.grid_code.to_numpy(),
            "cell_street_code": _norm(cells.street_code).map(street).fillna(
                _norm(cells.community_code).map(community_street)).to_numpy(),
            "cx": x.to_numpy(), "cy": y.to_numpy(),
            "bx": np.floor(x / self.radius).astype("int64").to_numpy(),
            "by": np.floor(y / self.radius).astype("int64").to_numpy()})
        steps = pd.DataFrame({"sx": [-1, -1, -1, 0, 0, 0, 1, 1, 1], "sy": [-1, 0, 1] * 3})
        self.buckets = table.merge(steps, how="cross")
        self.buckets["bx"] += self.buckets.sx
        self.buckets["by"] += self.buckets.sy
        self.buckets = self.buckets.drop(columns=["sx", "sy"])

    def project(self, lat: pd.Series, lon: pd.Series) -> tuple[pd.Series, pd.Series]:
        return lon.astype("float64") * 111195.0797 * self.cos, lat.astype("float64") * 111195.0797

    def nearest(self, points: pd.DataFrame, key: str) -> pd.DataFrame:
        """key → street_code of the nearest cell within the radius (ties by grid code), for points (key, lat, lon)."""
        points = points[points.lat.notna() & points.lon.notna() & np.isfinite(points.lat)
                        & np.isfinite(points.lon)]
        found = []
        for start in range(0, len(points), _CHUNK):
            chunk = points.iloc[start:start + _CHUNK]
            x, y = self.project(chunk.lat, chunk.lon)
            located = pd.DataFrame({key: chunk[key].to_numpy(), "x": x.to_numpy(), "y": y.to_numpy(),
                                    "bx": np.floor(x / self.radius).astype("int64").to_numpy(),
                                    "by": np.floor(y / self.radius).astype("int64").to_numpy()})
            pairs = located.merge(self.buckets, on=["bx", "by"])
            pairs["distance_m"] = np.sqrt((pairs.cy - pairs.y) ** 2 + (pairs.cx - pairs.x) ** 2)
            pairs = pairs[pairs.distance_m <= self.radius]
            found.append(pairs.sort_values([key, "distance_m", "grid_code"]).drop_duplicates(key)[
                [key, "cell_street_code"]])
        if not found:
            return pd.DataFrame({key: pd.Series(dtype=object), "street_code": pd.Series(dtype=object)})
        return pd.concat(found).rename(columns={"cell_street_code": "street_code"})


def _usable(lat: pd.Series, lon: pd.Series) -> pd.Series:
    """A point that is not (0, 0) and lies in Beijing (macros/citymgmt_registers.sql)."""
    return (~((lat == 0) & (lon == 0)) & lat.between(39.40, 41.10) & lon.between(115.40, 117.55)).fillna(False)


def _places(lake: Path, cells: _Cells, street: dict[str, str], community_street: dict[str, str]) -> pd.DataFrame:
    """Every register row's street (int_sensor_places_resolved): as served, else the served community's, else
    the nearest cell's of its point; and the lots' capacity."""
    registers = {"road_dust": ("dust__road", "road_id"), "cooking_fume": ("fume__restaurant", "restaurant_id"),
                 "garbage_sorting": ("garbage__station", "station_id"),
                 "sanitation_vehicle": ("vehicle__vehicle", "vehicle_id"), "personnel": ("staff__worker", "worker_id"),
                 "static_traffic": ("traffic__parking_lot", "lot_id")}
    frames = []
    for domain, (entity, key) in registers.items():
        columns = [key, "street_code", "updated_at", "deleted_at", "_ingested_at", "_batch_id"]
        if domain in ("cooking_fume", "garbage_sorting"):
            columns.append("community_code")
        if domain in ("cooking_fume", "garbage_sorting", "static_traffic"):
            columns += ["lat", "lon"]
        if domain == "static_traffic":
            columns.append("capacity")
        rows = _latest(_read(lake, "citymgmt", entity, columns), key)
        frame = pd.DataFrame({"domain_code": domain, "place_id": rows[key].astype(object),
                              "street_served": _norm(rows.street_code)})
        frame["community_served"] = _norm(rows.community_code) if "community_code" in rows else None
        if "lat" in rows:
            usable = _usable(rows.lat, rows.lon)
            frame["lat"], frame["lon"] = rows.lat.where(usable), rows.lon.where(usable)
        else:
            frame["lat"], frame["lon"] = np.nan, np.nan
        frame["capacity"] = rows.capacity.astype("Int64") if "capacity" in rows else pd.NA
        frames.append(frame)
    places = pd.concat(frames, ignore_index=True)
    places["place_key"] = places.domain_code + "/" + places.place_id
    nearest = cells.nearest(places[["place_key", "lat", "lon"]], "place_key").set_index("place_key").street_code
    places["street_code"] = (places.street_served.map(street).fillna(places.community_served.map(community_street))
                             .fillna(places.place_key.map(nearest)))
    return places[["domain_code", "place_id", "street_code", "capacity"]]


def _in_series(frame: pd.DataFrame, series: str, at: str, key: str, values: list[str]) -> pd.DataFrame:
    """The readings in series order (sensor, time, key) with their neighbours' time and `values`: previous_* and
    next_*; a reading without a sensor or a time has none (macros/citymgmt_readings.sql)."""
    frame = frame.sort_values([series, at, key], na_position="last", ignore_index=True)
    alone = frame[series].isna() | frame[at].isna()
    same_before = (frame[series] == frame[series].shift()) & ~alone & ~alone.shift(fill_value=True)
    same_after = (frame[series] == frame[series].shift(-1)) & ~alone & ~alone.shift(-1, fill_value=True)
    for name in [at, *values]:
        column = "at" if name == at else name
        frame[f"previous_{column}"] = frame[name].shift().where(same_before)
        frame[f"next_{column}"] = frame[name].shift(-1).where(same_after)
    return frame


def _lapses(frame: pd.DataFrame, at: str) -> tuple[pd.Series, pd.Series]:
    """The lapses to the previous and to the next reading, in microseconds (NaN without a neighbour)."""
    return (frame[at] - frame.previous_at) // _MICROSECOND, (frame.next_at - frame[at]) // _MICROSECOND


def _scalar_spike(frame: pd.DataFrame, value: str, at: str, bound: pd.Series | int, max_minutes: int) -> pd.Series:
    before, after = _lapses(frame, at)
    v, p, n = frame[value], frame[f"previous_{value}"], frame[f"next_{value}"]
    near = (before <= max_minutes * _MINUTE_US) & (after <= max_minutes * _MINUTE_US)
    jump = ((v - p > bound) & (v - n > bound)) | ((p - v > bound) & (n - v > bound))
    return (near & jump).fillna(False).astype(bool)


def _position_spike(frame: pd.DataFrame, at: str) -> pd.Series:
    def km(lat1: pd.Series, lon1: pd.Series, lat2: pd.Series, lon2: pd.Series) -> pd.Series:
        return 2 * 6371.0088 * np.arcsin(np.sqrt(
            np.sin(np.radians(lat2 - lat1) / 2) ** 2
            + np.cos(np.radians(lat1)) * np.cos(np.radians(lat2)) * np.sin(np.radians(lon2 - lon1) / 2) ** 2))

    before, after = _lapses(frame, at)
    out = km(frame.previous_lat, frame.previous_lon, frame.lat, frame.lon) > np.maximum(
        0.5, 150 * (before / 1e6) / 3600.0)
    back = km(frame.lat, frame.lon, frame.next_lat, frame.next_lon) > np.maximum(0.5, 150 * (after / 1e6) / 3600.0)
    return (out & back).fillna(False).astype(bool)


def _stuck(frame: pd.DataFrame, value: str, at: str, hours: float) -> pd.Series:
    """Readings in a run of one value (consecutive readings of a series) lasting `hours` or more."""
    same = (frame[value] == frame[f"previous_{value}"]) | (frame[value].isna() & frame[f"previous_{value}"].isna())
    starts = frame.previous_at.isna() | ~same.fillna(False).astype(bool)
    run = starts.cumsum()
    stamps = _micros(frame[at])
    span = stamps.groupby(run).transform("max") - stamps.groupby(run).transform("min")
    return (frame[value].notna() & (span >= hours * 3600 * 1e6)).fillna(False).astype(bool)


def _gap_day(frame: pd.DataFrame, at: str, minutes: float) -> pd.Series:
    """The Beijing day an offline gap before the reading began (the previous reading's), where there is one."""
    before, _ = _lapses(frame, at)
    return _local_day(frame.previous_at).where(before > minutes * _MINUTE_US)


def _domain_readings(lake: Path, domain: str, v: dict[str, Any], places: pd.DataFrame,
                     cells: _Cells) -> pd.DataFrame:
    """One domain's live readings in one shape (macros/iot_readings.sql): sensor_id, place_id, reading_id (text),
    reading_at, is_spike, is_stuck, is_over_threshold, is_over_severe, is_active, fix_street_code, gap_day."""
    batch = ["updated_at", "deleted_at", "_ingested_at", "_batch_id"]
    gap = float(v["offline_gap_minutes"])
    out: dict[str, Any]
    if domain == "road_dust":
        frame = _latest(_read(lake, "citymgmt", "dust__reading",
                              ["reading_id", "road_id", "sensor_id", "measured_at", "dust_load_g_m2", *batch]),
                        "reading_id")
        frame["value"] = _scaled(frame.pop("dust_load_g_m2"), 1000)
        frame = _in_series(frame, "sensor_id", "measured_at", "reading_id", ["value"])
        out = {"sensor_id": frame.sensor_id, "place_id": frame.road_id, "reading_id": frame.reading_id,
               "reading_at": frame.measured_at, "is_spike": _scalar_spike(frame, "value", "measured_at", 1000, 15),
               "is_stuck": _stuck(frame, "value", "measured_at", float(v["stuck_sensor_hours"])),
               "is_over_threshold": _exceeds(frame.value, 1000, v["threshold_dust_load_g_m2"]),
               "is_over_severe": _exceeds(frame.value, 1000, v["threshold_dust_load_severe_g_m2"]),
               "gap_day": _gap_day(frame, "measured_at", gap)}
    elif domain == "cooking_fume":
        frame = _latest(_read(lake, "citymgmt", "fume__reading",
                              ["reading_id", "restaurant_id", "measured_at", "concentration_mg_m3", *batch]),
                        "reading_id")
        frame["value"] = _scaled(frame.pop("concentration_mg_m3"), 1000)
        frame = _in_series(frame, "restaurant_id", "measured_at", "reading_id", ["value"])
        out = {"sensor_id": frame.restaurant_id, "place_id": frame.restaurant_id, "reading_id": frame.reading_id,
               "reading_at": frame.measured_at, "is_spike": _scalar_spike(frame, "value", "measured_at", 2000, 30),
               "is_stuck": _stuck(frame, "value", "measured_at", float(v["stuck_sensor_hours"])),
               "is_over_threshold": _exceeds(frame.value, 1000, v["threshold_fume_mg_m3"])}
    elif domain == "garbage_sorting":
        frame = _latest(_read(lake, "citymgmt", "garbage__collection",
                              ["collection_id", "station_id", "collected_at", "weight_kg", *batch]), "collection_id")
        out = {"sensor_id": frame.station_id, "place_id": frame.station_id, "reading_id": frame.collection_id,
               "reading_at": frame.collected_at,
               "is_spike": _exceeds(_scaled(frame.weight_kg, 10), 10, 20000)}
    elif domain in ("sanitation_vehicle", "personnel"):
        entity, series, active = (("vehicle__position", "vehicle_id", "working") if domain == "sanitation_vehicle"
                                  else ("staff__position", "worker_id", "on_duty"))
        frame = _latest(_read(lake, "citymgmt", entity,
                              ["position_id", series, "recorded_at", "lat", "lon", active, *batch]), "position_id")
        frame = _in_series(frame, series, "recorded_at", "position_id", ["lat", "lon"])
        out = {"sensor_id": frame[series], "place_id": frame[series], "reading_id": frame.position_id,
               "reading_at": frame.recorded_at, "is_spike": _position_spike(frame, "recorded_at"),
               "is_active": frame[active].fillna(False).astype(bool)}
    elif domain == "static_traffic":
        frame = _latest(_read(lake, "citymgmt", "traffic__occupancy",
                              ["occupancy_id", "lot_id", "recorded_at", "occupied", *batch]), "occupancy_id")
        frame["value"] = frame.pop("occupied").astype("float64")
        frame = _in_series(frame, "lot_id", "recorded_at", "occupancy_id", ["value"])
        capacity = frame.lot_id.map(places[places.domain_code == "static_traffic"].set_index("place_id").capacity)
        # a jump over max(100, half the larger neighbour): doubled to stay in integers
        bound = np.maximum(200, np.fmax(frame.previous_value, frame.next_value))
        doubled = frame.assign(value=frame.value * 2, previous_value=frame.previous_value * 2,
                               next_value=frame.next_value * 2)
        limit = Fraction(str(v["threshold_parking_saturation"]))
        over = (capacity > 0) & (frame.value * limit.denominator > capacity * limit.numerator)
        out = {"sensor_id": frame.lot_id, "place_id": frame.lot_id, "reading_id": frame.occupancy_id,
               "reading_at": frame.recorded_at,
               "is_spike": _scalar_spike(doubled, "value", "recorded_at", bound, 45),
               "is_over_threshold": over.fillna(False).astype(bool),
               "gap_day": _gap_day(frame, "recorded_at", gap)}
    elif domain == "heavy_diesel":
        frame = _latest(_read(lake, "citymgmt", "diesel__obd",
                              ["obd_id", "vin_hash", "recorded_at", "lat", "lon", "nox_ppm", "speed_kmh", *batch]),
                        "obd_id")
        frame = _in_series(frame, "vin_hash", "recorded_at", "obd_id", ["lat", "lon"])
        fixes = cells.nearest(frame[["obd_id", "lat", "lon"]], "obd_id").set_index("obd_id").street_code
        over = (_exceeds(_scaled(frame.nox_ppm, 10), 10, v["threshold_diesel_nox_ppm"])
                & _exceeds(_scaled(frame.speed_kmh, 10), 10, v["threshold_diesel_min_speed_kmh"]))
        out = {"sensor_id": frame.vin_hash, "place_id": None, "reading_id": frame.obd_id,
               "reading_at": frame.recorded_at, "is_spike": _position_spike(frame, "recorded_at"),
               "is_over_threshold": over, "fix_street_code": frame.obd_id.map(fixes)}
    else:
        raise ValueError(f"no observation table for domain {domain}")
    readings = pd.DataFrame(out, index=frame.index)
    for flag in ("is_stuck", "is_over_threshold", "is_over_severe"):
        if flag not in readings:
            readings[flag] = False
    for column in ("is_active", "fix_street_code", "gap_day", "place_id"):
        if column not in readings:
            readings[column] = None
    readings["reading_id"] = readings.reading_id.astype(str)
    return readings[readings.sensor_id.notna()]


_DOMAINS = ("road_dust", "cooking_fume", "garbage_sorting", "sanitation_vehicle", "personnel", "static_traffic",
            "heavy_diesel")
_DAY_KEYS = ["domain_code", "sensor_id", "activity_date", "place_id", "fix_street_code"]


def _sensor_days(readings: pd.DataFrame, domain: str) -> pd.DataFrame:
    """Per sensor, day and place: the counts, and the offline gaps that began that day (int_sensor_days_aggregated)."""
    valid = ~readings.is_spike & ~readings.is_stuck
    frame = pd.DataFrame({
        "domain_code": domain, "sensor_id": readings.sensor_id, "activity_date": _local_day(readings.reading_at),
        "place_id": readings.place_id, "fix_street_code": readings.fix_street_code, "readings": 1,
        "valid_readings": valid, "spike_readings": readings.is_spike, "stuck_readings": readings.is_stuck,
        "exceedance_readings": readings.is_over_threshold & valid,
        "severe_readings": readings.is_over_severe & valid, "active_readings": readings.is_active.eq(True),
    })
    counts = ["readings", "valid_readings", "spike_readings", "stuck_readings", "exceedance_readings",
              "severe_readings", "active_readings"]
    frame[counts] = frame[counts].astype("int64")
    days = frame.groupby(_DAY_KEYS, dropna=False)[counts].sum().reset_index()
    gapped = readings[readings.gap_day.notna()]
    gaps = pd.DataFrame({"domain_code": domain, "sensor_id": gapped.sensor_id, "activity_date": gapped.gap_day,
                         "place_id": gapped.place_id, "fix_street_code": gapped.fix_street_code})
    gaps = gaps.groupby(_DAY_KEYS, dropna=False).size().rename("offline_gaps").reset_index()
    days = days.merge(gaps, on=_DAY_KEYS, how="left")  # null keys match null keys: "is not distinct from"
    days["offline_gaps"] = days.offline_gaps.fillna(0).astype("int64")
    return days


def _exceeding(readings: pd.DataFrame, domain: str) -> pd.DataFrame | None:
    """The valid readings over the threshold, by kind (int_sensor_exceedances); None for a domain without one."""
    kinds = {"road_dust": "dust", "cooking_fume": "fume", "heavy_diesel": "diesel_nox",
             "static_traffic": "parking_saturation"}
    if domain not in kinds:
        return None
    over = readings[readings.is_over_threshold & ~readings.is_spike & ~readings.is_stuck]
    columns = ["sensor_id", "place_id", "reading_id", "reading_at", "fix_street_code"]
    frames = [over[columns].assign(exceedance_kind=kinds[domain], domain_code=domain)]
    if domain == "road_dust":
        frames.append(over.loc[over.is_over_severe, columns].assign(exceedance_kind="dust_severe",
                                                                   domain_code=domain))
    return pd.concat(frames, ignore_index=True)


def _iot_domain_daily(lake: Path, v: dict[str, Any], street: dict[str, str],
                      community_street: dict[str, str]) -> pd.DataFrame:
    cells = _Cells(lake, v, street, community_street)
    places = _places(lake, cells, street, community_street)
    day_frames, exceeding_frames = [], []
    for domain in _DOMAINS:
        readings = _domain_readings(lake, domain, v, places, cells)
        day_frames.append(_sensor_days(readings, domain))
        exceeding_frames.append(_exceeding(readings, domain))
        del readings
    days = pd.concat(day_frames, ignore_index=True)

    located = days.merge(places[["domain_code", "place_id", "street_code"]].dropna(subset=["place_id"])
                         .assign(is_registered=True), on=["domain_code", "place_id"], how="left")
    located["street_code"] = located.street_code.fillna(located.fix_street_code)
    located["is_registered"] = located.is_registered.fillna(False).astype(bool)
    keys = ["domain_code", "street_code", "activity_date"]
    located["stuck_sensor"] = located.sensor_id.where(located.stuck_readings > 0)
    located["registered_place"] = located.place_id.where(located.is_registered)
    located["active_unit"] = located.sensor_id.where(located.active_readings > 0)
    grouped = located.groupby(keys, dropna=False)
    counted = grouped[["readings", "valid_readings", "spike_readings", "stuck_readings", "exceedance_readings",
                       "severe_readings", "offline_gaps"]].sum()
    distinct = grouped[["sensor_id", "stuck_sensor", "registered_place", "active_unit"]].nunique()  # nulls left out
    counted[["sensors_reporting", "stuck_sensors", "registered_sensors_reporting", "units_active"]] = \
        distinct.to_numpy()
    counted = counted.reset_index()

    exceeding = pd.concat([f for f in exceeding_frames if f is not None], ignore_index=True).sort_values(
        ["exceedance_kind", "sensor_id", "reading_at", "reading_id"], ignore_index=True)
    same = ((exceeding.exceedance_kind == exceeding.exceedance_kind.shift())
            & (exceeding.sensor_id == exceeding.sensor_id.shift()))
    lapse = exceeding.reading_at - exceeding.reading_at.shift()
    exceeding["episode"] = (~same | (lapse > pd.Timedelta(minutes=30))).cumsum()
    episodes = exceeding.drop_duplicates("episode")  # started_at, and the place, of its first reading
    episodes = episodes.merge(places[["domain_code", "place_id", "street_code"]].dropna(subset=["place_id"]),
                              on=["domain_code", "place_id"], how="left")
    episodes["street_code"] = episodes.street_code.fillna(episodes.fix_street_code)
    episodes["activity_date"] = _local_day(episodes.reading_at)
    episodes["severe_episodes"] = (episodes.exceedance_kind == "dust_severe").astype("int64")
    episodes["exceedance_episodes"] = 1 - episodes.severe_episodes
    per_day = episodes.groupby(keys, dropna=False)[["exceedance_episodes", "severe_episodes"]].sum().reset_index()

    registered = places.groupby(["domain_code", "street_code"], dropna=False).size().rename(
        "sensors_registered").reset_index()
    bounds = days.groupby("domain_code").activity_date.agg(["min", "max"])
    calendar = pd.concat([pd.DataFrame({"domain_code": domain, "activity_date": pd.date_range(row["min"], row["max"])})
                          for domain, row in bounds.iterrows()])
    spine = pd.concat([calendar.merge(registered[["domain_code", "street_code"]], on="domain_code"),
                       counted[keys], per_day[keys]]).drop_duplicates(keys)
    joined = (spine.merge(counted, on=keys, how="left").merge(per_day, on=keys, how="left")
              .merge(registered, on=["domain_code", "street_code"], how="left"))
    figures = ["readings", "valid_readings", "spike_readings", "stuck_readings", "exceedance_readings",
               "exceedance_episodes", "severe_readings", "severe_episodes", "offline_gaps", "sensors_reporting",
               "stuck_sensors", "sensors_registered", "registered_sensors_reporting", "units_active"]
    joined[figures] = joined[figures].fillna(0).astype("int64")

    domain = joined.domain_code
    threshold = domain.isin(["road_dust", "cooking_fume", "static_traffic", "heavy_diesel"])
    stuck = domain.isin(["road_dust", "cooking_fume"])
    dust = domain == "road_dust"
    registered_domain = domain != "heavy_diesel"
    mart = pd.DataFrame({
        "domain_day_key": _key(domain, joined.street_code.fillna("unresolved"),
                               joined.activity_date.dt.strftime("%Y-%m-%d")),
        "domain_code": domain, "street_code": joined.street_code, "activity_date": joined.activity_date,
        "readings": joined.readings, "valid_readings": joined.valid_readings,
        "spike_readings": joined.spike_readings,
        "stuck_readings": joined.stuck_readings.where(stuck),
        "exceedance_readings": joined.exceedance_readings.where(threshold),
        "exceedance_episodes": joined.exceedance_episodes.where(threshold),
        "severe_readings": joined.severe_readings.where(dust), "severe_episodes": joined.severe_episodes.where(dust),
        "offline_gaps": joined.offline_gaps.where(domain.isin(["road_dust", "static_traffic"])),
        "sensors_reporting": joined.sensors_reporting, "stuck_sensors": joined.stuck_sensors.where(stuck),
        "sensors_registered": joined.sensors_registered.where(registered_domain),
        "registered_sensors_reporting": joined.registered_sensors_reporting.where(registered_domain),
        "coverage_rate": (joined.registered_sensors_reporting / joined.sensors_registered).where(
            registered_domain & (joined.sensors_registered > 0)),
        "gps_fixes": joined.readings.where(domain.isin(["sanitation_vehicle", "personnel", "heavy_diesel"])),
        "units_active": joined.units_active.where(domain.isin(["sanitation_vehicle", "personnel"])),
    })
    return _dates(_integers(mart, [*figures, "gps_fixes"]), ["activity_date"])


def compute(lake: Path, given: dict[str, Any], out: Path, *, with_iot: bool) -> dict[str, float]:
    """The marts into ``out/<mart>.parquet``; the seconds each took (the orders' preparation, which the two hotline
    marts share, counts in the monthly one's)."""
    seconds = {}
    began = time.perf_counter()
    street, community_street = _names()
    orders, dispatches = _orders(lake, given, street)
    _hotline_kpi_monthly(orders, dispatches, given).to_parquet(out / "hotline_kpi_monthly.parquet", index=False)
    seconds["hotline_kpi_monthly"] = round(time.perf_counter() - began, 2)
    began = time.perf_counter()
    _hotline_kpi_daily(orders, dispatches, given).to_parquet(out / "hotline_kpi_daily.parquet", index=False)
    seconds["hotline_kpi_daily"] = round(time.perf_counter() - began, 2)
    del orders, dispatches
    if with_iot:
        began = time.perf_counter()
        _iot_domain_daily(lake, given, street, community_street).to_parquet(out / "iot_domain_daily.parquet",
                                                                            index=False)
        seconds["iot_domain_daily"] = round(time.perf_counter() - began, 2)
    return seconds
