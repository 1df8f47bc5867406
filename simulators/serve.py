"""Start the five platforms of a generated dataset on loopback, and say how to reach them.

``Simulators(dataset).start()`` starts the fusion platform's PostgreSQL, the three HTTP platforms (one
uvicorn server each, sharing one clock) and the statistics drop, and gives the Airflow connections of
specs/README.md that reach them. ``stop()`` stops everything it started.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from gridlake.connections import env_var_name
from simulators.clock import SimClock
from simulators.dataset import Dataset
from simulators.faults import Ambient, FaultPlan, SimControl
from simulators.http import Listener, ServerGroup
from simulators.settings import SimSettings

__all__ = ["CONNECTION_IDS", "Simulators"]

CONNECTION_IDS = ("hotline_api", "citymgmt_db", "enforcement_api", "credit_api", "statistics_drop")


@dataclass
class Simulators:
    dataset: Dataset
    settings: SimSettings = field(default_factory=SimSettings)
    clock: SimClock | None = None
    controls: dict[str, SimControl] = field(default_factory=dict)
    _group: ServerGroup | None = None
    _database: Any = None
    _drop: Any = None

    def start(self) -> "Simulators":
        # Heavy imports here: the platform modules pull in FastAPI, psycopg and spreadsheet writers.
        from simulators.citymgmt.server import CitymgmtDatabase
        from simulators.credit.server import create_app as credit_app
        from simulators.enforcement.server import create_app as enforcement_app
        from simulators.hotline.server import create_app as hotline_app
        from simulators.statistics.drop import StatisticsDrop

        if not self.dataset.exists:
            raise FileNotFoundError(f"no generated dataset at {self.dataset.root}: run `gridlake sim generate`")
        s = self.settings
        self.clock = SimClock(self.dataset.end(), state_path=self.dataset.state_path)
        try:
            self._database = CitymgmtDatabase(self.dataset, port=s.citymgmt_port,
                                              reader_password=s.citymgmt_password)
            self._database.start()
            self.clock.subscribe(self._database.on_clock)
            self._drop = StatisticsDrop(self.dataset)
            self.clock.subscribe(self._drop.publish_due)

            for name in ("hotline", "enforcement", "credit"):
                self.controls[name] = SimControl(clock=self.clock, plan=FaultPlan(), actions=dict(self._drop.actions))
            ambient = Ambient(error_rate=s.error_rate, rate_limit_per_s=s.rate_limit_per_s)
            hotline = hotline_app(self.dataset, control=self.controls["hotline"], api_key=s.hotline_api_key,
                                  ambient=ambient)
            enforcement = enforcement_app(
                self.dataset, control=self.controls["enforcement"], client_id=s.enforcement_client_id,
                client_secret=s.enforcement_client_secret, token_ttl_s=s.token_ttl_s, cursor_ttl_s=s.cursor_ttl_s,
                ambient=ambient)
            credit = credit_app(self.dataset, control=self.controls["credit"], api_key=s.credit_api_key,
                                ambient=Ambient(latency_s=s.credit_latency_s, error_rate=s.error_rate,
                                                rate_limit_per_s=s.rate_limit_per_s))
            self._group = ServerGroup([
                Listener("hotline", hotline, host=s.host, port=s.hotline_port),
                Listener("enforcement", enforcement, host=s.host, port=s.enforcement_port),
                Listener("credit", credit, host=s.host, port=s.credit_port),
            ]).start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self._group is not None:
            self._group.stop()
            self._group = None
        if self._database is not None:
            self._database.stop()
            self._database = None

    def __enter__(self) -> "Simulators":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def url(self, platform: str) -> str:
        """The root URL of an HTTP platform's server (its control API is at ``/_sim``)."""
        assert self._group is not None, "not started"
        return self._group.listeners[platform].url

    @property
    def database(self) -> Any:
        return self._database

    def connections(self) -> dict[str, dict[str, Any] | str]:
        """The Airflow connections that reach the running platforms: JSON form, and for the database the
        libpq URI (specs/README.md), which Airflow takes as a URI-form connection."""
        s = self.settings
        return {
            "hotline_api": {"conn_type": "http", "host": f"{self.url('hotline')}/open311/v2",
                            "password": s.hotline_api_key},
            "citymgmt_db": self._database.uri,
            "enforcement_api": {"conn_type": "http", "host": self.url("enforcement"),
                                "login": s.enforcement_client_id, "password": s.enforcement_client_secret},
            "credit_api": {"conn_type": "http", "host": f"{self.url('credit')}/credit/v1",
                           "password": s.credit_api_key},
            "statistics_drop": {"conn_type": "fs", "extra": {"path": str(self.dataset.drop_dir)}},
        }

    def environment(self) -> dict[str, str]:
        """The connections as the ``AIRFLOW_CONN_<ID>`` variables that carry them (DAGs, the CLI, tests, benches)."""
        return {env_var_name(conn_id): conn if isinstance(conn, str) else json.dumps(conn, ensure_ascii=False)
                for conn_id, conn in self.connections().items()}

    def exports(self) -> list[str]:
        """One ``export AIRFLOW_CONN_<ID>='...'`` line per connection, ready to paste into a shell."""
        return [f"export {name}='" + value.replace("'", "'\"'\"'") + "'"  # always single-quoted, safe to paste
                for name, value in self.environment().items()]
