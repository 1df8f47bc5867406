"""The chain ingestion -> transformation -> publication under Airflow's CeleryExecutor with two workers in
separate processes (simulators/cluster.py: PostgreSQL metadata, Redis broker, API server, scheduler, DAG
processor), against the served test district, run as an operator would: the DAGs unpaused through the REST API,
the scheduler starting each ingestion DAG at once (``catchup=False``: the latest tick of its schedule), the Assets
starting ``transform`` and ``publish``. The datasets it publishes must be those of the single-process run
(``dag.test()``, as the demo runs the chain) of the same district at the same simulated clock.

The processes share no disk: each worker has a GRIDLAKE_HOME of its own (its scratch), and what the tasks hand
each other (the lake, the shared zone, the check results, the warehouse's builds) is in the store, on moto's
S3-compatible server on loopback (tests/objectstore.py), reached through ``GRIDLAKE_STORE`` and the connection
``AIRFLOW_CONN_GRIDLAKE_STORE``. Nothing of it may land in a worker's home.

The single-process run runs meanwhile, on a lake of its own. The district is this module's own (the session's is
moved by other tests), and its clock does not move, so both runs read the same platforms.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from gridlake.builds import WarehouseBuilds
from gridlake.storage import Store
from simulators.cluster import CHAIN_DAGS, LocalCeleryCluster
from simulators.pipeline import CHAIN, airflow_environment, migrate, run_chain
from tests.support import generate_dataset, serve_dataset

pytestmark = pytest.mark.slow

SALT = "celery-test-salt"  # both runs hash personal data with the same salt, or no row would compare equal
INGEST = [dag_id for dag_id in CHAIN_DAGS if dag_id.startswith("ingest_")]
# what a worker's GRIDLAKE_HOME may hold: dbt's target and logs, the warehouse's working copy, candidates and
# temporary copies (gridlake/transform.py, gridlake/shared.py, publication/flow.py)
SCRATCH = {"dbt", "warehouse", "staging", "tmp"}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    yield from serve_dataset(generate_dataset(tmp_path_factory, "celery-district"))


def _single_process_run(served, home: Path) -> Path:
    """The chain with dag.test() in one process (simulators/pipeline.py), on a lake of its own."""
    env = airflow_environment(home / "airflow", home / "gridlake", served.environment())
    env["GRIDLAKE_PII_SALT"] = SALT
    migrate(env)
    runs = run_chain(env, CHAIN)
    assert {dag_id: run["state"] for dag_id, run in runs.items()} == dict.fromkeys(CHAIN, "success"), runs
    return home / "gridlake"


@pytest.fixture(scope="module")
def both_runs(served, object_store, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The chain run to quiescence on a two-worker Celery deployment whose store is on the S3 server (its DAG
    runs, task instances, store and the workers' homes) and, meanwhile, the single-process run of the same chain
    on disk (its lake): both read the platforms at one clock."""
    folder = tmp_path_factory.mktemp("celery")
    store = object_store.root("celery")
    cluster = LocalCeleryCluster(folder / "cluster", store, {**served.environment(), **object_store.environment},
                                 workers=2, concurrency=2, environment={"GRIDLAKE_PII_SALT": SALT})
    clock = served.clock.now()
    with ThreadPoolExecutor(max_workers=1) as pool:  # the single-process run waits on its subprocess: a thread
        single = pool.submit(_single_process_run, served, tmp_path_factory.mktemp("single"))
        with cluster:
            cluster.unpause(CHAIN_DAGS)
            cluster.settle(CHAIN_DAGS)
            dag_runs = cluster.query("select dag_id, run_id, run_type, state, start_date, end_date from dag_run "
                                     "order by start_date")
            tasks = cluster.query("select dag_id, run_id, task_id, state, hostname, try_number, end_date "
                                  "from task_instance")
            groups = cluster.process_groups
        single_home = single.result()
    assert served.clock.now() == clock, "the platforms' clock moved during the runs"
    return {"runs": dag_runs, "tasks": tasks, "workers": cluster.worker_names, "store": store,
            "homes": {**cluster.worker_homes, "control": cluster.control_home},
            "single": single_home, "groups": groups, "pgdata": folder / "cluster" / "postgres"}


