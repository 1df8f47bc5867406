"""The connectors' tests read a district of their own: they move its clock by days, which would leave the
simulators' own tests (tests/simulators) with nothing left to change."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gridlake.lake import Lake
from tests.support import generate_dataset, serve_dataset


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    yield from serve_dataset(generate_dataset(tmp_path_factory, "connectors"))


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    """An empty lake for one test."""
    return Lake(tmp_path / "lake")
