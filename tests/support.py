"""What the test suites share: the test district's settings, and how to generate and serve a whole one."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from simulators.dataset import Dataset

__all__ = ["TEST_DAYS", "TEST_END", "TEST_SCALE", "TEST_SEED", "generate_dataset", "serve_dataset"]

# A small district over ten November days (the heating season starts): fast to generate, every pattern there.
TEST_SEED = 7
TEST_SCALE = 0.02
TEST_DAYS = 10
TEST_END = date(2026, 11, 20)


def generate_dataset(tmp_path_factory: pytest.TempPathFactory, name: str) -> Dataset:
    """A whole dataset of the five platforms at the test settings, generated with the orchestrator."""
    from simulators.generate import generate

    dataset = Dataset(tmp_path_factory.mktemp(name) / "sim" / "test")
    generate(dataset, seed=TEST_SEED, scale=TEST_SCALE, days=TEST_DAYS, end=TEST_END, log=lambda _: None)
    return dataset


def serve_dataset(dataset: Dataset) -> Iterator:
    """The five platforms of a dataset on free loopback ports, with no artificial latency, errors or limits."""
    from simulators.serve import Simulators
    from simulators.settings import SimSettings

    settings = SimSettings(hotline_port=0, enforcement_port=0, credit_port=0, citymgmt_port=0,
                           credit_latency_s=(0.0, 0.0), error_rate=0.0, rate_limit_per_s=0.0)
    with Simulators(dataset, settings=settings) as sims:
        yield sims
