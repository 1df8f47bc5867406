"""What each platform's ingestion is made of, and one way to run it: the DAGs and ``gridlake ingest`` share this.

A platform is a list of *jobs*; a job loads one or more lake entities with one connector call and is one
Airflow task. This module only names things (connector functions are imported when a job runs), so a DAG
file can read it at parse time without importing a connector.

Run modes, the same for the DAGs and the command:
- incremental (the default): each entity from its committed cursor;
- backfill (``since``/``until``): the time-cursored platforms re-read a range of updated times and land only
  versions the lake does not hold, leaving the cursors as they are (each connector's README);
- ``accept_schema_change``: a load that stopped because a declared field disappeared or changed type goes
  through once, recording the change in its manifest.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the DAG files read this module at parse time: nothing heavy at import
    from gridlake.lake import BatchManifest, Lake

__all__ = ["JOBS", "PLATFORMS", "Job", "JobResult", "Platform", "parse_when", "platform", "run_job"]


@dataclass(frozen=True)
class Job:
    """One connector call: ``target`` (``module:function``) loading ``entities`` of ``platform``."""

    platform: str
    name: str
    target: str
    entities: tuple[str, ...]
    ranged: bool  # takes since/until (a time cursor); the statistics releases do not
    options: tuple[tuple[str, Any], ...] = ()

    @property
    def task_id(self) -> str:
        return f"load_{self.name}"

    def asset_uris(self) -> list[str]:
        """The raw-zone datasets this job lands (Airflow Assets: transformation is scheduled on them)."""
        return [f"gridlake://lake/raw/{self.platform}/{entity}" for entity in self.entities]


@dataclass(frozen=True)
class Platform:
    name: str
    conn_id: str
    title: str
    schedule: str  # cron, in the district's time
    why: str  # why this schedule: shown in the DAG's docs
    jobs: tuple[Job, ...]


def _citymgmt_jobs() -> tuple[Job, ...]:
    # The nine domains and the grid platform, one task per PostgreSQL schema: a task per table would cost
    # more in task start-up than most tables take to load.
    tables = {
        "dust": ("road", "reading"), "fume": ("restaurant", "reading"), "garbage": ("station", "collection"),
        "vehicle": ("vehicle", "position"), "staff": ("worker", "position"), "grid": ("cell", "case", "case_step"),
        "traffic": ("parking_lot", "occupancy", "violation"), "diesel": ("obd",),
    }
    return tuple(
        Job("citymgmt", schema, "connectors.citymgmt:load_all", tuple(f"{schema}__{t}" for t in names), True,
            (("tables", tuple(f"{schema}.{t}" for t in names)),))
        for schema, names in tables.items())


PLATFORMS: dict[str, Platform] = {p.name: p for p in (
    Platform("hotline", "hotline_api", "12345 hotline work orders", "*/15 * * * *",
             "work orders change all day and the daily bulletin counts them to the hour: every 15 minutes",
             (Job("hotline", "services", "connectors.hotline:load_services", ("services",), False),
              Job("hotline", "requests", "connectors.hotline:load_requests", ("requests",), True))),
    Platform("citymgmt", "citymgmt_db", "city-management fusion platform (nine domains, grid)", "5 * * * *",
             "sensors report every few minutes and alerts are judged by the hour: hourly, five minutes past so "
             "the platform's batch commits of the hour are in", _citymgmt_jobs()),
    Platform("enforcement", "enforcement_api", "enforcement cases", "20 * * * *",
             "cases move a step or two a day; hourly keeps complaint-to-case links fresh for the bulletin",
             (Job("enforcement", "matters", "connectors.enforcement:load_matters", ("matters",), False),
              Job("enforcement", "cases", "connectors.enforcement:load_cases", ("cases",), True))),
    Platform("credit", "credit_api", "credit subjects and records", "0 2 * * *",
             "credit files change a few times a day and answer slowly: once a day, at night",
             (Job("credit", "subjects", "connectors.credit:load_subjects", ("subjects",), True),
              Job("credit", "records", "connectors.credit:load_records", ("records",), True))),
    Platform("statistics", "statistics_drop", "statistics bureau monthly releases", "*/30 * * * *",
             "releases arrive in a shared folder with no event to listen to; a half-hourly look lands each "
             "release within 30 minutes of its manifest, and costs one directory listing",
             (Job("statistics", "releases", "connectors.statistics:load_releases", ("key_enterprises",), False),)),
)}

JOBS: dict[tuple[str, str], Job] = {(job.platform, job.name): job for p in PLATFORMS.values() for job in p.jobs}


def platform(name: str) -> Platform:
    """A platform by name; an unknown name is an error listing the known ones."""
    try:
        return PLATFORMS[name]
    except KeyError:
        raise KeyError(f"unknown platform {name!r}: one of {', '.join(PLATFORMS)}") from None


def run_job(
    job: Job,
    *,
    lake: Lake | None = None,
    conn: Any = None,
    since: datetime | None = None,
    until: datetime | None = None,
    accept_schema_change: bool = False,
) -> JobResult:
    """Run one job: incremental, or a backfill of [since, until) for a ranged job; returns its committed batches.

    ``conn`` is the platform's Airflow connection (default: read by id from ``AIRFLOW_CONN_<ID>``). A backfill
    of a job without a time cursor (the services list, the matter list, the statistics releases) runs the job
    as usual: a snapshot or a release is landed whole, and only once.
    """
    from gridlake.lake import BatchManifest, Lake

    lake = lake or Lake.default()
    module, _, function = job.target.partition(":")
    load: Callable[..., Any] = getattr(importlib.import_module(module), function)
    kwargs: dict[str, Any] = dict(job.options)
    if job.ranged and (since is not None or until is not None):
        kwargs.update(since=since, until=until)
    if accept_schema_change and "accept_schema_change" in inspect.signature(load).parameters:
        kwargs["accept_schema_change"] = True  # (a snapshot without a schema watch has nothing to accept)
    conn = conn if conn is not None else platform(job.platform).conn_id
    result = load(lake, conn=conn, **kwargs)
    if isinstance(result, BatchManifest):
        manifests = [result]
    elif isinstance(result, dict):
        manifests = list(result.values())
    else:
        manifests = list(result)
    notes = [f"release {e.release} rejected whole: {e.reason}: {e.detail}" for e in getattr(result, "errors", [])]
    notes += [f"release {name} waits for its manifest" for name in getattr(result, "waiting", [])]
    for manifest in manifests:  # schema drift is landed, and said
        drift = manifest.extra.get("schema_drift") or {}
        if drift:
            notes.append(f"{manifest.entity}: new fields in the source, landed in extra_fields: "
                         + ", ".join(f"{name} ({count})" for name, count in sorted(drift.items())))
        changes = manifest.extra.get("schema_changes") or {}
        if changes:
            notes.append(f"{manifest.entity}: schema change accepted: "
                         + ", ".join(f"{name} {how}" for name, how in sorted(changes.items())))
    return JobResult(manifests, notes)


@dataclass
class JobResult:
    """The batches a job committed, and what it has to report besides (rejected or waiting releases)."""

    manifests: list[BatchManifest]
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """Rows read, landed and quarantined (what a task hands on by XCom: counts, not data)."""
        quarantined: dict[str, int] = {}
        for manifest in self.manifests:
            for reason, count in manifest.rows_quarantined.items():
                quarantined[reason] = quarantined.get(reason, 0) + count
        return {
            "batches": [m.batch_id for m in self.manifests],
            "rows_read": sum(m.rows_read for m in self.manifests),
            "rows_landed": sum(m.rows_landed for m in self.manifests),
            "rows_quarantined": dict(sorted(quarantined.items())),
            "notes": self.notes,
        }


def parse_when(text: str) -> datetime:
    """A command-line or DAG-conf time: ISO 8601; a date or a time without an offset is the district's time."""
    from gridlake.records import parse_instant

    return parse_instant(text)
