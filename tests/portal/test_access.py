"""Each role reads exactly what it is given, by every route (the query API, a dataset's rows as JSON, CSV and
Parquet, page by page, the console page), checked against the published Parquet read apart: its datasets, its rows (a
street office its street's, a bureau its domains' and its own KPIs), its columns (single enterprises' statistics
figures empty to all but the statistics bureau and the centre, personal data empty to everyone)."""

from __future__ import annotations

import csv
import io
import math
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import httpx
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from expectations import DATASETS
from gridlake.settings import Settings
from gridlake.shared import SharedZone
from portal.tokens import TokenStore
from tests.portal.conftest import OTHER_STREET, ROLES, STREET, issue_tokens, serving
from tests.portal.support import EXPECTED, FIGURES, PERSONAL, LogTail

ALL_ROWS = 100_000  # a limit above every test dataset's rows (and under the download cap)


@pytest.fixture(scope="module")
def zone(service) -> SharedZone:
    return SharedZone.default(service.settings)


@pytest.fixture(scope="module")
def tables(zone: SharedZone) -> dict[str, pa.Table]:
    """Every shared dataset as published, read from its Parquet files, not through the service."""
    found = {name: zone.read(name) for name in DATASETS}
    assert all(table is not None for table in found.values()), "the test district publishes every dataset"
    return found


@pytest.fixture(scope="module")
def frames(tables: dict[str, pa.Table]) -> dict[str, pd.DataFrame]:
    return {name: table.to_pandas() for name, table in tables.items()}


def _key(zone: SharedZone, dataset: str) -> list[str]:
    return zone.catalog()["datasets"][dataset]["key"]


