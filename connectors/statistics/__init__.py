"""The statistics bureau's key-enterprise monitoring drop (specs/statistics.md): monthly releases into raw."""

from __future__ import annotations

from connectors.statistics.drop import ReleaseRejected
from connectors.statistics.load import (
    CONN_ID,
    ENTITY,
    PLATFORM,
    ReleaseError,
    ReleaseLoads,
    StatisticsError,
    load_releases,
)
from connectors.statistics.schema import KEY_ENTERPRISE_SCHEMA

__all__ = [
    "CONN_ID",
    "ENTITY",
    "KEY_ENTERPRISE_SCHEMA",
    "PLATFORM",
    "ReleaseError",
    "ReleaseLoads",
    "ReleaseRejected",
    "StatisticsError",
    "load_releases",
]
