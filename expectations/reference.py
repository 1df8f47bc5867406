"""The code lists a shared dataset's codes must come from, read where the project keeps them.

Streets and communities are gridlake's reference data (gridlake/reference_data); domains, service groups and
enforcement matters are the dbt project's seeds, the same files the marts were built with.
"""

from __future__ import annotations

import csv
from functools import lru_cache

from gridlake.reference import communities, streets
from gridlake.settings import repo_root

__all__ = ["community_streets", "domain_codes", "matter_codes", "service_groups", "street_codes", "community_codes"]


def _seed_column(name: str, column: str) -> tuple[str, ...]:
    with (repo_root() / "dbt_project" / "seeds" / name).open(encoding="utf-8", newline="") as handle:
        return tuple(row[column] for row in csv.DictReader(handle))


@lru_cache(maxsize=1)
def street_codes() -> tuple[str, ...]:
    """The district's 17 street codes."""
    return tuple(street.street_code for street in streets())


@lru_cache(maxsize=1)
def community_codes() -> tuple[str, ...]:
    """The district's 169 community codes."""
    return tuple(community.community_code for community in communities())


@lru_cache(maxsize=1)
def community_streets() -> dict[str, str]:
    """Each community's street."""
    return {community.community_code: community.street_code for community in communities()}


@lru_cache(maxsize=1)
def domain_codes() -> tuple[str, ...]:
    """The nine business domains (seed domains)."""
    return _seed_column("domains.csv", "domain_code")


@lru_cache(maxsize=1)
def service_groups() -> tuple[str, ...]:
    """The hotline service groups (seed service_groups)."""
    return _seed_column("service_groups.csv", "service_group")


@lru_cache(maxsize=1)
def matter_codes() -> tuple[str, ...]:
    """The 30 enforcement matters (seed enforcement_matters)."""
    return _seed_column("enforcement_matters.csv", "matter_code")
