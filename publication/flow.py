"""Gate and publish: every shared dataset is exported from the warehouse as a candidate version, validated by its
suite (expectations/), and published only when it passes and the datasets it depends on were not stopped.

A run, per dataset, ends in one of:
- ``published``  a new version is current (its files placed, its ledger entry written, the catalog switched);
- ``unchanged``  it passed and its content equals the current version's: nothing new (a re-run is a no-op);
- ``failed``     a check failed: not published, the last good version stays current, an alert says why;
- ``held_back``  it passed, but a dataset it depends on failed or was held back: not published either;
- ``missing``    the warehouse has no such table (nothing built yet).
The catalog records every attempt (``last_attempt``), the failed ones with their reasons and the result pages.

Everything goes through the store (gridlake/storage.py): the warehouse the last build left there (in place on
disk, a downloaded copy from an object store), the shared zone, and the check results (``quality/<run_id>/``, written
locally, then put in the store when it is an object store). Candidates are exported and validated as local files.
"""

from __future__ import annotations

import json
import logging
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb

from expectations import DATASETS, GateContext, GateResult, validate_all
from gridlake.settings import Settings, get_settings
from gridlake.shared import SharedZone, content_hash, version_id
from gridlake.storage import Store
from gridlake.transform import Paths, build_record_path, warehouse_for_reading

__all__ = ["DatasetsHeldBack", "Outcome", "PublishReport", "publish"]

log = logging.getLogger(__name__)

_STATUS_TEXT = {"failed": "未通过质量检查，未发布", "held_back": "所依赖的数据集未发布，暂缓发布"}


class DatasetsHeldBack(RuntimeError):
    """Some shared datasets failed their gate or were held back (the others were published): the ``publish``
    DAG's run ends red with it, not retried - the same data would fail the same checks."""


@dataclass
class Outcome:
    dataset: str
    status: str
    rows: int | None = None
    version: str | None = None
    reasons: list[str] = field(default_factory=list)
    result_json: str | None = None
    result_html: str | None = None


@dataclass
class PublishReport:
    run_id: str
    started_at: datetime
    outcomes: dict[str, Outcome]
    retired: list[str]
    results_dir: Path | str  # a folder on disk, a URI on an object store

    @property
    def ok(self) -> bool:
        return all(outcome.status in ("published", "unchanged") for outcome in self.outcomes.values())


def _run_id(now: datetime) -> str:
    return f"{now.astimezone(timezone.utc):%Y%m%dT%H%M%S%fZ}"


def _relative(path: Path, home: Path) -> str:
    try:
        return str(path.relative_to(home))
    except ValueError:
        return str(path)


def _manifest(where: Paths) -> dict[str, Any]:
    path = where.target / "manifest.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {"nodes": {}, "parent_map": {}}


def _lineage(manifest: dict[str, Any], dataset: str) -> tuple[dict[str, str], set[str]]:
    """A mart's column descriptions, and the raw entities (``platform/entity``) it is built from."""
    node_id = f"model.gridlake.{dataset}"
    node = manifest["nodes"].get(node_id, {})
    columns = {name: column.get("description", "") for name, column in node.get("columns", {}).items()}
    sources, seen, todo = set(), set(), [node_id]
    while todo:
        current = todo.pop()
        for parent in manifest.get("parent_map", {}).get(current, []):
            if parent in seen:
                continue
            seen.add(parent)
            if parent.startswith("source."):
                _, _, platform, entity = parent.split(".", 3)
                sources.add(f"{platform}/{entity}")
            else:
                todo.append(parent)
    return columns, sources


def _data_clock(connection: duckdb.DuckDBPyConnection) -> datetime | None:
    """The data's clock: the newest change any platform reported (the staging models' ``updated_at``, the
    platforms' own write times - a device's measured time may be off, a platform's write time is not). A
    district's data is judged by the time it was extracted at, which may run ahead of this machine's clock (the
    simulated platforms') or behind it."""
    tables = [name for (name,) in connection.execute(
        "select table_name from information_schema.columns where table_schema = 'staging' "
        "and column_name = 'updated_at' and data_type like 'TIMESTAMP%WITH TIME ZONE' order by table_name").fetchall()]
    if not tables:
        return None
    union = " union all ".join(f"select max(updated_at) as newest from staging.{name}" for name in tables)
    return connection.execute(f"select max(newest) from ({union})").fetchone()[0]


