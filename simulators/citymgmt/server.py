"""The fusion platform's read-only replica as a running PostgreSQL on loopback, moved by the shared clock.

db = CitymgmtDatabase(dataset, reader_password=settings.citymgmt_password).start()
clock.subscribe(db.on_clock)        # reveals what the platform has committed up to the clock's now
db.uri                              # postgresql://reader:<password>@127.0.0.1:PORT/citymgmt
db.stop()
"""

from __future__ import annotations

import threading
from datetime import datetime
from types import TracebackType

import psycopg

from simulators.citymgmt.postgres import LocalPostgres
from simulators.citymgmt.schema import DATABASE, READER_PASSWORD, READER_USER, restrict_reader, reveal
from simulators.dataset import Dataset

__all__ = ["CitymgmtDatabase"]


class CitymgmtDatabase:
    """Serves a generated dataset's ``pgdata`` on ``127.0.0.1:port`` (a free port when 0); ``start()`` gives
    the login ``reader`` the password ``reader_password`` (the one ``uri`` carries)."""

    def __init__(self, dataset: Dataset, *, port: int = 0, reader_password: str = READER_PASSWORD) -> None:
        if not reader_password:
            raise ValueError("the citymgmt reader needs a password: PostgreSQL never accepts an empty one")
        if not (dataset.pgdata / "PG_VERSION").exists():
            raise FileNotFoundError(f"no citymgmt database in {dataset.pgdata}: generate the dataset first")
        self.dataset = dataset
        self._pg = LocalPostgres(dataset.pgdata, port=port)
        self._reader_password = reader_password
        self._admin: psycopg.Connection | None = None
        self._lock = threading.Lock()
        self.revealed_until: datetime | None = None

    def start(self) -> CitymgmtDatabase:
        self._pg.start()
        try:
            self._admin = psycopg.connect(self._pg.admin_conninfo(DATABASE), autocommit=True)
            restrict_reader(self._admin, password=self._reader_password)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        with self._lock:
            if self._admin is not None:
                self._admin.close()
                self._admin = None
        self._pg.stop()

    def __enter__(self) -> CitymgmtDatabase:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._pg.port

    @property
    def uri(self) -> str:
        """The read-only login's libpq URI (the ``citymgmt_db`` connection of specs/README.md)."""
        return self._pg.uri(READER_USER, self._reader_password, DATABASE)

    @property
    def admin_conninfo(self) -> str:
        """The superuser over the local socket (for the simulator's own tools, not for connectors)."""
        return self._pg.admin_conninfo(DATABASE)

    def on_clock(self, now: datetime) -> dict[str, int]:
        """Reveal every row the platform has committed by ``now`` (a ``SimClock`` listener)."""
        with self._lock:
            if self._admin is None:
                raise RuntimeError(f"the citymgmt database of {self.dataset.root} is not started")
            moved = reveal(self._admin, now)
            self.revealed_until = now
            return moved
