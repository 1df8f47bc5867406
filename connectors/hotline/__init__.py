"""The 12345 citizen hotline platform (specs/hotline.md): work orders and services into the raw zone."""

from __future__ import annotations

from connectors.hotline.client import HotlineClient, HotlineError, RetryPolicy
from connectors.hotline.load import CONN_ID, load_requests, load_services
from connectors.hotline.schema import REQUEST_SCHEMA, SERVICE_SCHEMA

__all__ = [
    "CONN_ID",
    "REQUEST_SCHEMA",
    "SERVICE_SCHEMA",
    "HotlineClient",
    "HotlineError",
    "RetryPolicy",
    "load_requests",
    "load_services",
]
