"""The quality gates of the shared district datasets: one Great Expectations suite per dataset, built in code.

``validate_all`` validates candidate versions (their Parquet files, in place) and writes each dataset's result
as JSON and HTML; the publication side publishes a dataset only when its gate passed (gridlake/shared.py).
"""

from __future__ import annotations

from expectations.gate import validate_all
from expectations.spec import CheckResult, DatasetSpec, GateContext, GateResult
from expectations.suites import DATASETS

__all__ = ["DATASETS", "CheckResult", "DatasetSpec", "GateContext", "GateResult", "validate_all"]
