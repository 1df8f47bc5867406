"""The ingestion DAGs under a real Airflow (SQLite metadata database, ``dag.test()``), against a served district.

Airflow runs in processes of its own (tests/dags/probe.py): it reads its configuration when imported, and this
suite's AIRFLOW_HOME must not leak into (or from) the other tests' processes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from connectors.ingest import PLATFORMS
from gridlake.lake import Lake
from simulators.pipeline import airflow_environment, migrate
from tests.support import generate_dataset, serve_dataset

ROOT = Path(__file__).resolve().parents[2]
PROBE = Path(__file__).with_name("probe.py")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    yield from serve_dataset(generate_dataset(tmp_path_factory, "dags"))


@pytest.fixture(scope="module")
def airflow(served, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """An Airflow home with a migrated metadata database, the DAGs folder, the connections and a lake."""
    home = tmp_path_factory.mktemp("airflow")
    env = airflow_environment(home / "airflow", home / "gridlake", served.environment())
    env["GRIDLAKE_PII_SALT"] = "dag-test-salt"
    migrate(env)
    return {"env": env, "lake": Lake(home / "gridlake" / "lake")}


def _probe(airflow: dict[str, Any], *args: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, str(PROBE), *args], env=airflow["env"], capture_output=True, text=True,
                          timeout=570, cwd=ROOT)
    lines = [line for line in done.stdout.splitlines() if line.startswith("PROBE ")]
    assert done.returncode == 0 and lines, (done.stdout[-3000:], done.stderr[-5000:])
    return json.loads(lines[-1].removeprefix("PROBE "))


def _landed(lake: Lake) -> dict[tuple[str, str], tuple[int, int]]:
    """Per (platform, entity): batches committed and rows landed + quarantined so far."""
    out = {}
    for platform in PLATFORMS.values():
        for job in platform.jobs:
            for entity in job.entities:
                manifests = lake.manifests(platform.name, entity)
                out[(platform.name, entity)] = (len(manifests), sum(
                    m.rows_landed + sum(m.rows_quarantined.values()) for m in manifests))
    return out


def test_the_dagbag_has_one_ingestion_dag_per_platform_with_tags_retries_and_assets(airflow) -> None:
    bag = _probe(airflow, "bag")
    assert bag["import_errors"] == {}
    dags = bag["dags"]
    assert set(dags) >= {f"ingest_{name}" for name in PLATFORMS}
    for name, platform in PLATFORMS.items():
        dag = dags[f"ingest_{name}"]
        assert {"gridlake", "ingest", name} <= set(dag["tags"])
        assert dag["schedule"] == platform.schedule
        assert set(dag["tasks"]) == {job.task_id for job in platform.jobs}
        for job in platform.jobs:
            task = dag["tasks"][job.task_id]
            assert task["retries"] >= 1 and task["retry_policy"]
            assert task["outlets"] == [f"gridlake://lake/raw/{name}/{entity}" for entity in job.entities]
    for dag in dags.values():  # every DAG of the folder, not only these: tags and retries everywhere
        assert dag["tags"]
        assert all(task["retries"] >= 1 for task in dag["tasks"].values())


def _run_all(airflow: dict[str, Any], conf: dict[str, Any] | None = None) -> None:
    runs = _probe(airflow, "test", json.dumps(conf or {}), *(f"ingest_{name}" for name in PLATFORMS))
    for dag_id, run in runs.items():
        assert run["state"] == "success", (dag_id, run)
        assert set(run["tasks"].values()) == {"success"}, (dag_id, run)


def test_each_dag_runs_and_a_second_run_lands_nothing(airflow) -> None:
    lake: Lake = airflow["lake"]
    _run_all(airflow)
    first = _landed(lake)
    for (platform, entity), (batches, _) in first.items():
        assert batches >= 1, f"{platform}.{entity}: no batch committed"
    assert first[("hotline", "requests")][1] > 0 and first[("citymgmt", "fume__reading")][1] > 0
    assert first[("statistics", "key_enterprises")][1] > 0 and first[("credit", "records")][1] > 0

    _run_all(airflow)
    second = _landed(lake)
    grown = {key: (first[key][1], rows) for key, (_, rows) in second.items() if rows != first[key][1]}
    assert grown == {}, f"the second runs landed rows again: {grown}"


def test_a_run_with_a_range_backfills_without_duplicates(airflow) -> None:
    """A manual run with conf since/until re-reads that range: after the incremental runs, nothing is new."""
    lake: Lake = airflow["lake"]
    before = _landed(lake)
    run = _probe(airflow, "test", json.dumps({"since": "2026-11-12", "until": "2026-11-15"}), "ingest_hotline")
    assert run["ingest_hotline"]["state"] == "success", run
    requests = lake.manifests("hotline", "requests")[-1]
    assert requests.extra["backfill"]["since"].startswith("2026-11-12T00:00:00+08:00")
    assert requests.rows_read == 0 and requests.cursor_to == requests.cursor_from
    assert _landed(lake)[("hotline", "requests")][1] == before[("hotline", "requests")][1]


def test_an_airflow_backfill_rereads_its_data_interval_and_other_runs_load_incrementally(airflow) -> None:
    windows = _probe(airflow, "window", str(ROOT / "dags" / "ingest.py"))
    assert windows["scheduled"] == windows["manual"] == [None, None]
    assert windows["backfill"] == ["2026-11-12T16:00:00+00:00", "2026-11-13T16:00:00+00:00"]
    assert windows["manual_range"] == ["2026-11-01T00:00:00+08:00", None]


def test_the_transformation_runs_on_the_ingestion_assets_and_builds_the_warehouse(airflow) -> None:
    bag = _probe(airflow, "bag")["dags"]["transform"]
    raw = {uri for platform in PLATFORMS.values() for job in platform.jobs for uri in job.asset_uris()}
    assert set(bag["schedule_assets"]) == raw and bag["schedule"] is None
    if not airflow["lake"].manifests("hotline", "requests"):
        _run_all(airflow)
    run = _probe(airflow, "test", "{}", "transform")["transform"]
    assert run["state"] == "success", run
    warehouse = Path(airflow["env"]["GRIDLAKE_HOME"]) / "warehouse" / "gridlake.duckdb"
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        orders = connection.execute("select count(*) from staging.stg_hotline__requests").fetchone()[0]
    raw_orders = {row["service_request_id"] for row in airflow["lake"].read("raw", "hotline", "requests").to_pylist()}
    assert orders == len(raw_orders) > 0


def test_the_whole_chain_runs_through_airflow_and_publishes_the_shared_datasets(airflow) -> None:
    """Ingestion → transformation → gate and publish, each DAG scheduled on the Assets of the one before; run
    in that order with dag.test(), the chain publishes every shared dataset, and a second run of the chain on
    the same day (nothing new from the platforms) publishes nothing new."""
    from expectations import DATASETS
    from gridlake.shared import SharedZone
    from simulators.pipeline import CHAIN, run_chain

    dags = _probe(airflow, "bag")["dags"]
    assert dags["publish"]["schedule_assets"] == ["gridlake://warehouse/gridlake"]
    assert dags["transform"]["tasks"]["dbt_build"]["outlets"] == ["gridlake://warehouse/gridlake"]
    assert set(dags["publish"]["tasks"]["gate_and_publish"]["outlets"]) == {
        f"gridlake://shared/{name}" for name in DATASETS}
    runs = run_chain(airflow["env"], CHAIN)  # as the demo runs it
    assert {dag_id: run["state"] for dag_id, run in runs.items()} == dict.fromkeys(CHAIN, "success"), runs
    assert runs["publish"]["tasks"] == {"gate_and_publish": "success", "nothing_held_back": "success"}
    home = Path(airflow["env"]["GRIDLAKE_HOME"])
    zone = SharedZone(home / "shared")
    catalog = zone.catalog()["datasets"]
    assert {name: entry["last_attempt"]["status"] for name, entry in catalog.items()} == dict.fromkeys(
        DATASETS, "published")
    with duckdb.connect(str(home / "warehouse" / "gridlake.duckdb"), read_only=True) as connection:
        for name in DATASETS:
            assert zone.read(name).num_rows == connection.execute(f"select count(*) from marts.{name}").fetchone()[0]
    ledger = len(zone.ledger())

    again = _probe(airflow, "test", "{}", *CHAIN)
    assert {run["state"] for run in again.values()} == {"success"}
    assert {entry["last_attempt"]["status"] for entry in zone.catalog()["datasets"].values()} == {"unchanged"}
    assert len(zone.ledger()) == ledger and zone.verify() == []


def test_the_reports_dag_writes_the_reports_from_the_published_datasets(airflow) -> None:
    """The reports DAG: at 08:00 Beijing and on the shared datasets' Assets; a run writes the reports its conf
    names (each with its PDF) from the versions the catalog has current, and skips the others."""
    from gridlake.shared import SharedZone
    from simulators.pipeline import run_chain

    dag = _probe(airflow, "bag")["dags"]["reports"]
    assert dag["schedule_time"] == ["0 8 * * *", "Asia/Shanghai"]
    assert {f"gridlake://shared/{name}" for name in ("hotline_requests", "hotline_kpi_daily", "iot_domain_daily",
                                                       "enterprise_profile")} <= set(dag["schedule_assets"])
    home = Path(airflow["env"]["GRIDLAKE_HOME"])
    if not (home / "shared" / "catalog.json").exists():
        run_chain(airflow["env"])
    runs = _probe(airflow, "test", json.dumps({"issued_on": {"daily": "2026-11-20", "weekly": "2026-11-16"}}),
                  "reports")
    assert runs["reports"]["state"] == "success", runs
    assert runs["reports"]["tasks"] == {"daily_bulletin": "success", "weekly_report": "success",
                                        "monthly_report": "skipped"}
    catalog = SharedZone(home / "shared").catalog()["datasets"]
    for name in ("daily/2026-11-19", "weekly/2026-W46"):
        record = json.loads((home / "reports" / f"{name}.json").read_text(encoding="utf-8"))
        assert (home / "reports" / f"{name}.pdf").stat().st_size > 10_000
        assert {dataset: source["version"] for dataset, source in record["sources"].items()} == {
            dataset: catalog[dataset]["current"]["version"] for dataset in record["sources"]}
    assert not list((home / "reports").glob("monthly/*"))
    index = (home / "reports" / "index.html").read_text(encoding="utf-8")
    assert "daily/2026-11-19.html" in index and "weekly/2026-W46.pdf" in index


def test_a_stopped_dataset_turns_the_publish_run_red_after_publishing_the_others(airflow) -> None:
    """A mart broken in the warehouse: the publish DAG's run fails at its check task, not retried, while the
    datasets that passed are published (their Assets updated by the task before)."""
    from gridlake.shared import SharedZone
    from simulators.pipeline import run_chain

    home = Path(airflow["env"]["GRIDLAKE_HOME"])
    if not (home / "shared" / "catalog.json").exists():
        run_chain(airflow["env"])
    zone = SharedZone(home / "shared")
    before = {name: entry["current"]["version"] for name, entry in zone.catalog()["datasets"].items()}
    with duckdb.connect(str(home / "warehouse" / "gridlake.duckdb")) as connection:
        connection.execute("update marts.enterprise_profile set risk_level = 'extreme' "
                           "where uscc = (select min(uscc) from marts.enterprise_profile)")
        connection.execute("update marts.iot_domain_daily set gps_fixes = gps_fixes + 1 "
                           "where domain_day_key = (select min(domain_day_key) from marts.iot_domain_daily "
                           "where gps_fixes is not null)")
    run = run_chain(airflow["env"], ("publish",))["publish"]
    assert run["state"] == "failed"
    assert run["tasks"] == {"gate_and_publish": "success", "nothing_held_back": "failed"}
    catalog = zone.catalog()["datasets"]
    assert catalog["enterprise_profile"]["last_attempt"]["status"] == "failed"
    assert catalog["enterprise_profile"]["current"]["version"] == before["enterprise_profile"]
    assert catalog["responsibility_chain"]["last_attempt"]["status"] == "held_back"
    assert catalog["iot_domain_daily"]["last_attempt"]["status"] == "published"
    assert catalog["iot_domain_daily"]["current"]["version"] != before["iot_domain_daily"]
    assert {alert["dataset"] for alert in zone.alerts()} == {"enterprise_profile", "responsibility_chain"}
