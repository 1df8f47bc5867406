"""What a caller's SQL may be: one read-only query over the role's datasets. Every other route to data - another
dataset, a file (one of the shared zone's own Parquet files too), a table function, ATTACH, a second statement, a
comment trick, COPY, PRAGMA, SET, a write, DESCRIBE, a schema-qualified name, an over-long text - is refused for
every role with a clear reason and an error code, and logged."""

from __future__ import annotations

from pathlib import Path

import pytest

from expectations import DATASETS
from gridlake.shared import SharedZone
from portal.sql import QueryRefused, check_query
from tests.portal.conftest import ROLES
from tests.portal.support import EXPECTED, LogTail, is_chinese

# (what, SQL, the error code); {mine} a dataset the role reads, {file} one of its published Parquet files,
# {shared} the shared zone's folder, {home} the service's home
ATTACKS = [
    ("file path as a table", "select * from '/etc/passwd'", "dataset_not_allowed"),
    ("quoted file path", 'select * from "/etc/passwd"', "dataset_not_allowed"),
    ("shared file as a table", "select * from '{file}'", "dataset_not_allowed"),
    ("read_parquet of a shared file", "select * from read_parquet('{file}')", "forbidden_function"),
    ("read_parquet in a list", "select count(*) from read_parquet(['{file}'])", "forbidden_function"),
    ("parquet_scan", "select * from parquet_scan('{file}')", "forbidden_function"),
    ("parquet_metadata", "select * from parquet_metadata('{file}')", "forbidden_function"),
    ("read_csv", "select * from read_csv('/etc/passwd')", "forbidden_function"),
    ("read_text", "select content from read_text('/etc/passwd')", "forbidden_function"),
    ("quoted read_csv", "select * from \"read_csv\"('/etc/passwd')", "forbidden_function"),
    ("glob", "select * from glob('{shared}/**/*.parquet')", "forbidden_function"),
    ("file reader joined", "select * from {mine}, read_parquet('{file}')", "forbidden_function"),
    ("file reader in a subquery", "select * from {mine} where exists (select 1 from read_csv('/etc/passwd'))",
     "forbidden_function"),
    ("query()", "select * from query('select * from {mine}')", "forbidden_function"),
    ("settings", "select * from duckdb_settings()", "forbidden_function"),
    ("catalog", "select * from duckdb_tables()", "forbidden_function"),
    ("getenv", "select getenv('HOME') as home", "forbidden_function"),
    ("current_setting", "select current_setting('enable_external_access') as x", "forbidden_function"),
    ("attach", "attach '{home}/attached.duckdb' as other", "not_a_query"),
    ("attach after a query", "select 1; attach '{home}/attached.duckdb' as other", "several_statements"),
    ("second statement", "select * from {mine}; select 2", "several_statements"),
    ("empty statement first", ";select * from {mine}", "several_statements"),
    ("drop after a query", "select * from {mine}; drop table {mine}", "several_statements"),
    ("comment then statement", "select 1 /* a comment */; select 2", "several_statements"),
    ("semicolon in a block comment", "select 1 /* ; */ ; pragma version", "several_statements"),
    ("line comment ended", "select 1 -- just a comment\n; copy {mine} to '{home}/copied.csv'", "several_statements"),
    ("statement hidden after a comment", "/* select 1; */ copy {mine} to '{home}/copied.csv'", "not_a_query"),
    ("copy", "copy {mine} to '{home}/copied.csv'", "not_a_query"),
    ("copy a query", "copy (select * from {mine}) to '{home}/copied.csv'", "not_a_query"),
    ("pragma", "pragma version", "not_a_query"),
    ("pragma database_list", "pragma database_list", "not_a_query"),
    ("pragma function", "select * from pragma_table_info('{mine}')", "forbidden_function"),
    ("set", "set enable_external_access = true", "not_a_query"),
    ("reset", "reset lock_configuration", "not_a_query"),
    ("insert", "insert into {mine} select * from {mine}", "not_a_query"),
    ("create", "create table stolen as select * from {mine}", "not_a_query"),
    ("create view", "create view stolen as select * from {mine}", "not_a_query"),
    ("describe", "describe {mine}", "not_a_query"),
    ("summarize", "summarize {mine}", "not_a_query"),
    ("show", "show tables", "not_a_query"),
    ("install", "install httpfs", "not_a_query"),
    ("load", "load httpfs", "not_a_query"),
    ("values", "values (1)", "not_a_query"),
    ("schema-qualified", "select * from main.{mine}", "qualified_name"),
    ("catalog-qualified", "select * from memory.main.{mine}", "qualified_name"),
    ("quoted qualified", 'select * from "main"."{mine}"', "qualified_name"),
    ("information_schema", "select * from information_schema.tables", "qualified_name"),
    ("another table function", "select * from repeat_row(1, num_rows => 3)", "table_function"),
    ("the engine's source table", "select * from source", "dataset_not_allowed"),
    ("a name outside its CTE's scope", "select * from (with x as (select 1 as a) select * from x) as t, x",
     "dataset_not_allowed"),
    ("unparsable", "select * from {mine} where", "unparsable"),
    ("empty", "   ", "empty"),
]


