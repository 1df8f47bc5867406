"""What each test user (conftest.ROLES) should see, stated here apart from portal/policies.yaml - the tests hold the
service to this, not to the policy it enforces - and a reader of the query log's new lines."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from expectations import DATASETS
from tests.portal.conftest import OTHER_STREET, STREET

__all__ = ["EXPECTED", "FIGURES", "PERSONAL", "LogTail", "Sees", "is_chinese"]

# single enterprises' statistics figures (统计法): the bureau and the centre only
FIGURES = ("revenue_wan_cny", "profit_wan_cny", "tax_wan_cny", "employees", "energy_tce")
# personal data: no one, whatever a dataset holds
PERSONAL = ("complainant_name", "complainant_phone", "name", "phone", "mobile", "id_number", "id_card",
            "address_detail")
URBAN_DOMAINS = ("garbage_sorting", "sanitation_vehicle", "personnel", "grid_supervision", "static_traffic",
                 "enforcement")
ENVIRONMENT_DOMAINS = ("cooking_fume", "heavy_diesel", "road_dust")

Rows = Callable[[pd.DataFrame], "pd.Series[bool]"]


@dataclass(frozen=True)
class Sees:
    """A user's view: per dataset it may read, which published rows it sees and which columns are empty to it."""

    rows: dict[str, Rows]
    masked: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def frame(self, dataset: str, published: pd.DataFrame) -> pd.DataFrame:
        return published[self.rows[dataset](published).fillna(False).astype(bool)]


def _every(frame: pd.DataFrame) -> pd.Series:
    return pd.Series(True, index=frame.index)


def _street(code: str) -> Rows:
    return lambda frame: frame["street_code"] == code


def _unit(kind: str, code: str) -> Rows:
    return lambda frame: (frame["unit_type"] == kind) & (frame["unit_code"] == code)


def _domains(domains: tuple[str, ...]) -> Rows:
    return lambda frame: frame["domain_code"].isin(domains)


def _domains_or_final_unit(domains: tuple[str, ...], unit: str) -> Rows:
    return lambda frame: frame["domain_code"].isin(domains) | (frame["final_unit_code"] == unit)


def _street_office(code: str) -> Sees:
    by_street = ("hotline_requests", "grid_case_lifecycle", "iot_domain_daily", "hotspots_monthly", "city_events",
                 "problem_ledger", "responsibility_chain", "enterprise_profile")
    return Sees({**{name: _street(code) for name in by_street},
                 "hotline_kpi_daily": _unit("street", code), "hotline_kpi_monthly": _unit("street", code)},
                {"enterprise_profile": FIGURES})


def _department(unit: str, domains: tuple[str, ...], rows: dict[str, Rows]) -> dict[str, Rows]:
    return {"hotline_requests": _domains_or_final_unit(domains, unit), "hotline_kpi_daily": _unit("department", unit),
            "hotline_kpi_monthly": _unit("department", unit), "iot_domain_daily": _domains(domains),
            "city_events": _domains(domains), "problem_ledger": _domains(domains), **rows}


EXPECTED: dict[str, Sees] = {
    "street": _street_office(STREET),
    "other_street": _street_office(OTHER_STREET),
    "urban": Sees(_department("D01", URBAN_DOMAINS, {
        "grid_case_lifecycle": _every, "hotspots_monthly": _every,
        "responsibility_chain": _domains(URBAN_DOMAINS)})),
    "environment": Sees(_department("D03", ENVIRONMENT_DOMAINS, {
        "enterprise_profile": lambda frame: frame["is_monitored_restaurant"]}), {"enterprise_profile": FIGURES}),
    "credit": Sees({"enterprise_profile": _every, "city_events": lambda frame: frame["uscc"].notna()},
                   {"enterprise_profile": FIGURES}),
    "statistics": Sees({name: _every for name in ("enterprise_profile", "hotline_kpi_monthly", "hotspots_monthly",
                                                  "seasonal_patterns")}),
    "centre": Sees({name: _every for name in DATASETS}),
}


def is_chinese(text: str) -> bool:
    """Whether a reason is written for staff: it holds Chinese."""
    return any("\u4e00" <= char <= "\u9fff" for char in text)


class LogTail:
    """The lines the query log gains from now on."""

    def __init__(self, home: Path) -> None:
        self.path = home / "portal" / "query_log.jsonl"
        self.offset = self.path.stat().st_size if self.path.exists() else 0

    def new(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        with self.path.open("rb") as handle:
            handle.seek(self.offset)
            data = handle.read()
        self.offset += len(data)
        return [json.loads(line) for line in data.decode("utf-8").splitlines() if line]
