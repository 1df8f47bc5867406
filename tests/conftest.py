"""Shared fixtures: a small simulated district, generated once per test session."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta

import pytest

from simulators.dataset import Dataset
from simulators.generate import HORIZON, GenContext
from simulators.scenario import TZ, plan_scenario
from simulators.world import build_world
from tests.support import TEST_DAYS, TEST_END, TEST_SCALE, TEST_SEED, generate_dataset, serve_dataset


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


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    """A whole dataset of the five platforms, generated once per session."""
    return generate_dataset(tmp_path_factory, "generated")


@pytest.fixture(scope="session")
def served(generated: Dataset) -> Iterator:
    """The five platforms of ``generated``, running. Tests move its clock forward only; the connector tests
    have a district of their own (tests/connectors/conftest.py), so their clock moves do not reach these."""
    yield from serve_dataset(generated)


# the served test district, its lake and its built warehouse (session fixtures, built once when first asked for);
# an S3-compatible server on loopback for the lake and the shared zone on an object store
pytest_plugins = ["tests.warehouse", "tests.objectstore"]
