"""All five platforms together, as `gridlake sim serve` runs them: connections, links across platforms, truth."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import httpx
import psycopg
import pytest

from gridlake import uscc
from simulators.serve import CONNECTION_IDS


def _pg(sims) -> psycopg.Connection:
    return psycopg.connect(sims.connections()["citymgmt_db"])


def _hotline_get(sims, path: str, **params) -> httpx.Response:
    conn = sims.connections()["hotline_api"]
    answer = httpx.get(f"{conn['host']}{path}", params=params, headers={"X-API-Key": conn["password"]}, timeout=30)
    answer.raise_for_status()
    return answer


def _enforcement_case(sims, case_id: str) -> dict:
    conn = sims.connections()["enforcement_api"]
    token = httpx.post(f"{conn['host']}/oauth/token", data={
        "grant_type": "client_credentials", "client_id": conn["login"], "client_secret": conn["password"]}).json()
    answer = httpx.get(f"{conn['host']}/api/v1/cases/{case_id}",
                       headers={"Authorization": f"Bearer {token['access_token']}"})
    answer.raise_for_status()
    return answer.json()


def _credit_subject(sims, code: str) -> dict:
    conn = sims.connections()["credit_api"]
    answer = httpx.get(f"{conn['host']}/subjects/{code}", headers={"Authorization": f"ApiKey {conn['password']}"})
    answer.raise_for_status()
    return answer.json()


def test_the_exports_are_airflow_connections_for_every_platform(served) -> None:
    lines = served.exports()
    names = [re.match(r"export AIRFLOW_CONN_([A-Z_]+)=", line).group(1).lower() for line in lines]
    assert names == list(CONNECTION_IDS)
    for name, line in zip(names, lines):
        quoted = line.split("=", 1)[1]
        assert quoted.startswith("'") and quoted.endswith("'")
        value = shlex.split(quoted)[0]
        if name == "citymgmt_db":  # the libpq URI of specs/README.md
            assert re.fullmatch(r"postgresql://reader:[^@]+@127\.0\.0\.1:\d+/citymgmt", value)
        else:
            assert "conn_type" in json.loads(value)


def test_each_connection_reaches_its_platform(served) -> None:
    assert int(_hotline_get(served, "/requests.json", page_size=1).headers["X-Total-Count"]) > 0
    with _pg(served) as con:
        assert con.execute("select count(*) from grid.case").fetchone()[0] > 0
    drop = Path(served.connections()["statistics_drop"]["extra"]["path"])
    assert any((folder / "manifest.json").exists() for folder in drop.iterdir())


def test_a_planted_fume_chain_is_linked_across_four_platforms(served) -> None:
    chain = served.dataset.truth()["scenario"]["fume_chains"][0]
    for complaint in chain["complaints"]:
        order = _hotline_get(served, f"/requests/{complaint['request_id']}.json", extensions="true").json()[0]
        assert order["service_code"] == "102001"
        with _pg(served) as con:
            row = con.execute("select hotline_request_id, origin from grid.case where case_id = %s",
                              (complaint["grid_case_id"],)).fetchone()
        assert row == (complaint["request_id"], "hotline")
    case = _enforcement_case(served, chain["enforcement_case_id"])
    last = chain["complaints"][-1]
    assert case["grid_case_id"] == last["grid_case_id"]
    assert case["hotline_request_id"] == last["request_id"]
    assert uscc.normalise(case["party"]["uscc"]) == chain["uscc"]
    with _pg(served) as con:
        exceed_days = con.execute(
            "select distinct (r.measured_at at time zone 'Asia/Shanghai')::date from fume.reading r"
            " where r.restaurant_id = %s and r.concentration_mg_m3 > 1.0 and r.concentration_mg_m3 < 999",
            (chain["restaurant_id"],)).fetchall()
    assert sorted(str(d) for (d,) in exceed_days) == chain["exceed_days"]


def test_a_black_listed_enterprise_has_its_record_and_its_penalties(served) -> None:
    case = served.dataset.truth()["scenario"]["blacklisted_enterprises"][0]
    subject = _credit_subject(served, case["uscc"])
    records = {record["record_id"]: record for record in subject["records"]}
    assert records[case["black_list_record_id"]]["kind"] == "black_list"
    assert {records[rid]["kind"] for rid in case["penalty_record_ids"]} == {"penalty"}
    for case_id in case["enforcement_case_ids"]:
        assert uscc.normalise(_enforcement_case(served, case_id)["party"]["uscc"]) == case["uscc"]


def test_repeat_hotspots_are_served_as_planted(served) -> None:
    for spot in served.dataset.truth()["scenario"]["repeat_hotspots"]:
        for request_id in spot["request_ids"]:
            order = _hotline_get(served, f"/requests/{request_id}.json", extensions="true").json()[0]
            assert order["service_code"] == spot["service_code"]
            assert order["extended_attributes"]["community_code"] == spot["community_code"]


def test_moving_the_clock_reveals_changes_on_every_live_platform(served) -> None:
    before = served.clock.now()
    answer = httpx.post(f"{served.url('credit')}/_sim/clock", json={"advance_seconds": 6 * 3600})
    assert answer.status_code == 200
    changed = _hotline_get(served, "/requests.json", updated_after=before.isoformat(), page_size=1)
    assert int(changed.headers["X-Total-Count"]) > 0
    with _pg(served) as con:
        fresh = con.execute("select count(*) from dust.reading where updated_at > %s", (before,)).fetchone()[0]
    assert fresh > 0
    assert served.clock.now() - before == timedelta(hours=6)


def test_serve_generates_prints_the_connections_and_stops_everything_on_interrupt(tmp_path: Path) -> None:
    env = dict(os.environ, GRIDLAKE_HOME=str(tmp_path), GRIDLAKE_SIM_HOTLINE_PORT="0",
               GRIDLAKE_SIM_ENFORCEMENT_PORT="0", GRIDLAKE_SIM_CREDIT_PORT="0", GRIDLAKE_SIM_CITYMGMT_PORT="0",
               GRIDLAKE_SIM_CREDIT_LATENCY_S="[0, 0]", GRIDLAKE_SIM_ERROR_RATE="0",
               GRIDLAKE_SIM_CITYMGMT_PASSWORD="from the environment")
    command = [sys.executable, "-m", "gridlake", "sim", "serve", "--scale", "0.01", "--days", "3",
               "--end", "2026-11-20"]
    # started with SIGINT ignored, as a shell without job control starts a background job (a CI script): the
    # command must still stop on it
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    exports: list[str] = []
    try:
        for line in process.stdout:
            if line.startswith("export AIRFLOW_CONN_"):
                exports.append(line.strip())
            if len(exports) == len(CONNECTION_IDS):
                break
        hotline = json.loads(shlex.split(exports[0].split("=", 1)[1])[0])
        answer = httpx.get(f"{hotline['host']}/services.json", headers={"X-API-Key": hotline["password"]})
        assert answer.status_code == 200
        uri = shlex.split(exports[1].split("=", 1)[1])[0]
        assert "from%20the%20environment@" in uri  # the configured password, escaped in the URI
        with psycopg.connect(uri) as con:
            assert con.execute("select count(*) from grid.cell").fetchone()[0] > 0
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()  # not left serving after the test failed
            raise
    assert process.returncode == 0
    assert (tmp_path / "sim" / "default" / "truth.json").exists()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{hotline['host']}/services.json", headers={"X-API-Key": hotline["password"]})
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(uri, connect_timeout=3)
