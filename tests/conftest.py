"""Shared fixtures: a small simulated district, generated once per test session."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta

import pytest

from simulators.dataset import Dataset
from simulators.generate import HORIZON, GenContext
from simulators.scenario import TZ, plan_scenario
from simulators.world import build_world

# A small district over ten November days (the heating season starts): fast to generate, every pattern there.
TEST_SEED = 7
TEST_SCALE = 0.02
TEST_DAYS = 10
TEST_END = date(2026, 11, 20)


@pytest.fixture(scope="session")
def make_context(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., GenContext]:
    """Build a generation context (world, scenario, an empty dataset folder) without generating anything."""

    def make(*, seed: int = TEST_SEED, scale: float = TEST_SCALE, days: int = TEST_DAYS,
             end: date = TEST_END, name: str = "ctx") -> GenContext:
        end_at = datetime(end.year, end.month, end.day, tzinfo=TZ)
        start_at = end_at - timedelta(days=days)
        world = build_world(seed=seed, scale=scale)
        dataset = Dataset(tmp_path_factory.mktemp(name))
        return GenContext(dataset=dataset, world=world, scenario=plan_scenario(world, start=start_at, end=end_at),
                          seed=seed, start=start_at, end=end_at, horizon=end_at + HORIZON, log=lambda _: None)

    return make


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


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    """A whole dataset of the five platforms, generated once per session."""
    return generate_dataset(tmp_path_factory, "generated")


@pytest.fixture(scope="session")
def served(generated: Dataset) -> Iterator:
    """The five platforms of ``generated``, running. Tests move its clock forward only; the connector tests
    have a district of their own (tests/connectors/conftest.py), so their clock moves do not reach these."""
    yield from serve_dataset(generated)
