"""``reports``: the centre's reports, written from the published shared datasets: the daily bulletin every day at
08:00 (Beijing), the weekly return-visit report on Mondays, the monthly analysis on the 1st.

The DAG is scheduled on the time and on the shared datasets' Assets: when a dataset is published later in the day
(one that was held back at 08:00, say), the day's reports are written again, now with its figures instead of the
notice that it was withheld. A report never shows data that failed their checks (``reports.sources``). Trigger
with conf ``{"issued_on": "YYYY-MM-DD"}`` to write all three for a date, or ``{"issued_on": {"weekly": ...}}``.
The reports go to the store's ``reports/`` (the portal serves them from there); XCom carries their paths or URIs.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import DAG, Asset, AssetAny, AssetOrTimeSchedule, CronTriggerTimetable, task

from gridlake.shared import asset_uri

TIMEZONE = "Asia/Shanghai"
# the datasets the three reports read (reports.daily/weekly/monthly.DATASETS)
READ = ("hotline_requests", "hotline_kpi_daily", "hotline_kpi_monthly", "hotspots_monthly", "iot_domain_daily",
        "problem_ledger", "seasonal_patterns", "grid_case_lifecycle", "enterprise_profile")
SHARED = [Asset(name=f"shared.{name}", uri=asset_uri(name)) for name in READ]

with DAG(
    dag_id="reports",
    description="daily bulletin, weekly return-visit report and monthly analysis from the published datasets",
    doc_md=__doc__,
    schedule=AssetOrTimeSchedule(timetable=CronTriggerTimetable("0 8 * * *", timezone=TIMEZONE),
                                 assets=AssetAny(*SHARED)),
    start_date=pendulum.datetime(2026, 11, 1, tz=TIMEZONE),
    catchup=False,
    max_active_runs=1,
    default_args={"owner": "gridlake", "retries": 1, "retry_delay": timedelta(minutes=5),
                  "execution_timeout": timedelta(minutes=30)},
    tags=["gridlake", "reports"],
) as reports_dag:

    def _write(kind: str, context: dict[str, Any]) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowSkipException

        from reports import write_report
        from reports.schedule import issue_dates

        run = context["dag_run"]
        issued_on = issue_dates(run.run_after, run.conf, timezone=TIMEZONE)[kind]
        if issued_on is None:
            raise AirflowSkipException(f"no {kind} report is issued on this day")
        output = write_report(kind, issued_on)
        return {"issued_on": issued_on.isoformat(), "period": output.period.slug, "html": str(output.html),
                "pdf": str(output.pdf) if output.pdf else None, "withheld": output.withheld}

    @task
    def daily_bulletin(**context: Any) -> dict[str, Any]:
        return _write("daily", context)

    @task
    def weekly_report(**context: Any) -> dict[str, Any]:
        return _write("weekly", context)

    @task
    def monthly_report(**context: Any) -> dict[str, Any]:
        return _write("monthly", context)

    daily_bulletin()
    weekly_report()
    monthly_report()
