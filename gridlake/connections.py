"""Airflow connections, read the way Airflow reads them: from ``AIRFLOW_CONN_<ID>`` environment variables.

A deployment names and reaches its platforms through Airflow connections (specs/README.md). The DAGs, the
``gridlake`` command and the tests all set them as environment variables, in Airflow's JSON form or as a URI,
so one reader serves all three. Parsing is Airflow's own (``airflow.models.connection.Connection``),
imported only when a connection is asked for: the core package stays light to import.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow.models.connection import Connection

__all__ = ["ConnectionNotFoundError", "env_var_name", "get_connection"]


class ConnectionNotFoundError(LookupError):
    """No ``AIRFLOW_CONN_<ID>`` variable for a connection id, or one that does not parse."""


def env_var_name(conn_id: str) -> str:
    """The environment variable that holds a connection: ``hotline_api`` → ``AIRFLOW_CONN_HOTLINE_API``."""
    return "AIRFLOW_CONN_" + conn_id.upper()


def get_connection(conn_id: str) -> Connection:
    """The Airflow connection ``conn_id`` from its environment variable (JSON form or URI).

    Raises ``ConnectionNotFoundError`` naming the id and the variable when it is missing, blank or malformed.
    """
    name = env_var_name(conn_id)
    value = os.environ.get(name, "").strip()
    if not value:
        raise ConnectionNotFoundError(
            f"Airflow connection {conn_id!r} is not set: export {name} in Airflow's JSON form, e.g. "
            f"{name}='{{\"conn_type\": \"http\", \"host\": \"http://...\", \"password\": \"...\"}}', or as a URI")
    from airflow.models.connection import Connection  # heavy: Airflow's core, only when needed

    try:
        if value.startswith("{"):
            return Connection.from_json(value, conn_id=conn_id)
        return Connection(conn_id=conn_id, uri=value)
    except Exception as err:  # Airflow raises ValueError, JSONDecodeError, AirflowException...
        raise ConnectionNotFoundError(
            f"Airflow connection {conn_id!r} in {name} does not parse as Airflow's JSON form or a URI: "
            f"{type(err).__name__}: {err}") from err
