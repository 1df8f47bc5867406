"""Run the pipeline's DAGs through Airflow, one after the other in the order their Assets chain them (ingestion,
transformation, gate and publish), each with ``dag.test()``, in a process of their own.

    AIRFLOW_HOME=... GRIDLAKE_HOME=... python -m simulators.pipeline ingest_hotline ... transform publish
    ... python -m simulators.pipeline --conf '{"reports": {"issued_on": "2026-11-23"}}' reports

Airflow reads its configuration when imported, so the caller sets the environment (``airflow_environment``) and
starts this module as a process; it prints one JSON line per DAG run (``RUN {...}``): its state and its tasks'.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from gridlake.settings import repo_root

__all__ = ["CHAIN", "airflow_environment", "migrate", "run_chain"]

CHAIN = ("ingest_hotline", "ingest_citymgmt", "ingest_enforcement", "ingest_credit", "ingest_statistics",
         "transform", "publish")


def airflow_environment(airflow_home: Path, gridlake_home: Path, connections: dict[str, str]) -> dict[str, str]:
    """The environment of an Airflow with the project's DAGs, a SQLite metadata database under ``airflow_home``,
    the lake under ``gridlake_home`` and the platforms' connections."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AIRFLOW", "GRIDLAKE"))}
    env.update({
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(repo_root() / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "GRIDLAKE_HOME": str(gridlake_home),
        "GRIDLAKE_PII_SALT": os.environ.get("GRIDLAKE_PII_SALT", "demo-salt-not-for-production"),
        "PYTHONPATH": str(repo_root()),
    })
    env.update(connections)
    return env


def migrate(env: dict[str, str]) -> None:
    """Create (or upgrade) the metadata database."""
    airflow = Path(sys.executable).with_name("airflow")
    done = subprocess.run([str(airflow), "db", "migrate"], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"airflow db migrate failed: {done.stderr[-2000:]}")


def run_chain(env: dict[str, str], dag_ids: tuple[str, ...] = CHAIN, *,
              confs: dict[str, dict] | None = None) -> dict[str, dict]:
    """Run DAGs with ``dag.test()`` in a process with ``env`` (``confs``: a run conf per DAG id); their states
    and their tasks' states."""
    done = subprocess.run([sys.executable, "-m", "simulators.pipeline", "--conf", json.dumps(confs or {}),
                           *dag_ids], env=env, cwd=repo_root(), capture_output=True, text=True, check=False)
    runs = {}
    for line in done.stdout.splitlines():
        if line.startswith("RUN "):
            run = json.loads(line.removeprefix("RUN "))
            runs[run["dag_id"]] = run
    if done.returncode != 0 or set(runs) != set(dag_ids):
        raise RuntimeError(f"the DAG runs did not finish: {done.stderr[-3000:]}")
    return runs


def _main(dag_ids: list[str], confs: dict[str, dict]) -> None:
    import logging

    from airflow.dag_processing.dagbag import DagBag

    logging.getLogger("airflow").setLevel(logging.WARNING)
    bag = DagBag()  # the DAGs folder of AIRFLOW__CORE__DAGS_FOLDER, no examples (airflow_environment)
    if bag.import_errors:
        raise SystemExit(f"DAG import errors: {bag.import_errors}")
    for dag_id in dag_ids:
        run = bag.get_dag(dag_id).test(run_conf=confs.get(dag_id))
        tasks = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
        print("RUN " + json.dumps({"dag_id": dag_id, "state": str(run.state), "tasks": tasks}), flush=True)


if __name__ == "__main__":
    arguments = sys.argv[1:]
    given = {}
    if arguments[:1] == ["--conf"]:
        given = json.loads(arguments[1])
        arguments = arguments[2:]
    _main(arguments, given)
