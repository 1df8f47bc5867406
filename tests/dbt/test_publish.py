"""The quality gates and the publication of the shared district datasets (publication/, gridlake/shared.py), on a
copy of the test district's built warehouse.

A clean build publishes every dataset, readably and catalogued, and a re-run changes nothing. Marts broken on
purpose (duplicate keys, a rate above 1, a phone number in a text column, a day missing) are not published: the
previous versions stay current and readable, the reasons are in the catalog and the alerts (and reach a webhook),
and the datasets that depend on them are held back; rebuilding them publishes again. Readers during publications
killed half-way see whole versions only. ``gridlake verify`` finds a changed byte and a changed ledger entry. Old
versions are kept for a while, readable as of a date, then retired.

Every test runs twice: with the store on disk (``$GRIDLAKE_HOME``) and on an S3-compatible server on loopback
(moto's), where the publisher reads the warehouse a build left in the store and writes the shared zone there.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import duckdb
import pytest

from expectations import DATASETS
from gridlake.builds import FILES as BUILD_FILES
from gridlake.builds import WarehouseBuilds
from gridlake.settings import PublishRules, Settings
from gridlake.shared import SharedZone
from gridlake.storage import Store
from gridlake.transform import paths, run_dbt
from publication import publish
from tests.support import bare_server
from tests.warehouse import copy_home, store_home

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["disk", "s3"])
def home(request: pytest.FixtureRequest, built, settings: Settings, tmp_path: Path) -> Settings:
    if request.param == "disk":
        return copy_home(settings, tmp_path / "home")
    return store_home(settings, tmp_path / "home", request.getfixturevalue("object_store").root("publish"))


@contextmanager
def _warehouse(settings: Settings, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """The warehouse a build left in the store, to change as a rebuild would (committed as a new build after, on
    S3: fetched into a folder of its own, as a build on another machine would)."""
    store = Store.default(settings)
    if store.local:
        with duckdb.connect(str(paths(settings).warehouse), read_only=read_only) as connection:
            yield connection
        return
    builds = WarehouseBuilds(store.child("warehouse"))
    with tempfile.TemporaryDirectory(dir=settings.home) as folder:
        files = {name: Path(folder, name) for name in BUILD_FILES}
        builds.fetch(files)
        with duckdb.connect(str(files["gridlake.duckdb"]), read_only=read_only) as connection:
            yield connection
        if not read_only:
            builds.commit(files)


def _count(settings: Settings, dataset: str) -> int:
    with _warehouse(settings, read_only=True) as connection:
        return connection.execute(f"select count(*) from marts.{dataset}").fetchone()[0]


def _env(settings: Settings) -> dict[str, str]:
    """A publisher's environment in a process of its own: the same home and store (the store's connection is in
    this process's environment already)."""
    env = dict(os.environ, GRIDLAKE_HOME=str(settings.home), PYTHONPATH=str(ROOT))
    if settings.store:
        env["GRIDLAKE_STORE"] = settings.store
    return env


def test_a_clean_build_publishes_every_dataset_and_a_rerun_changes_nothing(home: Settings) -> None:
    report = publish(home)
    assert {name: outcome.status for name, outcome in report.outcomes.items()} == {
        name: "published" for name in DATASETS}, {n: o.reasons for n, o in report.outcomes.items()}
    zone = SharedZone.default(home)
    catalog = json.loads(zone.store.read_text("catalog.json"))
    assert set(catalog["datasets"]) == set(DATASETS)
    for name, entry in catalog["datasets"].items():
        current = entry["current"]
        table = zone.read(name)
        assert table.num_rows == current["rows"] == _count(home, name), name
        assert [column["name"] for column in current["schema"]] == table.column_names
        assert all(column["description"] for column in current["schema"]), name  # the marts' YAML describes all
        assert current["checks"]["success"] and current["checks"]["statistics"]
        assert Store.default(home).exists(current["checks"]["data_docs"])
        assert current["raw_batches"], name
        assert all(summary["batches"] >= 1 for summary in current["raw_batches"].values())
        assert entry["last_attempt"]["status"] == "published"
    assert "hotline/requests" in catalog["datasets"]["hotline_requests"]["current"]["raw_batches"]
    ledger = zone.ledger()
    assert [entry["dataset"] for entry in ledger] == list(DATASETS)
    assert zone.verify() == []

    again = publish(home)
    assert {outcome.status for outcome in again.outcomes.values()} == {"unchanged"}
    assert len(zone.ledger()) == len(ledger)
    assert {name: entry["current"]["version"] for name, entry in zone.catalog()["datasets"].items()} == {
        name: entry["current"]["version"] for name, entry in catalog["datasets"].items()}


