"""``publish``: the quality gates and the publication of the shared district datasets, scheduled on the
warehouse Asset the ``transform`` DAG updates: a run starts after each build.

``gate_and_publish`` gates every shared dataset (expectations/) and publishes those that pass into the shared zone
(``publication.publish``); each published dataset's Asset (``gridlake://shared/<dataset>``) is updated, so that
what reads a dataset (the reports) runs on its new version. A dataset that fails is not published: the last good
version stays current, and the alert is in the shared zone's ``_alerts.jsonl``, the log and the webhook. Then
``nothing_held_back`` fails when a dataset failed or was held back, so the run shows red in the UI (after the
published ones' Assets were updated). A re-run with nothing new changes nothing (every dataset ``unchanged``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import DAG, Asset, ExceptionRetryPolicy, RetryAction, RetryRule, task

from expectations import DATASETS
from gridlake.shared import asset_uri
from gridlake.transform import WAREHOUSE_ASSET_URI

WAREHOUSE = Asset(name="warehouse", uri=WAREHOUSE_ASSET_URI)
SHARED_ASSETS = {name: Asset(name=f"shared.{name}", uri=asset_uri(name)) for name in DATASETS}


# A stopped dataset stays stopped until its data change: retrying the check would only repeat it.
_NOT_RETRIED = ExceptionRetryPolicy(rules=[
    RetryRule(exception="publication.flow.DatasetsHeldBack", action=RetryAction.FAIL,
              reason="a shared dataset failed its gate or was held back: the same data fail the same checks"),
])


with DAG(
    dag_id="publish",
    description="quality gates and publication of the shared district datasets",
    doc_md=__doc__,
    schedule=[WAREHOUSE],
    start_date=pendulum.datetime(2026, 11, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    default_args={"owner": "gridlake", "retries": 1, "retry_delay": timedelta(minutes=5),
                  "execution_timeout": timedelta(hours=1), "retry_policy": _NOT_RETRIED},
    tags=["gridlake", "publish"],
) as publish_dag:

    @task(outlets=list(SHARED_ASSETS.values()))
    def gate_and_publish(**context: Any) -> dict[str, Any]:
        from publication import publish

        report = publish()
        for name, outcome in report.outcomes.items():
            if outcome.status == "published":
                context["outlet_events"][SHARED_ASSETS[name]].extra = {"version": outcome.version,
                                                                     "rows": outcome.rows}
        return {name: {"status": outcome.status, "version": outcome.version, "reasons": outcome.reasons}
                for name, outcome in report.outcomes.items()}

    @task
    def nothing_held_back(summary: dict[str, Any]) -> None:
        """Red when a dataset was stopped: the published ones' Assets were updated by the task before."""
        stopped = {name: value for name, value in summary.items() if value["status"] not in ("published", "unchanged")}
        if stopped:
            from publication import DatasetsHeldBack

            raise DatasetsHeldBack("not published: " + "; ".join(
                f"{name} {value['status']}: {' / '.join(value['reasons'][:3])}" for name, value in stopped.items()))

    nothing_held_back(gate_and_publish())
