"""Airflow connections from AIRFLOW_CONN_<ID> variables: JSON form, URI form, and a clear error when missing."""

from __future__ import annotations

import json

import pytest

from gridlake.connections import ConnectionNotFoundError, env_var_name, get_connection


def test_the_json_form_gives_host_key_and_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_HOTLINE_API", json.dumps(
        {"conn_type": "http", "host": "http://127.0.0.1:8311/open311/v2", "password": "k-123456",
         "extra": {"pii_salt": "s"}}))
    conn = get_connection("hotline_api")
    assert (conn.conn_id, conn.conn_type, conn.host, conn.password) == (
        "hotline_api", "http", "http://127.0.0.1:8311/open311/v2", "k-123456")
    assert conn.extra_dejson == {"pii_salt": "s"}


def test_the_uri_form_gives_the_libpq_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_CITYMGMT_DB", "postgresql://reader:secret@127.0.0.1:5432/citymgmt")
    conn = get_connection("citymgmt_db")
    assert (conn.host, conn.port, conn.login, conn.password, conn.schema) == (
        "127.0.0.1", 5432, "reader", "secret", "citymgmt")


def test_a_missing_connection_names_its_id_and_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_NOWHERE_API", raising=False)
    with pytest.raises(ConnectionNotFoundError, match=r"'nowhere_api'.*AIRFLOW_CONN_NOWHERE_API"):
        get_connection("nowhere_api")
    monkeypatch.setenv("AIRFLOW_CONN_NOWHERE_API", "   ")
    with pytest.raises(ConnectionNotFoundError, match="nowhere_api"):
        get_connection("nowhere_api")


def test_a_malformed_json_connection_names_its_id(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_BROKEN_API", '{"conn_type": "http", "host": ')
    with pytest.raises(ConnectionNotFoundError, match=r"'broken_api'.*AIRFLOW_CONN_BROKEN_API.*does not parse"):
        get_connection("broken_api")


def test_the_variable_name_is_the_upper_case_id() -> None:
    assert env_var_name("hotline_api") == "AIRFLOW_CONN_HOTLINE_API"
