"""The district credit platform (specs/credit.md): subject files and credit records into the raw zone."""

from __future__ import annotations

from connectors.credit.client import CreditClient, CreditError, RetryPolicy
from connectors.credit.load import CONN_ID, load_records, load_subjects
from connectors.credit.rules import REASONS
from connectors.credit.schema import RECORD_SCHEMA, SUBJECT_SCHEMA

__all__ = [
    "CONN_ID",
    "REASONS",
    "RECORD_SCHEMA",
    "SUBJECT_SCHEMA",
    "CreditClient",
    "CreditError",
    "RetryPolicy",
    "load_records",
    "load_subjects",
]