def _export(connection: duckdb.DuckDBPyConnection, dataset: str, folder: Path) -> tuple[int, str]:
    """Write a mart as a candidate version (in key order, so a version's files are the same for the same rows);
    returns its rows and a fingerprint of its content whatever the order."""
    key = ", ".join(DATASETS[dataset].key)
    target = folder / "part-00000.parquet"
    connection.execute(f"copy (select * from marts.{dataset} order by {key}) to '{target}' "
                       "(format parquet, compression zstd, row_group_size 100000)")
    rows, digest = connection.execute(f"select count(*), coalesce(sum(hash(t)), 0)::hugeint from marts.{dataset} t"
                                      ).fetchone()
    return int(rows), f"{rows}:{digest}"


def _alert(settings: Settings, zone: SharedZone, alerts: list[dict[str, Any]]) -> None:
    if not alerts:
        return
    zone.add_alerts(alerts)
    for alert in alerts:
        log.warning("shared dataset %s %s: %s", alert["dataset"], alert["status"], "; ".join(alert["reasons"]))
    webhook = settings.publish.alert_webhook
    if webhook:
        from gridlake.http import PlatformClient, PlatformError, RetryPolicy, error_text

        # retried as the connectors retry a platform (a webhook restarting is transient), but briefly: the alert
        # file and the log have it, and a webhook down stops nothing
        with PlatformClient(webhook, policy=RetryPolicy(attempts=3, timeout_s=10)) as client:
            def post() -> None:
                response = client.send("POST", webhook, json={"alerts": alerts})  # the URL as given
                if response.status_code >= 300:
                    raise client.fail("POST alert webhook", f"HTTP {response.status_code}: {error_text(response)}")

            try:
                client.with_retries(post, "POST alert webhook")
            except PlatformError as err:
                log.error("alert webhook %s failed: %s", webhook, err)


def publish(settings: Settings | None = None, *, now: datetime | None = None,
            datasets: list[str] | None = None) -> PublishReport:
    """Gate and publish the shared datasets (all, or ``datasets`` and what they depend on being current)."""
    settings = settings or get_settings()
    with ExitStack() as stack:
        where = stack.enter_context(warehouse_for_reading(settings))
        store = Store.default(settings)
        # the check results: in the store's quality/ on disk; written locally, then put in an object store
        if store.local:
            base = Path(store.root)
        else:
            (settings.home / "tmp").mkdir(parents=True, exist_ok=True)
            base = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="gridlake-quality-",
                                                                        dir=settings.home / "tmp")))
        return _publish(settings, where, store, base, now=now, datasets=datasets)


