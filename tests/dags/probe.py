"""Run Airflow on the project's DAGs in a process of its own (Airflow reads its configuration at import, so
the tests' AIRFLOW_HOME must be set before it is imported): ``bag`` describes the DagBag, ``test <conf-json>
<dag_id>...`` runs DAGs one after the other with ``dag.test()`` (conf ``{}`` for none). Prints one JSON line,
last."""

from __future__ import annotations

import json
import sys


def _uris(condition) -> set[str]:
    """The URIs of the Assets a schedule waits for (any nesting of AssetAny/AssetAll)."""
    if condition is None:
        return set()
    if hasattr(condition, "uri"):
        return {condition.uri}
    return set().union(*(_uris(item) for item in getattr(condition, "objects", ())))


def _bag() -> dict:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag()
    dags = {}
    for dag_id, dag in bag.dags.items():
        dags[dag_id] = {
            "tags": sorted(dag.tags),
            "schedule": getattr(dag.timetable, "expression", None),
            # an asset-or-time schedule's time part (its cron and time zone)
            "schedule_time": (dag.timetable.timetable.expression, str(dag.timetable.timetable.timezone))
            if hasattr(dag.timetable, "timetable") else None,
            "schedule_assets": sorted(_uris(getattr(dag.timetable, "asset_condition", None))),
            "tasks": {t.task_id: {"retries": t.retries, "outlets": [a.uri for a in t.outlets],
                                  "retry_policy": t.retry_policy is not None} for t in dag.tasks},
        }
    return {"import_errors": {str(k): str(v) for k, v in bag.import_errors.items()}, "dags": dags}


def _test(conf: dict, dag_ids: list[str]) -> dict:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag()
    out = {}
    for dag_id in dag_ids:
        run = bag.get_dag(dag_id).test(run_conf=conf or None)
        out[dag_id] = {"state": str(run.state),
                       "tasks": {ti.task_id: str(ti.state) for ti in run.get_task_instances()}}
    return out


def _window() -> dict:
    """What each kind of run re-reads (``dags/ingest.py``'s ``_window``): None for an incremental load."""
    import importlib.util
    from datetime import datetime, timezone
    from types import SimpleNamespace

    spec = importlib.util.spec_from_file_location("ingest_dags", sys.argv[2])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    start, end = datetime(2026, 11, 12, 16, tzinfo=timezone.utc), datetime(2026, 11, 13, 16, tzinfo=timezone.utc)

    def window(run_type: str, conf: dict) -> list:
        run = SimpleNamespace(run_type=run_type, conf=conf)
        found = module._window({"dag_run": run, "data_interval_start": start, "data_interval_end": end})
        return [None if moment is None else moment.isoformat() for moment in found]

    return {"scheduled": window("scheduled", {}), "backfill": window("backfill", {}),
            "manual": window("manual", {}), "manual_range": window("manual", {"since": "2026-11-01"})}


if __name__ == "__main__":
    if sys.argv[1] == "bag":
        out = _bag()
    elif sys.argv[1] == "window":
        out = _window()
    else:
        out = _test(json.loads(sys.argv[2]), sys.argv[3:])
    print("\nPROBE " + json.dumps(out))
