"""What the test suites share: the test district's settings, and how to generate and serve a whole one."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from simulators.dataset import Dataset
from simulators.scenario import TZ

__all__ = ["TEST_DAYS", "TEST_END", "TEST_SCALE", "TEST_SEED", "bare_server", "generate_dataset", "instant",
           "send_json", "serve_dataset"]

# A small district over ten November days (the heating season starts): fast to generate, every pattern there.
TEST_SEED = 7
TEST_SCALE = 0.02
TEST_DAYS = 10
TEST_END = date(2026, 11, 20)


def generate_dataset(tmp_path_factory: pytest.TempPathFactory, name: str, *, scale: float = TEST_SCALE,
                     days: int = TEST_DAYS) -> Dataset:
    """A whole dataset of the five platforms at the test settings (or another scale and span ending on the same
    day), generated with the orchestrator."""
    from simulators.generate import generate

    dataset = Dataset(tmp_path_factory.mktemp(name) / "sim" / "test")
    generate(dataset, seed=TEST_SEED, scale=scale, days=days, end=TEST_END, log=lambda _: None)
    return dataset


def serve_dataset(dataset: Dataset) -> Iterator:
    """The five platforms of a dataset on free loopback ports, with no artificial latency, errors or limits."""
    from simulators.serve import Simulators
    from simulators.settings import SimSettings

    settings = SimSettings(hotline_port=0, enforcement_port=0, credit_port=0, citymgmt_port=0,
                           credit_latency_s=(0.0, 0.0), error_rate=0.0, rate_limit_per_s=0.0)
    with Simulators(dataset, settings=settings) as sims:
        yield sims


def instant(value: str | datetime) -> str:
    """A served time as one spelling of its instant (local ISO), so ``Z`` and ``+08:00`` compare equal."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return (moment if moment.tzinfo else moment.replace(tzinfo=TZ)).astimezone(TZ).isoformat()


def send_json(handler: BaseHTTPRequestHandler, status: int, body: Any) -> None:
    """Answer a bare test server's request with a JSON body."""
    data = json.dumps(body, ensure_ascii=False).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


@contextmanager
def bare_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A plain http.server on a free loopback port (a platform written from its spec, not the simulator)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