def test_the_chain_runs_to_the_end_on_both_workers(both_runs) -> None:
    """Every task instance succeeded at its first try, both workers ran some, and the last publication started
    after the last ingestion had finished (through a transformation that also started after it)."""
    runs, tasks, workers = both_runs["runs"], both_runs["tasks"], both_runs["workers"]
    assert {run["dag_id"] for run in runs} == set(CHAIN_DAGS)
    assert {(run["dag_id"], run["state"]) for run in runs if run["state"] != "success"} == set()
    failed = [(t["dag_id"], t["task_id"], t["state"], t["try_number"]) for t in tasks
              if t["state"] != "success" or t["try_number"] != 1]
    assert failed == []
    assert {t["hostname"] for t in tasks} == set(workers)  # each worker ran some, and nothing else ran any

    # the ingestion tasks' ends: a task's Asset event is registered when it ends; its run's end is recorded by the
    # scheduler later, which may be after the transformation that event started has started
    last_ingestion = max(t["end_date"] for t in tasks if t["dag_id"] in INGEST)
    transforms = [run for run in runs if run["dag_id"] == "transform"]
    publications = [run for run in runs if run["dag_id"] == "publish"]
    assert all(run["run_type"] == "asset_triggered" for run in transforms + publications)
    assert transforms[-1]["start_date"] > last_ingestion
    build = next(t for t in tasks if t["run_id"] == transforms[-1]["run_id"] and t["task_id"] == "dbt_build")
    assert publications[-1]["start_date"] > build["end_date"]  # started by the Asset event of that build


def _rows(table: Any) -> Counter:
    """A table's rows as a multiset of canonical tuples (columns by name, values as JSON): order-independent."""
    names = sorted(table.column_names)
    return Counter(json.dumps([row[name] for name in names], default=str, ensure_ascii=False)
                   for row in table.to_pylist())


def test_the_shared_datasets_equal_the_single_process_run(both_runs) -> None:
    """Every shared dataset the Celery run published has the rows, and the columns, of the same dataset
    published by the single-process run of the same district at the same clock."""
    from expectations import DATASETS
    from gridlake.shared import SharedZone

    celery = SharedZone(Store(both_runs["store"]).child("shared"))
    single = SharedZone(both_runs["single"] / "shared")
    statuses = {name: entry.get("current") is not None for name, entry in celery.catalog()["datasets"].items()}
    assert statuses == dict.fromkeys(DATASETS, True)
    differences = {}
    for name in DATASETS:
        mine, theirs = celery.read(name), single.read(name)
        assert mine is not None and theirs is not None, name
        assert mine.schema == theirs.schema, name
        left, right = _rows(mine), _rows(theirs)
        if left != right:
            differences[name] = {"rows": (mine.num_rows, theirs.num_rows),
                                 "only_celery": list((left - right).elements())[:3],
                                 "only_single": list((right - left).elements())[:3]}
    assert differences == {}
    assert sum(celery.read(name).num_rows for name in DATASETS) > 0


def test_the_tasks_share_only_the_store(both_runs) -> None:
    """The lake, the shared zone, the check results and the warehouse's builds are in the store, and nothing of
    them in a worker's home: only scratch, with the working copy of the warehouse on each worker that built it,
    committed to the store (its build id recorded beside it). The store holds the last builds, the newest named
    by the pointer."""
    homes, tasks = both_runs["homes"], both_runs["tasks"]
    store = Store(both_runs["store"])
    assert {"lake", "shared", "quality", "warehouse"} <= set(store.listdir())
    assert store.find("lake/raw") and store.exists("shared/catalog.json")

    left = {name: sorted(path.name for path in home.iterdir()) for name, home in homes.items() if home.exists()}
    assert {name: sorted(set(entries) - SCRATCH) for name, entries in left.items()} == dict.fromkeys(left, [])
    shared_files = {name: [str(path.relative_to(home)) for path in home.rglob("*")
                           if path.suffix == ".parquet" or path.name in ("catalog.json", "_ledger.jsonl")]
                    for name, home in homes.items()}
    assert shared_files == dict.fromkeys(homes, [])

    builds = WarehouseBuilds(store.child("warehouse"))
    current = builds.current()
    built = [t for t in tasks if t["task_id"] == "dbt_build"]
    assert current is not None and builds.builds()[-1] == current.build_id
    assert len(builds.builds()) == min(len(built), builds.keep)
    last_builder = max(built, key=lambda t: t["end_date"])["hostname"]
    working = homes[last_builder] / "warehouse"
    assert (working / ".build_id").read_text(encoding="utf-8") == current.build_id
    assert (working / "gridlake.duckdb").stat().st_size == store.fs.size(builds.store.path(
        f"{current.build_id}/gridlake.duckdb"))


def _alive(group: int) -> bool:
    try:
        os.killpg(group, 0)  # signal 0: is any process of the group still there
    except ProcessLookupError:
        return False
    return True


def test_the_cluster_stops_every_process_it_started(both_runs) -> None:
    """Leaving the cluster's block stops all its processes, their children included, and PostgreSQL."""
    assert set(both_runs["groups"]) == {"redis", "api-server", "scheduler", "dag-processor", *both_runs["workers"]}
    assert [name for name, group in both_runs["groups"].items() if _alive(group)] == []
    assert not (both_runs["pgdata"] / "postmaster.pid").exists()