@pytest.fixture(scope="module")
def places(service) -> dict[str, Path]:
    zone = SharedZone.default(service.settings)
    return {dataset: zone.files(dataset)[0].resolve() for dataset in DATASETS}


def _refused(service, who: str, sql: str, code: str, *, action: str = "query") -> dict:
    """Post ``sql`` as ``who``: it must be refused with ``code`` and a Chinese reason, and logged so."""
    tail = LogTail(service.home)
    with service.client(who) as client:
        answer = client.post("/api/query", json={"sql": sql})
    assert answer.status_code == 400, (sql, answer.text)
    body = answer.json()
    assert body["error"] == code, (sql, body)
    assert is_chinese(body["reason"]), body
    (line,) = tail.new()
    role, _ = ROLES[who]
    assert (line["user"], line["role"], line["action"], line["status"], line["reason"]) == (
        f"test-{who}", role, action, "refused", body["reason"])
    return line


@pytest.mark.parametrize("who", ROLES)
@pytest.mark.parametrize(("what", "sql", "code"), ATTACKS, ids=[what for what, _, _ in ATTACKS])
def test_a_route_around_the_policy_is_refused_and_logged(service, places: dict[str, Path], who: str, what: str,
                                                         sql: str, code: str) -> None:
    mine = sorted(EXPECTED[who].rows)[0]
    text = sql.format(mine=mine, file=places[mine], shared=places[mine].parents[2], home=service.home)
    line = _refused(service, who, text, code)
    assert line["sql"] == text
    assert not (service.home / "copied.csv").exists() and not (service.home / "attached.duckdb").exists()


@pytest.mark.parametrize("who", ROLES)
def test_an_over_long_query_is_refused_and_logged_cut(service, who: str) -> None:
    sql = "select 1" + " " * 10_000 + "-- padding"
    line = _refused(service, who, sql, "too_long")
    assert line["sql"].startswith("select 1") and len(line["sql"]) < 10_100


@pytest.mark.parametrize(("who", "dataset"), [(who, dataset) for who in ROLES for dataset in sorted(DATASETS)
                                              if dataset not in EXPECTED[who].rows])
def test_another_dataset_is_out_of_reach_by_every_route(service, who: str, dataset: str) -> None:
    mine = sorted(EXPECTED[who].rows)[0]
    for sql in (f"select * from {dataset}", f'select * from "{dataset}"', f"select * from {dataset.upper()}",
                f"select count(*) from {mine} where exists (select 1 from {dataset})",
                f"select 1 as n union all select count(*) from {dataset}",
                f"with {mine} as (select * from {dataset}) select * from {mine}",
                f"select * from (with {dataset} as (select 1 as a) select * from {dataset}) as t, {dataset}"):
        _refused(service, who, sql, "dataset_not_allowed")
    tail = LogTail(service.home)
    with service.client(who) as client:
        answers = [client.get(f"/api/datasets/{dataset}/rows", params={"format": fmt})
                   for fmt in ("json", "csv", "parquet")] + [client.get(f"/api/datasets/{dataset}")]
    assert [answer.status_code for answer in answers] == [403] * 4
    assert all(answer.json()["error"] == "forbidden" and is_chinese(answer.json()["reason"]) for answer in answers)
    lines = tail.new()
    assert [(line["user"], line["action"], line["status"]) for line in lines] == [
        (f"test-{who}", "download", "refused")] * 3 + [(f"test-{who}", "catalog", "refused")]


