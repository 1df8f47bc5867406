"""What a gate is given and what it answers: the datasets, the run's context, a check and its result.

These names are the interface the publication side (gridlake/shared.py) codes against. Nothing here imports
Great Expectations, so reading ``DATASETS`` costs nothing; the suites are built only when a gate runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from gridlake.settings import Settings

__all__ = ["Check", "CheckResult", "DatasetSpec", "GateContext", "GateResult"]


@dataclass(frozen=True)
class DatasetSpec:
    """A shared dataset (a dbt mart) as the gate sees it."""

    name: str  # the mart's name
    key: tuple[str, ...]  # its grain's key columns
    depends_on: tuple[str, ...]  # other shared datasets it must be consistent with (held back when they fail)
    time_columns: tuple[str, ...]  # columns that must not be in the future
    freshness_column: str | None  # the column whose max must be within freshness_lag of the newest raw data


@dataclass(frozen=True)
class GateContext:
    """What a run of the gates knows beyond the candidate files."""

    now: datetime  # aware; "the future" starts here
    newest_raw_at: datetime | None  # the newest raw data time the build read (freshness); None: not checked
    previous_rows: Mapping[str, int]  # rows of each dataset's current published version (absent: first time)
    settings: Settings

    def __post_init__(self) -> None:
        for name in ("now", "newest_raw_at"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"GateContext.{name} must be an aware datetime, got {value!r}")


@dataclass(frozen=True)
class Check:
    """One check of a suite, before it runs: a GX expectation (class name and arguments) and how to report it.

    ``sample_sql`` selects the failing rows (the key columns and the offending column) from ``{batch}``, the
    candidate's view; ``reads`` names the other datasets whose views the check reads (skipped when one is not a
    candidate of the run); ``skipped`` says why the check is not evaluated at all (no previous version, ...).
    """

    name: str
    expectation: str
    kwargs: Mapping[str, Any]
    column: str | None
    title: str  # what the check ensures, in Chinese (the report's rule column)
    failure: str  # the reason when it fails, in Chinese; {n}: rows that fail, {observed}: the observed value
    sample_sql: str | None = None
    reads: tuple[str, ...] = ()
    skipped: str | None = None


@dataclass(frozen=True)
class CheckResult:
    """One check's outcome, as kept in the run's JSON and shown in its HTML page."""

    check: str  # a stable name, e.g. "key_unique", "rate_consistent:response_rate", "no_phone_numbers"
    expectation: str  # the GX expectation type
    column: str | None
    success: bool
    observed: Any  # JSON-able: the observed value / counts
    unexpected_count: int | None
    sample: list[dict] = field(default_factory=list)  # up to 5 failing rows, personal values masked
    reason: str = ""  # one line in Chinese for the centre's staff
    reads: tuple[str, ...] = ()  # the other datasets a cross-dataset rule compared this one with


@dataclass(frozen=True)
class GateResult:
    """A dataset's gate in one run."""

    dataset: str
    run_id: str
    success: bool
    checks: tuple[CheckResult, ...]
    statistics: dict  # evaluated / successful / unsuccessful (and skipped) counts
    json_path: Path  # machine-readable result of this dataset in this run
    html_path: Path  # its page (renders offline)

    @property
    def failed(self) -> tuple[CheckResult, ...]:
        """The checks that did not pass."""
        return tuple(check for check in self.checks if not check.success)
