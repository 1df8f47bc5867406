"""One ingestion DAG per source platform (``ingest_hotline``, ``ingest_citymgmt``, ...), made from
``connectors.ingest.PLATFORMS``: a task per job, each with the raw-zone Assets it lands as outlets, so the
transformation DAGs are scheduled on data, not on clocks.

What a run does depends on how it was started:
- a scheduled or plain manual run loads incrementally, from the cursors committed in the lake (a load's cursor
  and rows commit together, so a run retried or run twice lands each version once);
- an Airflow backfill (``airflow backfill create --dag-id ingest_hotline --from-date ... --to-date ...``) re-reads
  each run's data interval as a range of updated times, landing only what the lake lacks;
- a manual run with conf ``{"since": "...", "until": "..."}`` does the same for any range, and
  ``{"accept_schema_change": true}`` lets a load that stopped on a changed source schema through once.

A changed source schema, a missing connection and counts that do not reconcile fail at once: retrying cannot
mend them. Anything else (a platform down beyond the connector's own retries) is retried with backoff.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import DAG, Asset, ExceptionRetryPolicy, RetryAction, RetryRule, task

from connectors.ingest import PLATFORMS, Job, Platform

_TZ = "Asia/Shanghai"

_NOT_RETRIED = ExceptionRetryPolicy(rules=[
    RetryRule(exception="gridlake.records.SchemaChanged", action=RetryAction.FAIL,
              reason="the source's schema changed: the load stays stopped until it is resolved"),
    RetryRule(exception="gridlake.connections.ConnectionNotFoundError", action=RetryAction.FAIL,
              reason="the platform's Airflow connection is missing or malformed"),
    RetryRule(exception="gridlake.lake.ReconciliationError", action=RetryAction.FAIL,
              reason="rows read do not reconcile with rows landed and quarantined"),
])

_DEFAULT_ARGS: dict[str, Any] = {
    "owner": "gridlake",
    "retries": 3,
    "retry_delay": timedelta(minutes=2),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=20),
    "execution_timeout": timedelta(hours=2),
    "retry_policy": _NOT_RETRIED,
}


def _window(context: dict[str, Any]) -> tuple[Any, Any]:
    """The range of updated times a run re-reads (backfill), or (None, None) for an incremental load."""
    from connectors.ingest import parse_when

    run = context["dag_run"]
    conf = run.conf or {}
    if conf.get("since") or conf.get("until"):
        return (parse_when(conf["since"]) if conf.get("since") else None,
                parse_when(conf["until"]) if conf.get("until") else None)
    if str(getattr(run.run_type, "value", run.run_type)) == "backfill":
        return context["data_interval_start"], context["data_interval_end"]
    return None, None


def _job_task(source: Platform, job: Job):
    outlets = [Asset(name=uri.removeprefix("gridlake://lake/").replace("/", "."), uri=uri) for uri in job.asset_uris()]

    @task(task_id=job.task_id, outlets=outlets, doc_md=f"Loads {', '.join(job.entities)} ({job.target}).")
    def load(**context: Any) -> dict[str, Any]:
        from airflow.sdk import BaseHook

        from connectors.ingest import run_job

        since, until = _window(context)
        conn = BaseHook.get_connection(source.conn_id)
        result = run_job(job, conn=conn, since=since, until=until,
                         accept_schema_change=bool((context["dag_run"].conf or {}).get("accept_schema_change")))
        summary = result.summary()
        for asset in outlets:  # what each Asset event carries: the counts of the batches just committed
            context["outlet_events"][asset].extra = {key: summary[key] for key in ("rows_read", "rows_landed")}
        for note in result.notes:
            print(f"WARNING {source.name}.{job.name}: {note}")
        return summary

    return load


def _ingest_dag(source: Platform) -> DAG:
    with DAG(
        dag_id=f"ingest_{source.name}",
        description=f"{source.title} into the lake's raw zone",
        doc_md=f"**{source.title}** into `lake/raw/{source.name}/`. Schedule `{source.schedule}` "
               f"({_TZ}): {source.why}.\n\n" + (__doc__ or ""),
        schedule=source.schedule,
        start_date=pendulum.datetime(2026, 11, 1, tz=_TZ),
        catchup=False,  # the cursors carry the state: one run catches up whatever was missed
        max_active_runs=1,  # loads of one entity commit in sequence; a second run would only wait its turn
        default_args=_DEFAULT_ARGS,
        tags=["gridlake", "ingest", source.name],
    ) as dag:
        for job in source.jobs:
            _job_task(source, job)()
    return dag


for _platform in PLATFORMS.values():
    globals()[f"ingest_{_platform.name}"] = _ingest_dag(_platform)
