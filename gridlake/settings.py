"""All of gridlake's settings in one place.

Every working limit, threshold and weight of the district's working definitions (specs/reference.md,
specs/kpis.md) is a named setting with the district's default. Settings are read from the environment
(``GRIDLAKE_HOME``, ``GRIDLAKE_THRESHOLDS__FUME_MG_M3=1.2``, ...), so a deployment changes them without code.
"""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = [
    "GridLimits",
    "HotlineLimits",
    "KpiWeights",
    "LinkRules",
    "PublishRules",
    "RepeatRules",
    "RiskRules",
    "SensorThresholds",
    "Settings",
    "TimeLimit",
    "get_settings",
    "repo_root",
]


def repo_root() -> Path:
    """The checkout this package runs from (the default lake root lives under it)."""
    return Path(__file__).resolve().parent.parent


class TimeLimit(BaseModel):
    """How long a handling unit has to respond to (first contact) and to resolve a work order."""

    respond: timedelta
    resolve: timedelta


class _PartlyGiven(BaseModel):
    """Nested settings given in part (``GRIDLAKE_HOTLINE__NORMAL__RESOLVE=P10D``) keep the defaults of the rest."""

    @model_validator(mode="before")
    @classmethod
    def _merge_with_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        merged = dict(data)
        for name, field in cls.model_fields.items():
            if isinstance(field.default, BaseModel) and isinstance(merged.get(name), dict):
                merged[name] = {**field.default.model_dump(), **merged[name]}
        return merged


class HotlineLimits(_PartlyGiven):
    """Time limits per urgency (reference.md, "Time limits")."""

    urgent: TimeLimit = TimeLimit(respond=timedelta(hours=2), resolve=timedelta(hours=24))
    utility: TimeLimit = TimeLimit(respond=timedelta(hours=2), resolve=timedelta(hours=24))
    normal: TimeLimit = TimeLimit(respond=timedelta(hours=24), resolve=timedelta(days=7))
    complex: TimeLimit = TimeLimit(respond=timedelta(hours=24), resolve=timedelta(days=15))

    def for_urgency(self, urgency: str) -> TimeLimit:
        """The limits of one urgency; an unknown urgency is an error, not a silent default."""
        try:
            return getattr(self, urgency)
        except AttributeError:
            raise KeyError(f"unknown urgency {urgency!r}") from None


class GridLimits(BaseModel):
    """Grid case limits (reference.md): dispatch after filing, handling per kind, verification."""

    dispatch: timedelta = timedelta(hours=1)
    handle_component: timedelta = timedelta(days=3)
    handle_event: timedelta = timedelta(days=2)
    verify: timedelta = timedelta(days=1)


class SensorThresholds(BaseModel):
    """Sensor thresholds (reference.md, "Sensor thresholds")."""

    fume_mg_m3: float = 1.0
    dust_load_g_m2: float = 0.5
    dust_load_severe_g_m2: float = 1.0
    diesel_nox_ppm: float = 500.0
    diesel_min_speed_kmh: float = 20.0
    parking_saturation: float = 0.95
    stuck_sensor: timedelta = timedelta(hours=6)
    # A sensor silent longer than this between two readings was offline (reference.md names no limit). A few
    # times the normal reporting interval of the fixed sensors (citymgmt.md: dust every 5 minutes, fumes every 10
    # while open, parking counts every 15): a reading or two set aside (deleted, quarantined) is not an outage,
    # an hour without one is - 12 dust readings, 4 counts missed.
    offline_gap: timedelta = timedelta(hours=1)


class KpiWeights(BaseModel):
    """The weights of the composite score and of 'basically satisfied' (kpis.md)."""

    basically_satisfied: float = 1.0
    response: float = 0.2
    resolution: float = 0.4
    satisfaction: float = 0.4


