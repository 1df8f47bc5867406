"""Run the dbt project (``dbt_project/``) on the lake: the settings in force become dbt vars, and the warehouse,
dbt's target and logs go under ``$GRIDLAKE_HOME``, never into the checkout.

With the store elsewhere than ``$GRIDLAKE_HOME`` (an object store, ``GRIDLAKE_STORE=s3://...``, or a folder several
machines share; gridlake/storage.py) the sources read the raw zone there (the profile's plugin registers the
store's filesystem with DuckDB), and since a DuckDB file cannot live on S3, the warehouse is versioned in the store
(gridlake/builds.py): a build starts from the current build there (or from nothing), builds a local working copy
under ``$GRIDLAKE_HOME``, and commits it with its records (``last_build.json``, ``build_vars.json``) and dbt's
``manifest.json`` as a new build, ``warehouse/<build_id>/``, named by the pointer ``warehouse/current.json``.
``warehouse_for_reading`` gives readers one build's files: in place on disk, the current build's copy otherwise.
With the store in ``$GRIDLAKE_HOME`` (the default) the warehouse is built and read in place.

dbt runs in this process (``dbtRunner``); a script that calls it guards its entry point with
``if __name__ == "__main__":`` (dbt may start worker processes). The default target is the DuckDB warehouse;
``target="spark"`` builds the same project on a local SparkSession started in this process (dbt-spark's session
method; dbt_project/README.md, "Spark"), its warehouse and metastore under ``$GRIDLAKE_HOME/spark``.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from gridlake.builds import FILES as BUILD_FILES
from gridlake.builds import WarehouseBuilds
from gridlake.settings import Settings, get_settings, repo_root
from gridlake.storage import Store

__all__ = ["SPARK_TARGET", "WAREHOUSE_ASSET_URI", "DbtFailed", "DbtResult", "build_record_path", "dbt_env",
           "dbt_vars", "paths", "run_dbt", "settings_changed", "unlanded_sources", "warehouse_for_reading"]

PROJECT_DIR = repo_root() / "dbt_project"
# The Airflow Asset a whole build updates (the transform DAG's outlet, the publish DAG's schedule).
WAREHOUSE_ASSET_URI = "gridlake://warehouse/gridlake"
# The profile's output (dbt_project/profiles.yml) that builds on Spark; the default one builds the DuckDB warehouse.
SPARK_TARGET = "spark"
log = logging.getLogger(__name__)


class DbtFailed(RuntimeError):
    """A dbt command did not succeed: which command, and the nodes that failed with their messages."""


@dataclass(frozen=True)
class DbtResult:
    """What a dbt command did: per node, its status and message (and the raw dbt result for the curious)."""

    args: tuple[str, ...]
    nodes: dict[str, tuple[str, str]]
    raw: Any

    def failed(self) -> dict[str, str]:
        return {node: message for node, (status, message) in self.nodes.items()
                if status in ("error", "fail", "runtime error")}


@dataclass(frozen=True)
class Paths:
    lake: Path | str  # a folder, or the lake's URI on an object store
    warehouse: Path
    target: Path
    logs: Path
    spark: Path


def paths(settings: Settings | None = None) -> Paths:
    """Where the lake is read and the warehouse, target and logs are written (the warehouse: its local copy;
    ``spark``: the Spark build's warehouse directory, metastore and its own dbt target)."""
    settings = settings or get_settings()
    home = settings.home
    return Paths(lake=Store.default(settings).child("lake").locate(""),
                 warehouse=home / "warehouse" / "gridlake.duckdb", target=home / "dbt" / "target",
                 logs=home / "dbt" / "logs", spark=home / "spark")


def _builds(settings: Settings) -> WarehouseBuilds | None:
    """The builds in the store's ``warehouse/`` when the store is not ``$GRIDLAKE_HOME`` (an object store, or a
    folder several machines share); None when the store is ``$GRIDLAKE_HOME`` (the warehouse used in place)."""
    store = Store.default(settings)
    return None if store == Store(settings.home) else WarehouseBuilds(store.child("warehouse"))


def _local_file(where: Paths, name: str) -> Path:
    return where.target / name if name == "manifest.json" else where.warehouse.parent / name


def _local_files(where: Paths) -> dict[str, Path]:
    return {name: _local_file(where, name) for name in BUILD_FILES}


def _wal(where: Paths) -> Path:
    return where.warehouse.with_name(where.warehouse.name + ".wal")


def _marker(where: Paths) -> Path:
    """The id of the build the local working copy equals, written when this process committed it and removed
    before dbt touches the copy again: a copy that may differ from every build has none."""
    return where.warehouse.parent / ".build_id"


def _check_out(builds: WarehouseBuilds, where: Paths) -> None:
    """The local working copy made the current build of the store (fetched, unless it already is that build:
    the worker that built it last), or removed when the store holds none: a build starts from what the store
    holds, never from a stale local file."""
    marker = _marker(where)
    current = builds.current()
    if (current is not None and marker.exists() and not _wal(where).exists()
            and marker.read_text(encoding="utf-8") == current.build_id
            and all(_local_file(where, name).exists() for name in current.files)):
        return
    marker.unlink(missing_ok=True)
    _wal(where).unlink(missing_ok=True)  # a write-ahead log belongs to the local copy, never to the one fetched
    builds.fetch(_local_files(where))


def _commit(builds: WarehouseBuilds, where: Paths) -> None:
    """The local working copy, its records and dbt's manifest committed to the store as a new build."""
    if _wal(where).exists():  # all of the build in the one file
        import duckdb

        with duckdb.connect(str(where.warehouse)) as connection:
            connection.execute("checkpoint")
    build = builds.commit(_local_files(where))
    _marker(where).write_text(build.build_id, encoding="utf-8")
    log.info("committed the warehouse as build %s in %s", build.build_id, builds.store.uri)


@contextmanager
def warehouse_for_reading(settings: Settings | None = None) -> Iterator[Paths]:
    """One build's warehouse, its record (``last_build.json``) and dbt's manifest, as local files: in place when
    the store is ``$GRIDLAKE_HOME``; else the current build's files copied from the store into a temporary folder
    (deleted after), never the working copy a build may be writing."""
    settings = settings or get_settings()
    where = paths(settings)
    builds = _builds(settings)
    if builds is None:
        yield where
        return
    folder = Path(tempfile.mkdtemp(prefix="gridlake-warehouse-", dir=_scratch(settings)))
    try:
        copy = Paths(lake=where.lake, warehouse=folder / "warehouse" / "gridlake.duckdb", target=folder / "target",
                     logs=where.logs, spark=where.spark)
        builds.fetch({name: path for name, path in _local_files(copy).items() if name != "build_vars.json"})
        yield copy
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _scratch(settings: Settings) -> Path:
    folder = settings.home / "tmp"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _hours(delta: Any) -> float:
    return delta.total_seconds() / 3600


def dbt_vars(settings: Settings | None = None) -> dict[str, Any]:
    """The working definitions in force (gridlake/settings.py) as dbt vars: durations in hours."""
    s = settings or get_settings()
    out: dict[str, Any] = {
        "district_code": s.district_code,
        "lat_min": s.lat_min, "lat_max": s.lat_max, "lon_min": s.lon_min, "lon_max": s.lon_max,
    }
    for urgency in ("urgent", "utility", "normal", "complex"):
        limit = s.hotline.for_urgency(urgency)
        out[f"respond_hours_{urgency}"] = _hours(limit.respond)
        out[f"resolve_hours_{urgency}"] = _hours(limit.resolve)
    out.update({f"grid_{name}_hours": _hours(value) for name, value in s.grid.model_dump().items()})
    thresholds = s.thresholds.model_dump()
    out.update({f"threshold_{name}": value for name, value in thresholds.items()
                if name not in ("stuck_sensor", "offline_gap")})
    out["stuck_sensor_hours"] = _hours(s.thresholds.stuck_sensor)
    out["offline_gap_minutes"] = s.thresholds.offline_gap.total_seconds() / 60
    out.update({f"weight_{name}": value for name, value in s.kpi.model_dump().items()})
    for name, value in s.repeats.model_dump().items():
        out[f"{name}_days" if hasattr(value, "total_seconds") else name] = (
            value.total_seconds() / 86400 if hasattr(value, "total_seconds") else value)
    out["enterprise_risk_window_days"] = s.risk.fine_window.days  # whole days: the rule counts dates
    out["enterprise_risk_repeat_fines"] = s.risk.repeat_fines
    out.update({f"link_{name}": value for name, value in s.links.model_dump().items()})
    return out


def dbt_env(where: Paths | None = None) -> dict[str, str]:
    """The environment the project reads (``env_var()`` in profiles.yml and the sources): the lake (a folder or
    a URI: the profile's plugin lets DuckDB read it), the warehouse's local copy, the Spark build's home."""
    where = where or paths()
    return {"GRIDLAKE_LAKE": str(where.lake), "GRIDLAKE_WAREHOUSE": str(where.warehouse),
            "GRIDLAKE_SPARK_HOME": str(where.spark)}


@contextmanager
def _environment(where: Paths) -> Iterator[None]:
    given = dbt_env(where)
    saved = {key: os.environ.get(key) for key in given}
    os.environ.update(given)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


# the dbt commands that open the warehouse, and those of them that change it
_READS_WAREHOUSE = frozenset({"build", "run", "seed", "snapshot", "test", "docs", "show"})
_WRITES_WAREHOUSE = frozenset({"build", "run", "seed", "snapshot"})
_SELECTORS = frozenset({"-s", "--select", "-m", "--models", "--exclude", "--selector"})


def build_record_path(where: Paths) -> Path:
    """The record of the warehouse's last whole build: when, and the raw batches committed when it began."""
    return where.warehouse.parent / "last_build.json"


def _vars_path(where: Paths) -> Path:
    return where.warehouse.parent / "build_vars.json"


def settings_changed(where: Paths, given: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """The vars that differ from those of the last whole build of this warehouse (empty without one)."""
    import json

    path = _vars_path(where)
    if not path.exists() or not where.warehouse.exists():
        return {}
    previous = json.loads(path.read_text(encoding="utf-8"))
    return {name: (previous.get(name), value) for name, value in given.items() if previous.get(name) != value}


def _release_warehouse() -> None:
    """dbt-duckdb keeps its DuckDB database open in the process after a command; close it, so that readers
    (tests, the portal, another process) can open the warehouse file."""
    import gc

    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    DuckDBConnectionManager.close_all_connections()
    gc.collect()


def unlanded_sources(lake: Path) -> dict[str, list[list[str]]]:
    """The raw entities with no landed file yet (only their ``_schema.parquet``), each with its declared columns
    as (name, Spark type): Spark cannot read a folder holding that file alone (its name starts with ``_``, which
    Spark's listing skips), so the Spark build gives their sources an empty view of these columns
    (dbt_project/macros/cross_db/raw_sources.sql). Keys: ``<platform>.<entity>``."""
    import pyarrow.parquet as pq
    from pyspark.sql.pandas.types import from_arrow_schema

    out: dict[str, list[list[str]]] = {}
    for declared in sorted((lake / "raw").glob("*/*/_schema.parquet")):
        entity = declared.parent
        if not any(entity.glob("ingest_date=*/*.parquet")):
            columns = from_arrow_schema(pq.read_schema(declared)).fields
            out[f"{entity.parent.name}.{entity.name}"] = [[c.name, c.dataType.simpleString()] for c in columns]
    return out


def run_dbt(args: Sequence[str], *, settings: Settings | None = None, check: bool = True,
            target: str | None = None) -> DbtResult:
    """Run a dbt command (``["build"]``, ``["build", "--select", "staging"]``, ``["docs", "generate"]``...) on
    the project, with the settings as vars; raises ``DbtFailed`` naming the failed nodes when ``check``.
    ``target``: the profile's output, the DuckDB warehouse by default; ``SPARK_TARGET`` builds on Spark (its own
    dbt target directory; the records of the warehouse's last build are the DuckDB warehouse's only)."""
    import json

    from dbt.cli.main import dbtRunner

    settings = settings or get_settings()
    where = paths(settings)
    where.warehouse.parent.mkdir(parents=True, exist_ok=True)
    given = dbt_vars(settings)
    args = list(args)
    spark = target == SPARK_TARGET
    if spark:
        if not isinstance(where.lake, Path):
            raise ValueError(f"the Spark build reads the raw zone from a folder, not from {where.lake}: a Spark "
                             "cluster reads an object store through its own S3 connector (docs/deployment.md)")
        where.spark.mkdir(parents=True, exist_ok=True)
        given["spark_unlanded_sources"] = unlanded_sources(where.lake)
    builds = bool(args) and args[0] in ("build", "run")
    # the store keeps the DuckDB warehouse's builds; a Spark build keeps its tables under $GRIDLAKE_HOME/spark
    builds_in_store = None if spark else _builds(settings)
    if builds_in_store is not None and args and args[0] in _READS_WAREHOUSE:
        _check_out(builds_in_store, where)
        _marker(where).unlink(missing_ok=True)  # dbt may change the copy from here on
    read: dict[str, Any] = {}
    if builds:  # a load killed between its commit and its move: its files must be in place for dbt's globs
        from gridlake.lake import Lake

        lake = Lake.default(settings)
        finished = lake.finish_committed()
        if finished:
            log.warning("moved %d committed batches left in staging by killed loads into place", finished)
        read = {"started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "raw_batches": lake.committed_batches()}
    # on Spark the incremental models are tables (dbt_project/README.md, "Spark"): nothing kept to rebuild
    changed = settings_changed(where, given) if builds and not spark and "--full-refresh" not in args else {}
    if changed:
        # Incremental models keep what they computed with the settings of their last build (a threshold, a
        # stuck or gap limit): with other settings, only a rebuild from scratch gives what a full build gives.
        log.warning("settings changed since the last build (%s): rebuilding incremental models from scratch",
                    ", ".join(f"{name} {old} -> {new}" for name, (old, new) in sorted(changed.items())))
        args.append("--full-refresh")
    command = [*args, "--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR),
               "--target-path", str(where.spark / "target" if spark else where.target), "--log-path", str(where.logs),
               "--vars", json.dumps(given)]
    if target:
        command += ["--target", target]
    with _environment(where):
        try:
            result = dbtRunner().invoke(command)
        finally:
            if not spark:
                _release_warehouse()
    nodes: dict[str, tuple[str, str]] = {}
    for item in getattr(result.result, "results", None) or []:
        node = getattr(item, "node", None)
        name = getattr(node, "unique_id", None) or str(node)
        nodes[name] = (str(getattr(item.status, "value", item.status)), str(item.message or ""))
    outcome = DbtResult(tuple(args), nodes, result)
    whole = not any(arg in _SELECTORS for arg in args)
    if builds and whole and result.success and not spark:  # the settings the whole warehouse was built with, now
        _vars_path(where).write_text(json.dumps(given, sort_keys=True, indent=1), encoding="utf-8")
        # ... and the raw batches it read (at least these: a load committed during the build may be in too)
        read["finished_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        build_record_path(where).write_text(json.dumps(read, indent=1), encoding="utf-8")
    if builds_in_store is not None and result.success and args and args[0] in _WRITES_WAREHOUSE:
        # a partial build changed the warehouse too: a new build, with the records of the last whole one
        _commit(builds_in_store, where)
    if check and not result.success:
        failed = outcome.failed()
        detail = "; ".join(f"{node}: {message}" for node, message in sorted(failed.items())) \
            or str(result.exception or "see the dbt log in " + str(where.logs))
        raise DbtFailed(f"dbt {' '.join(args)} failed: {detail}")
    return outcome