def _publish(settings: Settings, where: Paths, store: Store, base: Path, *, now: datetime | None,
             datasets: list[str] | None) -> PublishReport:
    started = now or datetime.now(timezone.utc)
    run_id = _run_id(started)
    zone = SharedZone.default(settings)
    left = zone.discard_staging()
    for folder in zone.orphans():  # placed by a run killed before its catalog: never current, never read
        zone.remove(folder)
        left += 1
    if left:
        log.warning("removed %d folders left by a publication that did not finish", left)

    names = [name for name in DATASETS if datasets is None or name in datasets]
    catalog = zone.catalog()
    manifest = _manifest(where)
    build_path = build_record_path(where)
    build = json.loads(build_path.read_text(encoding="utf-8")) if build_path.exists() else {}
    results_dir = base / "quality"
    outcomes: dict[str, Outcome] = {}
    staged: dict[str, tuple[Path, int, str]] = {}
    warehouse = where.warehouse
    connection = duckdb.connect(str(warehouse), read_only=True) if warehouse.exists() else None
    try:
        clock = _data_clock(connection) if connection else None
        for name in names:
            exists = connection is not None and connection.execute(
                "select count(*) from information_schema.tables where table_schema = 'marts' and table_name = ?",
                [name]).fetchone()[0]
            if not exists:
                outcomes[name] = Outcome(name, "missing", reasons=["数据仓库中没有该数据集（尚未构建）"])
                continue
            folder = zone.stage(name, run_id)
            rows, fingerprint = _export(connection, name, folder)
            staged[name] = (folder, rows, fingerprint)
    finally:
        if connection is not None:
            connection.close()

    current = {name: (entry.get("current") or {}) for name, entry in catalog["datasets"].items()}
    context = GateContext(
        now=max(started, clock) if clock else started, newest_raw_at=clock,
        previous_rows={name: version["rows"] for name, version in current.items() if version.get("rows") is not None},
        settings=settings)
    results: dict[str, GateResult] = validate_all(
        {name: sorted(folder.glob("*.parquet")) for name, (folder, _, _) in staged.items()}, context,
        results_dir=results_dir, run_id=run_id) if staged else {}
    if results and not store.local:
        store.upload_tree(results_dir / run_id, f"quality/{run_id}")

    stopped: set[str] = {name for name, outcome in outcomes.items() if outcome.status == "missing"}
    alerts = []
    for name in names:
        if name not in staged:
            continue
        folder, rows, fingerprint = staged[name]
        result = results[name]
        outcome = Outcome(name, "published", rows=rows, result_json=_relative(result.json_path, base),
                          result_html=_relative(result.html_path, base))
        blocked = [dep for dep in DATASETS[name].depends_on if dep in stopped]
        # a rule comparing this dataset with a stopped one says nothing of this one: it is held back for it
        own = [check.reason for check in result.checks if not check.success and not set(check.reads) & stopped]
        held = [f"依赖的数据集 {dep} 本次未发布" for dep in blocked]
        if own:
            outcome.status = "failed"
            outcome.reasons = own + held
        elif blocked or not result.success:
            outcome.status = "held_back"
            outcome.reasons = held + [f"（与未发布数据集的一致性检查）{check.reason}"
                                      for check in result.checks if not check.success]
        elif current.get(name, {}).get("fingerprint") == fingerprint:
            outcome.status = "unchanged"
            outcome.version = current[name]["version"]
            if clock is not None:  # the same content, now known to hold for newer data too
                catalog["datasets"][name]["current"]["data_as_of"] = clock.isoformat(timespec="seconds")
        outcomes[name] = outcome
        if outcome.status in ("failed", "held_back"):
            stopped.add(name)
            alerts.append({"at": started.isoformat(timespec="seconds"), "run_id": run_id, "dataset": name,
                           "status": outcome.status, "title": f"{name}：{_STATUS_TEXT[outcome.status]}",
                           "reasons": outcome.reasons, "result": outcome.result_html,
                           "current_version": current.get(name, {}).get("version")})
            continue
        if outcome.status == "unchanged":
            continue
        columns, sources = _lineage(manifest, name)
        files = zone.describe_files(folder)
        digest = content_hash(files)
        version = version_id(started, digest)
        path = zone.place(name, folder, version)
        zone.append_ledger({"action": "published", "dataset": name, "version": version, "path": path,
                            "files": files, "content_hash": digest, "rows": rows, "run_id": run_id}, now=started)
        schema = [{"name": column.name, "type": str(column.type), "description": columns.get(column.name, "")}
                  for column in zone.read_schema(f"{path}/{files[0]['name']}")]
        entry = catalog["datasets"].setdefault(name, {})
        if entry.get("current"):
            entry.setdefault("previous", []).insert(0, {**_summary(entry["current"]),
                                                        "superseded_at": started.isoformat(timespec="seconds")})
        entry["current"] = {
            "version": version, "path": path, "files": [item["name"] for item in files],
            "published_at": started.isoformat(timespec="seconds"), "rows": rows, "content_hash": digest,
            "fingerprint": fingerprint, "run_id": run_id, "schema": schema,
            "checks": {"success": True, "statistics": results[name].statistics, "result": outcome.result_json,
                       "data_docs": outcome.result_html,
                       "checks": [check.check for check in results[name].checks]},
            "raw_batches": {entity: summary for entity, summary in build.get("raw_batches", {}).items()
                            if entity in sources},
            "built_at": build.get("finished_at"),
            # the data's clock this version holds for (reports judge with it whether a period is covered)
            "data_as_of": clock.isoformat(timespec="seconds") if clock is not None else None,
        }
        outcome.version = version

    for name, outcome in outcomes.items():
        entry = catalog["datasets"].setdefault(name, {})
        spec = DATASETS[name]
        entry.update({"key": list(spec.key), "depends_on": list(spec.depends_on)})
        entry["last_attempt"] = {"run_id": run_id, "at": started.isoformat(timespec="seconds"),
                                 "status": outcome.status, "version": outcome.version, "rows": outcome.rows,
                                 "reasons": outcome.reasons, "result": outcome.result_json,
                                 "data_docs": outcome.result_html}
    retired = zone.retire(catalog, keep=settings.publish.keep_versions, now=started)
    zone.write_catalog(catalog, now=started)
    zone.discard_staging()
    _alert(settings, zone, alerts)
    return PublishReport(run_id, started, outcomes, retired, store.locate(f"quality/{run_id}"))


def _summary(version: dict[str, Any]) -> dict[str, Any]:
    """What the catalog keeps of a version that is no longer current."""
    return {name: version[name] for name in ("version", "path", "files", "published_at", "rows", "content_hash",
                                             "run_id", "data_as_of") if name in version}
