"""The comprehensive enforcement platform (specs/enforcement.md): cases and the matter list into the raw zone."""

from __future__ import annotations

from connectors.enforcement.client import CursorExpired, EnforcementClient, EnforcementError, RetryPolicy
from connectors.enforcement.load import CONN_ID, load_cases, load_matters
from connectors.enforcement.rules import REASONS
from connectors.enforcement.schema import CASE_SCHEMA, MATTER_SCHEMA

__all__ = [
    "CASE_SCHEMA",
    "CONN_ID",
    "MATTER_SCHEMA",
    "REASONS",
    "CursorExpired",
    "EnforcementClient",
    "EnforcementError",
    "RetryPolicy",
    "load_cases",
    "load_matters",
]