class RepeatRules(BaseModel):
    """Windows and counts of repeats, hotspots and the long-standing problem ledger (kpis.md)."""

    repeat_window: timedelta = timedelta(days=7)
    hotspot_window: timedelta = timedelta(days=30)
    hotspot_min_orders: int = 3
    ledger_hotspot_months: int = 3
    ledger_lookback_months: int = 6
    ledger_min_channels: int = 2
    ledger_channel_months: int = 3
    top_n: int = 20
    seasonal_ratio: float = 1.5
    frontage_radius_m: float = 50.0


class RiskRules(BaseModel):
    """The limits of the enterprise risk rule (enterprise_profile; kpis.md names the inputs, not the limits)."""

    fine_window: timedelta = timedelta(days=365)  # how far back an enforcement fine counts as recent
    repeat_fines: int = 2  # recent fined cases that make an enterprise high risk on their own


class LinkRules(BaseModel):
    """How events are located and linked where the platforms carry no id (intermediate/places, links, ledger)."""

    max_cell_distance_m: float = 200.0  # a point farther from every unit grid centroid is not in the grid
    case_radius_m: float = 100.0  # same matter, this close: candidates for a link by place
    report_window_hours: int = 48  # ...and within this time of each other
    report_lead_hours: int = 1  # a grid case may be filed this long before the order it answers
    enforcement_window_days: int = 14  # a report this long before an enforcement case on the same enterprise
    exceedance_margin_hours: int = 3  # a report and a sensor exceedance of that restaurant this close in time
    recent_exceedance_days: int = 30  # the responsibility chain's "recent" exceedances


class PublishRules(BaseModel):
    """Quality gates and publication of the shared district datasets (expectations/, gridlake/shared.py)."""

    # a new version's row count may differ from the current one's by this share at most (0.5: half to 1.5 times)
    row_count_band: float = 0.5
    # a dataset's newest time may lag the newest raw batch's data by this much
    freshness_lag: timedelta = timedelta(days=2)
    # published versions are kept this long after they stop being current (readers may ask for a date)
    keep_versions: timedelta = timedelta(days=30)
    # where an alert is also posted (JSON), when set: GRIDLAKE_PUBLISH__ALERT_WEBHOOK=http://...
    alert_webhook: str | None = None


class Settings(BaseSettings):
    """gridlake's settings; environment variables start with ``GRIDLAKE_`` and nest with ``__``."""

    model_config = SettingsConfigDict(env_prefix="GRIDLAKE_", env_nested_delimiter="__", extra="ignore")

    home: Path = Field(default_factory=lambda: repo_root() / "var", description="the lake root")
    # Where what tasks share lives (the lake, the shared zone, the quality results, the warehouse's copy): a
    # folder or an object store's URI (s3://bucket/prefix; credentials from AIRFLOW_CONN_GRIDLAKE_STORE). Unset:
    # under ``home``, in place. ``home`` keeps what is a process's own (dbt's target and logs, a working copy
    # of the warehouse, the portal's users, the reports).
    store: str | None = None
    timezone: str = "Asia/Shanghai"
    district_code: str = "110101"
    # The district's bounding box (WGS84), reference.md.
    lat_min: float = 39.86
    lat_max: float = 39.97
    lon_min: float = 116.38
    lon_max: float = 116.45
    hotline: HotlineLimits = HotlineLimits()
    grid: GridLimits = GridLimits()
    thresholds: SensorThresholds = SensorThresholds()
    kpi: KpiWeights = KpiWeights()
    repeats: RepeatRules = RepeatRules()
    risk: RiskRules = RiskRules()
    links: LinkRules = LinkRules()
    publish: PublishRules = PublishRules()
    # The incremental look-back of the fusion platform's replica (citymgmt.md): at least 10 minutes.
    citymgmt_lookback: timedelta = timedelta(minutes=10)
    # A declared field that every one of this many records of a load lacks (having had it before), or none of
    # whose values has the declared type, is a change of the source's schema, not dirty records: the load stops.
    schema_change_min_records: int = 20

    @property
    def sim_root(self) -> Path:
        """Where the simulators keep their generated datasets."""
        return self.home / "sim"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
