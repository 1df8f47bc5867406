"""Every shared dataset's suite, in an order where a dataset comes after those it depends on."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from expectations import (
    city_events,
    enterprise_profile,
    grid_case_lifecycle,
    hotline_kpi_daily,
    hotline_kpi_monthly,
    hotline_requests,
    hotspots_monthly,
    iot_domain_daily,
    problem_ledger,
    responsibility_chain,
    seasonal_patterns,
)
from expectations.spec import Check, DatasetSpec, GateContext

__all__ = ["DATASETS", "SUITES"]

_MODULES = (hotline_requests, hotline_kpi_daily, hotline_kpi_monthly, grid_case_lifecycle, iot_domain_daily,
            enterprise_profile, hotspots_monthly, seasonal_patterns, city_events, problem_ledger,
            responsibility_chain)

DATASETS: dict[str, DatasetSpec] = {module.SPEC.name: module.SPEC for module in _MODULES}
SUITES: dict[str, Callable[[GateContext, Mapping[str, str]], list[Check]]] = {
    module.SPEC.name: module.checks for module in _MODULES
}
