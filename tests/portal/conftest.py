"""The query service and portal, served for real on loopback (uvicorn in a thread) over the test district's
published shared zone, with a token per role: two street offices (东华门 and 东四), the urban-management and
environment bureaus, the credit office, the statistics bureau and the centre."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx
import pytest
import uvicorn

from gridlake.settings import Settings
from portal.app import create_app
from portal.policy import default_policies
from portal.tokens import TokenStore

STREET = "110101001"  # 东华门
OTHER_STREET = "110101006"  # 东四
ROLES = {
    "street": ("street_office", {"street_code": STREET}),
    "other_street": ("street_office", {"street_code": OTHER_STREET}),
    "urban": ("urban_management", {}),
    "environment": ("environment", {}),
    "credit": ("credit_office", {}),
    "statistics": ("statistics_bureau", {}),
    "centre": ("centre", {}),
}
# an alert as the publish flow writes one when a dataset fails its gate (publication/flow.py)
FAILED_PUBLICATION = {"at": "2026-11-21T01:00:00+00:00", "run_id": "20261121T010000000000Z",
                      "dataset": "hotline_kpi_daily", "status": "failed",
                      "title": "hotline_kpi_daily：未通过质量检查，未发布",
                      "reasons": ["主键重复：3 行 (unit_day_key)"], "result": None}


@dataclass
class Service:
    url: str
    home: Path
    settings: Settings
    tokens: dict[str, str]  # ROLES key -> token

    def client(self, who: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def portal_home(published: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A home reading the published shared zone (its catalog and versions linked, its alerts its own: one failed
    publication, as the publish flow records it), with the daily bulletin written."""
    from gridlake.shared import SharedZone
    from reports import write_report

    home = tmp_path_factory.mktemp("portal-home")
    (home / "shared").mkdir()
    for item in (published.home / "shared").iterdir():
        if item.name != "_alerts.jsonl":
            (home / "shared" / item.name).symlink_to(item)
    zone = SharedZone(home / "shared")
    zone.add_alerts([FAILED_PUBLICATION | {
        "current_version": zone.catalog()["datasets"]["hotline_kpi_daily"]["current"]["version"]}])
    settings = Settings(home=home)
    write_report("daily", date(2026, 11, 20), settings, pdf=False)
    return settings


@contextmanager
def serving(settings: Settings) -> Iterator[str]:
    """The portal over ``settings.home``, served on loopback (uvicorn in a thread) while the block runs: its URL."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings, default_policies()), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the portal did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def issue_tokens(settings: Settings) -> dict[str, str]:
    """A token per ROLES key, issued into ``settings.home``'s token store."""
    store = TokenStore(settings.home / "portal" / "tokens.json")
    return {who: store.issue(f"test-{who}", role, attributes).token for who, (role, attributes) in ROLES.items()}


@pytest.fixture(scope="session")
def service(portal_home: Settings) -> Iterator[Service]:
    tokens = issue_tokens(portal_home)
    with serving(portal_home) as url:
        yield Service(url, portal_home.home, portal_home, tokens)
