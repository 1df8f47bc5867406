"""``transform``: the dbt project on the lake, scheduled on data: a run starts when any ingestion DAG has landed
new batches of a raw entity (their Assets), not on a clock.

One task runs ``dbt build`` (models, seeds and data tests in dependency order) through
``gridlake.transform.run_dbt``, which passes the settings in force as vars and keeps the warehouse under
``$GRIDLAKE_HOME``. Unit tests are left out: they test the models' SQL on fixed inputs, not the day's data, so
they belong to CI (the test suite builds with them), not to every scheduled run (about 4 s of it at the
district's volume).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import DAG, Asset, AssetAny, task

from connectors.ingest import PLATFORMS
from gridlake.transform import WAREHOUSE_ASSET_URI

RAW_ASSETS = [Asset(name=uri.removeprefix("gridlake://lake/").replace("/", "."), uri=uri)
              for platform in PLATFORMS.values() for job in platform.jobs for uri in job.asset_uris()]
WAREHOUSE = Asset(name="warehouse", uri=WAREHOUSE_ASSET_URI)

with DAG(
    dag_id="transform",
    description="dbt build of the lake into the shared district datasets",
    doc_md=__doc__,
    schedule=AssetAny(*RAW_ASSETS),
    start_date=pendulum.datetime(2026, 11, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,  # one build at a time: the next one picks up whatever landed meanwhile
    default_args={"owner": "gridlake", "retries": 1, "retry_delay": timedelta(minutes=5),
                  "execution_timeout": timedelta(hours=2)},
    tags=["gridlake", "transform"],
) as transform:

    @task(outlets=[WAREHOUSE])
    def dbt_build(**context: Any) -> dict[str, Any]:
        from gridlake.transform import run_dbt

        result = run_dbt(["build", "--exclude-resource-type", "unit_test"])
        statuses: dict[str, int] = {}
        for status, _ in result.nodes.values():
            statuses[status] = statuses.get(status, 0) + 1
        context["outlet_events"][WAREHOUSE].extra = {"nodes": len(result.nodes)}
        return {"nodes": statuses}

    dbt_build()