@pytest.mark.parametrize("who", ROLES)
def test_reports_and_alerts_only_for_the_roles_given_them(service, who: str) -> None:
    role, _ = ROLES[who]
    tail = LogTail(service.home)
    with service.client(who) as client:
        reports, alerts = client.get("/api/reports"), client.get("/api/alerts")
    may = {"reports": role in ("centre", "statistics_bureau"), "alerts": role == "centre"}
    assert reports.status_code == (200 if may["reports"] else 403)
    assert alerts.status_code == (200 if may["alerts"] else 403)
    if may["reports"]:
        assert reports.json()["reports"], "the daily bulletin is there to list"
    refused = [what for what, allowed in may.items() if not allowed]
    assert [(line["action"], line["status"]) for line in tail.new()] == [(what, "refused") for what in refused]


def test_a_malformed_request_is_answered_in_the_apis_shape(service) -> None:
    with service.client("centre") as client:
        answers = [client.post("/api/query", json={}), client.post("/api/query", json={"sql": "select 1", "limit": 0}),
                   client.post("/api/query", json={"sql": "select 1", "format": "xlsx"}),
                   client.post("/api/query", content=b"select 1", headers={"Content-Type": "application/json"}),
                   client.get("/api/datasets/hotline_requests/rows", params={"limit": "many"}),
                   client.get("/api/datasets/hotline_requests/rows", params={"format": "xlsx"})]
    assert [answer.status_code for answer in answers] == [422, 422, 422, 422, 422, 400]
    assert all(is_chinese(answer.json()["reason"]) for answer in answers)
    assert [answer.json()["error"] for answer in answers] == ["invalid_request"] * 5 + ["bad_format"]


def test_a_value_no_format_can_carry_is_a_clear_refusal(service) -> None:
    tail = LogTail(service.home)
    with service.client("centre") as client:
        answer = client.post("/api/query", json={"sql": "select 'infinity'::date as d"})
    assert answer.status_code == 400 and answer.json()["error"] == "unrenderable"
    assert is_chinese(answer.json()["reason"])
    assert [line["status"] for line in tail.new()] == ["ok", "error"]


# --- the guard itself, on the parsed SQL -------------------------------------------------------------------------


@pytest.mark.parametrize(("sql", "read"), [
    ("with x as (select 1 as a) select * from x union all select * from x", set()),
    ("with b as (select 1 as x), a as (select * from b) select * from a", set()),
    ("with recursive r as (select 1 as n union all select n + 1 from r where n < 3) select * from r", set()),
    ("select 1 as a union all (with seasonal_patterns as (select 2 as a) select * from seasonal_patterns)", set()),
    ("with x as (select 1) select * from (select * from (select * from x) as y) as z", set()),
    ("select * from hotline_requests where exists (with s as (select 1) select * from s)", {"hotline_requests"}),
    ("WITH Seasonal_Patterns AS (select 1) select * from seasonal_patterns", set()),
    ("select count(*) from HOTLINE_REQUESTS", {"hotline_requests"}),
    ('select count(*) from "Hotline_Requests"', {"hotline_requests"}),
    ("select 1 -- ; drop table hotline_requests", set()),
    ("select 1 /* /* nested */ ; select * from seasonal_patterns */", set()),
])
def test_the_guard_reads_names_as_duckdb_does(sql: str, read: set[str]) -> None:
    assert check_query(sql, {"hotline_requests"}, max_chars=1000)[1] == read


@pytest.mark.parametrize("sql", [
    "with a as (select * from seasonal_patterns), seasonal_patterns as (select 1) select * from a",
    "select * from (with seasonal_patterns as (select 1) select * from seasonal_patterns) as t, seasonal_patterns",
    'with seasonal_patterns as (select 1) select * from "seasonal_patterns"',
    "with x as (select * from x) select * from x",
])
def test_a_name_out_of_its_ctes_scope_is_a_dataset(sql: str) -> None:
    with pytest.raises(QueryRefused) as refused:
        check_query(sql, {"hotline_requests"}, max_chars=1000)
    assert refused.value.code == "dataset_not_allowed"