# Each breakage, the dataset it breaks and the check that must stop it.
BREAKAGES = {
    "duplicate_keys": ("hotline_requests",
                       "insert into marts.hotline_requests select * from marts.hotline_requests "
                       "order by request_id limit 3"),
    "rate_above_one": ("hotline_kpi_monthly",
                       "update marts.hotline_kpi_monthly set response_rate = 1.25 "
                       "where unit_month_key = (select min(unit_month_key) from marts.hotline_kpi_monthly "
                       "where response_rate is not null)"),
    "phone_in_text": ("city_events",
                      "update marts.city_events set matter_name = matter_name || ' 联系人电话13912345678' "
                      "where event_id = (select min(event_id) from marts.city_events where matter_name is not null)"),
    "day_missing": ("hotline_kpi_daily",
                    "delete from marts.hotline_kpi_daily where kpi_date = "
                    "(select min(kpi_date) + 2 from marts.hotline_kpi_daily)"),
}


class _Webhook(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def webhook() -> Iterator[str]:
    _Webhook.received = []
    with bare_server(_Webhook) as url:
        yield url


def test_broken_marts_are_held_back_with_their_reasons_and_publish_once_rebuilt(home: Settings, webhook: str) -> None:
    with _warehouse(home) as connection:  # the version before: as a build a minute earlier would have made it
        for dataset in ("hotline_requests", "hotline_kpi_daily", "hotline_kpi_monthly"):
            connection.execute(f"update marts.{dataset} set data_as_of = data_as_of - interval 1 minute")
    first = publish(home)
    assert first.ok
    zone = SharedZone.default(home)
    before = {name: entry["current"] for name, entry in zone.catalog()["datasets"].items()}
    with _warehouse(home) as connection:
        for _, sql in BREAKAGES.values():
            connection.execute(sql)
    broken = {dataset for dataset, _ in BREAKAGES.values()}
    alerting = home.model_copy(update={"publish": PublishRules(alert_webhook=webhook)})

    report = publish(alerting, now=first.started_at + timedelta(hours=1))
    statuses = {name: outcome.status for name, outcome in report.outcomes.items()}
    assert {name for name, status in statuses.items() if status == "failed"} == broken, statuses
    dependants = {name for name, spec in DATASETS.items() if set(spec.depends_on) & broken} - broken
    assert dependants, "no dataset depends on the broken ones: nothing to hold back"
    assert {name for name, status in statuses.items() if status == "held_back"} == dependants, statuses
    catalog = zone.catalog()["datasets"]
    alerts = {alert["dataset"]: alert for alert in zone.alerts()}
    expected_reason = {"duplicate_keys": "重复", "rate_above_one": "response_rate", "phone_in_text": "手机",
                       "day_missing": "缺"}
    for kind, (dataset, _) in BREAKAGES.items():
        entry = catalog[dataset]
        assert entry["current"]["version"] == before[dataset]["version"]  # the last good version stays current
        assert zone.read(dataset).num_rows == before[dataset]["rows"]
        attempt = entry["last_attempt"]
        assert attempt["status"] == "failed" and attempt["reasons"], dataset
        assert any(expected_reason[kind] in reason for reason in attempt["reasons"]), (kind, attempt["reasons"])
        assert alerts[dataset]["status"] == "failed" and alerts[dataset]["reasons"] == attempt["reasons"]
        assert Store.default(home).exists(attempt["data_docs"])
    for dataset in dependants:
        assert catalog[dataset]["current"]["version"] == before[dataset]["version"]
        assert catalog[dataset]["last_attempt"]["status"] == "held_back"
        assert alerts[dataset]["status"] == "held_back"
    posted = {alert["dataset"] for body in _Webhook.received for alert in body["alerts"]}
    assert posted == broken | dependants
    phone_check = json.dumps(catalog["city_events"]["last_attempt"], ensure_ascii=False)
    assert "13912345678" not in phone_check  # the reason names the problem, never the number

    run_dbt(["build", "--select", " ".join(sorted(broken))], settings=home)
    fixed = publish(home, now=first.started_at + timedelta(hours=2))
    statuses = {name: outcome.status for name, outcome in fixed.outcomes.items()}
    assert fixed.ok, statuses
    assert {name for name in ("hotline_requests", "hotline_kpi_daily", "hotline_kpi_monthly")
            if statuses[name] != "published"} == set(), statuses
    assert statuses["city_events"] == "unchanged"  # rebuilt as it was last published
    assert zone.verify() == []


def _reader(zone: SharedZone, stop: threading.Event, seen: list[tuple[str, str, int]], errors: list[str]) -> None:
    """Read every dataset's current version again and again; a read must be whole: the catalog's rows, every
    file there with the ledger's sha256 count."""
    while not stop.is_set():
        for name in DATASETS:
            version = zone.version_entry(name)
            if version is None:
                continue
            try:
                table = zone.read(version)
                rows = table.num_rows if table is not None else -1
            except Exception as err:  # noqa: BLE001 (any failure to read is what this test looks for)
                errors.append(f"{name} {version['version']}: {err!r}")
                continue
            if rows != version["rows"]:
                errors.append(f"{name} {version['version']}: read {rows} rows, the catalog says {version['rows']}")
            seen.append((name, version["version"], rows))


def test_reads_during_killed_publications_see_whole_versions(home: Settings) -> None:
    assert publish(home).ok
    zone = SharedZone.default(home)
    first = {name: entry["current"]["version"] for name, entry in zone.catalog()["datasets"].items()}
    with _warehouse(home) as connection:  # new content that passes its checks
        connection.execute("update marts.hotline_requests set data_as_of = data_as_of + interval 1 minute")
    env = _env(home)
    stop, seen, errors = threading.Event(), [], []
    reader = threading.Thread(target=_reader, args=(zone, stop, seen, errors), daemon=True)
    reader.start()
    try:
        finished, delay, halfway = False, 0.5, 0
        while not finished:
            process = subprocess.Popen([sys.executable, "-m", "gridlake", "publish"], env=env, cwd=ROOT,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                process.wait(timeout=delay)
                finished = True
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGKILL)
                process.wait()
                halfway += bool(zone.staging_folders())  # killed with a version half written
                delay *= 1.6
        time.sleep(0.5)
    finally:
        stop.set()
        reader.join(timeout=30)
    assert errors == []
    assert seen and halfway >= 1
    after = zone.catalog()["datasets"]["hotline_requests"]["current"]["version"]
    assert after != first["hotline_requests"]
    assert {version for name, version, _ in seen if name == "hotline_requests"} <= {first["hotline_requests"], after}
    assert not zone.staging_folders() and zone.orphans() == []
    assert zone.verify() == []


def test_verify_finds_a_changed_byte_and_a_changed_ledger_entry(home: Settings) -> None:
    assert publish(home).ok
    zone = SharedZone.default(home)
    env = _env(home)
    verify = [sys.executable, "-m", "gridlake", "verify"]
    assert subprocess.run(verify, env=env, cwd=ROOT, capture_output=True).returncode == 0

    version = zone.version_entry("enterprise_profile")
    path = f"{version['path']}/{version['files'][0]}"
    original = zone.store.read_bytes(path)
    changed = bytearray(original)
    changed[len(changed) // 2] ^= 0x01
    zone.store.write_bytes(path, bytes(changed))
    problems = zone.verify()
    assert [p.problem for p in problems] == ["published file changed: sha256 differs"]
    assert "enterprise_profile" in problems[0].where
    done = subprocess.run(verify, env=env, cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 1 and "enterprise_profile" in done.stdout
    zone.store.write_bytes(path, original)
    assert zone.verify() == []

    lines = zone.store.read_text("_ledger.jsonl").splitlines()
    entry = json.loads(lines[2])
    entry["rows"] += 1
    lines[2] = json.dumps(entry, ensure_ascii=False, sort_keys=True)
    zone.store.write_bytes("_ledger.jsonl", ("\n".join(lines) + "\n").encode())
    assert [(p.where, p.problem) for p in zone.verify()] == [
        ("_ledger.jsonl:3", "entry changed: its hash does not match its content")]


def test_versions_are_readable_as_of_a_date_until_retired(home: Settings) -> None:
    day = datetime(2026, 11, 20, 12, tzinfo=timezone.utc)
    assert publish(home, now=day).ok
    zone = SharedZone.default(home)
    old = zone.version_entry("hotline_requests")
    with _warehouse(home) as connection:
        connection.execute("delete from marts.hotline_requests where request_id = "
                           "(select max(request_id) from marts.hotline_requests)")
    later = publish(home, now=day + timedelta(days=2))
    assert later.outcomes["hotline_requests"].status == "published", later.outcomes["hotline_requests"].reasons
    assert zone.read("hotline_requests").num_rows == old["rows"] - 1
    assert zone.read("hotline_requests", as_of=(day + timedelta(days=1)).date()).num_rows == old["rows"]
    assert zone.read("hotline_requests", as_of=(day - timedelta(days=1)).date()) is None

    keep = home.publish.keep_versions
    publish(home, now=day + timedelta(days=2) + keep + timedelta(hours=1))
    assert not zone.store.exists(old["path"])
    assert zone.read("hotline_requests", as_of=(day + timedelta(days=1)).date()) is None
    assert [e["action"] for e in zone.ledger() if e["dataset"] == "hotline_requests"] == [
        "published", "published", "retired"]
    assert zone.verify() == []
    assert zone.read("hotline_requests").num_rows == old["rows"] - 1
