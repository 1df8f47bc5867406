"""Run Airflow on the project's DAGs in a process of its own (Airflow reads its configuration at import, so
the tests' AIRFLOW_HOME must be set before it is imported): ``bag`` describes the DagBag, ``test <dag_id>
[conf-json]`` runs one DAG with ``dag.test()``. Prints one JSON line, last."""

from __future__ import annotations

import json
import sys


def _bag() -> dict:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag()
    dags = {}
    for dag_id, dag in bag.dags.items():
        dags[dag_id] = {
            "tags": sorted(dag.tags),
            "schedule": getattr(dag.timetable, "expression", None),
            "tasks": {t.task_id: {"retries": t.retries, "outlets": [a.uri for a in t.outlets],
                                  "retry_policy": t.retry_policy is not None} for t in dag.tasks},
        }
    return {"import_errors": {str(k): str(v) for k, v in bag.import_errors.items()}, "dags": dags}


def _test(dag_id: str, conf: dict | None) -> dict:
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag().get_dag(dag_id)
    run = dag.test(run_conf=conf)
    return {"state": str(run.state), "tasks": {ti.task_id: str(ti.state) for ti in run.get_task_instances()}}


if __name__ == "__main__":
    if sys.argv[1] == "bag":
        out = _bag()
    else:
        out = _test(sys.argv[2], json.loads(sys.argv[3]) if len(sys.argv) > 3 else None)
    print("\nPROBE " + json.dumps(out))