def _plain(value: Any) -> Any:
    """A Parquet value as the JSON answer gives it."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def _csv(response: httpx.Response) -> list[dict[str, str]]:
    assert response.content.startswith("\ufeff".encode()), "a BOM, for Excel"
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def _rows(client: httpx.Client, dataset: str, fmt: str, **params: Any) -> httpx.Response:
    answer = client.get(f"/api/datasets/{dataset}/rows", params={"format": fmt, **params})
    assert answer.status_code == 200, answer.text
    return answer


def _query(client: httpx.Client, sql: str, **body: Any) -> dict[str, Any]:
    answer = client.post("/api/query", json={"sql": sql, **body})
    assert answer.status_code == 200, (sql, answer.text)
    return answer.json()


# --- datasets ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ROLES)
def test_a_role_is_offered_exactly_its_datasets(service, zone: SharedZone, who: str) -> None:
    expected = set(EXPECTED[who].rows)
    published = {name for name, entry in zone.catalog()["datasets"].items() if entry.get("current")}
    with service.client(who) as client:
        listed = client.get("/api/datasets").json()["datasets"]
        assert set(listed) == expected & published
        for name in listed:
            entry = client.get(f"/api/datasets/{name}").json()
            masked = {column["name"] for column in entry["current"]["schema"] if column["masked"]}
            columns = {column["name"] for column in entry["current"]["schema"]}
            assert masked == (set(EXPECTED[who].masked.get(name, ())) | set(PERSONAL)) & columns, name


# --- rows and columns, by every route ------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ROLES)
def test_a_role_reads_exactly_its_rows_and_columns_by_every_route(service, zone: SharedZone,
                                                                  tables: dict[str, pa.Table],
                                                                  frames: dict[str, pd.DataFrame], who: str) -> None:
    """Per dataset: the count the query API gives, and the rows of the JSON, CSV and Parquet downloads, are the
    published rows the role should see, value for value; masked columns are empty in each."""
    sees = EXPECTED[who]
    with service.client(who) as client:
        for dataset in sorted(sees.rows):
            key = _key(zone, dataset)
            keep = sees.rows[dataset](frames[dataset]).fillna(False).astype(bool)
            want = tables[dataset].filter(pa.array(keep.to_numpy())).sort_by([(name, "ascending") for name in key])
            masked = set(sees.masked.get(dataset, ())) | (set(PERSONAL) & set(want.column_names))
            if who in ("street", "other_street"):
                assert want.num_rows < tables[dataset].num_rows, f"{dataset}: other streets' rows to hold back"

            count = _query(client, f"select count(*) as n from {dataset}")["rows"][0]["n"]
            assert count == want.num_rows, dataset

            parquet = pq.read_table(io.BytesIO(_rows(client, dataset, "parquet", limit=ALL_ROWS).content))
            got = parquet.sort_by([(name, "ascending") for name in key])
            assert got.column_names == want.column_names
            for column in want.column_names:
                if column in masked:
                    assert got.column(column).null_count == got.num_rows, (dataset, column)
                else:
                    assert got.column(column).to_pylist() == want.column(column).to_pylist(), (dataset, column)

            page = _rows(client, dataset, "json", limit=ALL_ROWS).json()
            assert page["has_more"] is False and page["columns"] == parquet.column_names
            assert page["rows"] == [{name: _plain(value) for name, value in row.items()}
                                    for row in parquet.to_pylist()], dataset

            rows = _csv(_rows(client, dataset, "csv", limit=ALL_ROWS))
            assert len(rows) == want.num_rows and (not rows or list(rows[0]) == page["columns"])
            assert [tuple(row[name] for name in key) for row in rows] == [
                tuple(str(row[name]) for name in key) for row in page["rows"]], dataset
            for column in masked:
                assert all(row[column] == "" for row in rows), (dataset, column)
            for column, kind in zip(parquet.column_names, parquet.schema.types, strict=True):
                if pa.types.is_string(kind):
                    assert [row[column] for row in rows] == [row[column] or "" for row in page["rows"]], column


# the environment bureau reads monitored restaurants, which carry no statistics figures in the test district: its
# mask is held to on the zone written by hand below
@pytest.mark.parametrize("who", [who for who in ROLES if "enterprise_profile" in EXPECTED[who].rows
                                 and who != "environment"])
def test_statistics_figures_are_empty_to_all_but_the_bureau_and_the_centre(service, frames: dict[str, pd.DataFrame],
                                                                           who: str) -> None:
    sees = EXPECTED[who]
    mine = sees.frame("enterprise_profile", frames["enterprise_profile"])
    assert mine[list(FIGURES)].notna().any().any(), "the rows it sees hold figures to withhold or show"
    counts = ", ".join(f"count({column}) as {column}, max({column}) as max_{column}" for column in FIGURES)
    with service.client(who) as client:
        answer = _query(client, f"select {counts} from enterprise_profile")["rows"][0]
        # the same withheld through a subquery, a CTE and an expression
        tricks = [_query(client, sql)["rows"][0]["n"] for sql in (
            "select count(*) as n from (select revenue_wan_cny as r from enterprise_profile) where r is not null",
            "with e as (select * from enterprise_profile) select count(employees) as n from e",
            "select count(*) as n from enterprise_profile where coalesce(tax_wan_cny, profit_wan_cny) > -1e9")]
    if "enterprise_profile" in sees.masked:
        assert all(answer[column] == 0 and answer[f"max_{column}"] is None for column in FIGURES)
        assert tricks == [0, 0, 0]
    else:
        assert all(answer[column] == mine[column].notna().sum() for column in FIGURES)
        assert tricks[1] == mine["employees"].notna().sum()


@pytest.mark.parametrize(("who", "unit", "domains"), [
    ("urban", "D01", {"garbage_sorting", "sanitation_vehicle", "personnel", "grid_supervision", "static_traffic",
                      "enforcement"}),
    ("environment", "D03", {"cooking_fume", "heavy_diesel", "road_dust"})])
def test_a_bureau_sees_its_own_kpis_and_its_domains_only(service, who: str, unit: str, domains: set[str]) -> None:
    with service.client(who) as client:
        units = {(row["unit_type"], row["unit_code"]) for dataset in ("hotline_kpi_daily", "hotline_kpi_monthly")
                 for row in _query(client, f"select distinct unit_type, unit_code from {dataset}")["rows"]}
        seen = {row["domain_code"] for dataset in ("iot_domain_daily", "city_events", "problem_ledger")
                for row in _query(client, f"select distinct domain_code from {dataset}")["rows"]}
        others = _query(client, "select count(*) as n from hotline_requests "
                                f"where domain_code not in {tuple(sorted(domains))} and final_unit_code <> '{unit}'")
    assert units == {("department", unit)}
    assert seen and seen <= domains
    assert others["rows"][0]["n"] == 0


# --- a street office and the other streets -----------------------------------------------------------------------

TRICKS = [
    "select street_code from hotline_requests where street_code = '{other}'",
    "select street_code from hotline_requests where street_code = '{other}' or 1=1",
    "select street_code from hotline_requests where street_code <> '{mine}'",
    "select street_code from hotline_requests where true or street_code in ('{other}')",
    "select street_code from (select * from hotline_requests) as t",
    "select street_code from hotline_requests union all select street_code from grid_case_lifecycle "
    "union all select street_code from city_events union all select street_code from enterprise_profile",
    "select street_code from hotline_requests where street_code in (select street_code from responsibility_chain)",
    "with hr as (select * from hotline_requests) select street_code from hr",
    "with seasonal_patterns as (select * from hotline_requests) select street_code from seasonal_patterns",
    "with recursive hotline_requests as (select '{other}' as street_code where false) "
    "select street_code from city_events",
    'select street_code from "hotline_requests"',
    "select street_code from HOTLINE_REQUESTS",
    'select street_code from "Grid_Case_Lifecycle"',
    "select street_code from hotline_requests as seasonal_patterns",
    "select coalesce(h.street_code, c.street_code) as street_code "
    "from hotline_requests h full outer join city_events c on h.street_code = c.street_code",
    "select street_code from hotline_requests using sample 100 percent (bernoulli)",
    "select unit_code as street_code from hotline_kpi_daily union select unit_code from hotline_kpi_monthly",
    "select street_code from iot_domain_daily where street_code is not null /* or street_code = '{other}' */",
    "select street_code from problem_ledger -- where street_code = '{other}'\n",
    "select street_code from hotspots_monthly where street_code is not null "
    "qualify count(*) over (partition by street_code) > 0",
]


@pytest.mark.parametrize("who", ["street", "other_street"])
def test_another_streets_rows_are_out_of_reach(service, frames: dict[str, pd.DataFrame], who: str) -> None:
    mine, other = (STREET, OTHER_STREET) if who == "street" else (OTHER_STREET, STREET)
    assert (frames["hotline_requests"]["street_code"] == other).any(), "the other street has rows to reach for"
    seen: list[str] = []
    with service.client(who) as client:
        for trick in TRICKS:
            seen += [row["street_code"] for row in _query(client, trick.format(mine=mine, other=other))["rows"]]
            answer = client.post("/api/query", json={"sql": trick.format(mine=mine, other=other), "format": "csv"})
            assert answer.status_code == 200
            seen += [row["street_code"] for row in _csv(answer)]
    assert set(seen) == {mine}


def test_a_street_office_sees_its_street_in_the_console_page_too(service) -> None:
    with httpx.Client(base_url=service.url, timeout=60) as browser:
        assert browser.post("/login", data={"token": service.tokens["street"]}).status_code in (200, 303)
        page = browser.post("/console", data={"sql": "select distinct street_code from city_events"})
        download = browser.post("/console/download",
                                data={"sql": "select street_code from city_events", "format": "csv"})
    assert page.status_code == 200 and f"<td>{STREET}</td>" in page.text and OTHER_STREET not in page.text
    assert {row["street_code"] for row in _csv(download)} == {STREET}


def test_an_attribute_with_a_quote_widens_nothing(service) -> None:
    """A street code is written into the condition as a literal: a token whose street code carries SQL sees no
    street at all."""
    store = TokenStore(service.home / "portal" / "tokens.json")
    issued = store.issue("test-injected", "street_office", {"street_code": "x' or '1'='1"})
    with httpx.Client(base_url=service.url, headers={"Authorization": f"Bearer {issued.token}"}) as client:
        answer = _query(client, "select count(*) as n from hotline_requests")
    assert answer["rows"][0]["n"] == 0


# --- pages of rows, the row cap, the formats ---------------------------------------------------------------------


@pytest.mark.parametrize(("who", "size"), [("street", 40), ("centre", 700)])
def test_a_dataset_reads_page_by_page(service, who: str, size: int) -> None:
    with service.client(who) as client:
        whole = _rows(client, "responsibility_chain", "json", limit=ALL_ROWS).json()["rows"]
        assert len(whole) > 2 * size
        pages, offset = [], 0
        while True:
            page = _rows(client, "responsibility_chain", "json", limit=size, offset=offset).json()
            assert (page["offset"], page["limit"]) == (offset, size)
            pages += page["rows"]
            offset += size
            if not page["has_more"]:
                break
            assert len(page["rows"]) == size
        csv_page = _rows(client, "responsibility_chain", "csv", limit=size, offset=size)
        parquet_page = _rows(client, "responsibility_chain", "parquet", limit=size, offset=size)
    assert pages == whole
    assert [row["chain_party_key"] for row in _csv(csv_page)] == [row["chain_party_key"]
                                                                  for row in whole[size:2 * size]]
    assert pq.read_table(io.BytesIO(parquet_page.content)).column("chain_party_key").to_pylist() == [
        row["chain_party_key"] for row in whole[size:2 * size]]
    assert csv_page.headers["X-Has-More"] == parquet_page.headers["X-Has-More"] == "true"
    assert csv_page.headers["X-Rows"] == str(size)


def test_a_query_pages_through_its_answer(service) -> None:
    sql = "select request_id from hotline_requests order by request_id"
    with service.client("centre") as client:
        whole = [row["request_id"] for row in _query(client, sql)["rows"]]
        first = _query(client, sql, limit=100)
        second = _query(client, sql, limit=100, offset=100)
        rest = _query(client, sql, limit=100, offset=200)
    assert len(whole) > 200
    assert first["has_more"] and second["has_more"] and not rest["has_more"]
    assert [row["request_id"] for row in first["rows"] + second["rows"] + rest["rows"]] == whole


@pytest.mark.parametrize(("who", "sql"), [
    ("centre", "select a.chain_party_key from responsibility_chain a, responsibility_chain b"),
    ("street", "select a.request_id from hotline_requests a, hotline_requests b, hotline_requests c, "
               "hotline_requests d")])
def test_a_query_gives_at_most_the_row_cap(service, who: str, sql: str) -> None:
    with service.client(who) as client:
        page = _query(client, sql, limit=50_000)
        parquet = client.post("/api/query", json={"sql": sql, "limit": 50_000, "format": "parquet"})
    assert page["limit"] == 10_000 and len(page["rows"]) == 10_000 and page["has_more"] is True
    assert pq.read_table(io.BytesIO(parquet.content)).num_rows == 10_000
    assert parquet.headers["X-Has-More"] == "true"


def test_a_download_gives_at_most_its_cap(service, tables: dict[str, pa.Table]) -> None:
    with service.client("centre") as client:
        page = _rows(client, "responsibility_chain", "json", limit=10**9).json()
    assert page["limit"] == 1_000_000
    assert len(page["rows"]) == tables["responsibility_chain"].num_rows and page["has_more"] is False


def test_a_query_answers_in_each_format_alike(service) -> None:
    """Durations, times, lists and structs included: each format carries them (as text where it has no type)."""
    sql = ("select request_id, received_at, resolved_at - received_at as took, "
           "received_at::timestamp::time as at_time, [street_code, community_code] as codes, "
           "{'street': street_code} as place, 1.5::decimal(9, 2) as d "
           "from hotline_requests where resolved_at is not null order by request_id")
    with service.client("street") as client:
        page = _query(client, sql)
        text = client.post("/api/query", json={"sql": sql, "format": "csv"})
        parquet = client.post("/api/query", json={"sql": sql, "format": "parquet"})
    assert text.status_code == parquet.status_code == 200
    table = pq.read_table(io.BytesIO(parquet.content))
    assert page["rows"] and page["rows"] == [{name: _plain(value) for name, value in row.items()}
                                             for row in table.to_pylist()]
    rows = _csv(text)
    assert [row["request_id"] for row in rows] == [row["request_id"] for row in page["rows"]]
    assert [row["took"] for row in rows] == [row["took"] for row in page["rows"]]
    assert all(isinstance(row["took"], str) and row["took"] for row in page["rows"])


# --- personal data, and figures, on a zone written by hand ------------------------------------------------------


def _publish(zone: SharedZone, dataset: str, key: str, table: pa.Table) -> dict[str, Any]:
    folder = zone.root / dataset / "v=v1"
    folder.mkdir(parents=True)
    pq.write_table(table, folder / "part-00000.parquet")
    return {"key": [key], "current": {
        "version": "v1", "path": f"{dataset}/v=v1", "files": ["part-00000.parquet"], "rows": table.num_rows,
        "schema": [{"name": name, "type": str(kind)} for name, kind in zip(table.column_names, table.schema.types,
                                                                            strict=True)]}}


@pytest.fixture(scope="module")
def leaky_service(tmp_path_factory: pytest.TempPathFactory):
    """A shared zone written by hand whose datasets let personal data slip through (the gates keep it out; the
    portal must keep it out of every answer should it slip), with a monitored restaurant's statistics figures;
    served with a token per role."""
    settings = Settings(home=tmp_path_factory.mktemp("leaky-home"))
    zone = SharedZone.default(settings)
    events = pa.table({"event_id": ["e1", "e2", "e3"], "street_code": [STREET, STREET, OTHER_STREET],
                       "domain_code": ["enforcement", "cooking_fume", "enforcement"],
                       "uscc": ["91110101MA00000001", None, "91110101MA00000002"],
                       "complainant_name": ["张三", "李四", "王五"], "phone": ["13800000000", None, "13900000000"],
                       "address_detail": ["东华门大街1号", "东华门大街2号", "东四北大街3号"]})
    enterprises = pa.table({"uscc": ["91110101MA00000001", "91110101MA00000002"],
                            "street_code": [STREET, OTHER_STREET], "is_monitored_restaurant": [True, True],
                            "revenue_wan_cny": pa.array([Decimal("1234.5000"), Decimal("88.0000")],
                                                        pa.decimal128(20, 4)),
                            "employees": [120, 9], "name": ["赵六", "钱七"], "mobile": ["13700000000", None]})
    zone.write_catalog({"datasets": {"city_events": _publish(zone, "city_events", "event_id", events),
                                     "enterprise_profile": _publish(zone, "enterprise_profile", "uscc", enterprises)}})
    tokens = issue_tokens(settings)
    with serving(settings) as url:
        yield url, tokens, settings.home


@pytest.mark.parametrize("who", ROLES)
def test_no_one_sees_personal_data(leaky_service, who: str) -> None:
    url, tokens, home = leaky_service
    personal = {"city_events": ["complainant_name", "phone", "address_detail"],
                "enterprise_profile": ["name", "mobile"]}
    read = [dataset for dataset in personal if dataset in EXPECTED[who].rows]
    assert read
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {tokens[who]}"}, timeout=60) as client:
        for dataset in read:
            columns = personal[dataset]
            page = _query(client, f"select {', '.join(columns)} from {dataset}")
            counted = _query(client, "select " + ", ".join(f"count({name}) as {name}" for name in columns)
                             + f" from {dataset} where {columns[0]} like '%' or {columns[1]} like '13%'")
            text = _csv(_rows(client, dataset, "csv"))
            parquet = pq.read_table(io.BytesIO(_rows(client, dataset, "parquet").content))
            schema = client.get(f"/api/datasets/{dataset}").json()["current"]["schema"]
            assert page["rows"], f"{who} reads some of {dataset}"
            assert all(row[name] is None for row in page["rows"] for name in columns)
            assert counted["rows"][0] == {name: 0 for name in columns}
            assert text and all(row[name] == "" for row in text for name in columns)
            assert all(parquet.column(name).null_count == parquet.num_rows for name in columns)
            assert {column["name"] for column in schema if column["masked"]} == set(columns) | (
                set(FIGURES) & set(EXPECTED[who].masked.get(dataset, ())) & set(parquet.column_names))
    log = (home / "portal" / "query_log.jsonl").read_text(encoding="utf-8")
    assert "13800000000" not in log and "东华门大街" not in log and "赵六" not in log  # the SQL is logged, no answer


@pytest.mark.parametrize("who", [who for who in ROLES if "enterprise_profile" in EXPECTED[who].rows])
def test_a_restaurants_figures_only_to_the_bureau_and_the_centre(leaky_service, who: str) -> None:
    url, tokens, _ = leaky_service
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {tokens[who]}"}, timeout=60) as client:
        rows = _query(client, "select uscc, revenue_wan_cny, employees from enterprise_profile order by uscc")["rows"]
        parquet = pq.read_table(io.BytesIO(_rows(client, "enterprise_profile", "parquet").content))
    assert rows
    if "enterprise_profile" in EXPECTED[who].masked:
        assert all(row["revenue_wan_cny"] is None and row["employees"] is None for row in rows)
        assert parquet.column("revenue_wan_cny").null_count == parquet.num_rows
    else:
        assert [(row["revenue_wan_cny"], row["employees"]) for row in rows] == [(1234.5, 120), (88.0, 9)]
        assert parquet.column("revenue_wan_cny").to_pylist() == [Decimal("1234.5000"), Decimal("88.0000")]


def test_the_query_log_records_what_was_read(service) -> None:
    tail = LogTail(service.home)
    with service.client("other_street") as client:
        _query(client, "select count(*) as n from grid_case_lifecycle")
        _rows(client, "hotline_requests", "csv", limit=5)
    query, download = tail.new()
    assert (query["user"], query["role"], query["action"], query["status"]) == (
        "test-other_street", "street_office", "query", "ok")
    assert query["sql"] == "select count(*) as n from grid_case_lifecycle" and query["rows"] == 1
    assert set(query["datasets"]) == {"grid_case_lifecycle"}
    assert (download["action"], download["status"], download["rows"]) == ("download", "ok", 5)


def test_an_oversized_request_is_refused_before_it_is_read(service) -> None:
    with service.client("centre") as client:
        answer = client.post("/api/query", content=b'{"sql": "' + b" " * (2 << 20) + b'select 1"}',
                             headers={"content-type": "application/json"})
    assert answer.status_code == 413
    assert answer.json()["error"] == "too_large" and "上限" in answer.json()["reason"]
