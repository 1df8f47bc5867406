"""The simulators' own settings: ports, credentials, the platforms' normal latency, the demo dataset.

Read from ``GRIDLAKE_SIM_*`` environment variables. These are the simulated platforms' configuration, not
gridlake's: gridlake reaches the platforms only through Airflow connections (specs/README.md).
"""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["SimSettings"]


class SimSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GRIDLAKE_SIM_", extra="ignore")

    host: str = "127.0.0.1"
    hotline_port: int = 8311
    enforcement_port: int = 8312
    credit_port: int = 8313
    citymgmt_port: int = 8314

    hotline_api_key: str = "demo-hotline-key"
    enforcement_client_id: str = "gridlake"
    enforcement_client_secret: str = "demo-enforcement-secret"
    credit_api_key: str = "demo-credit-key"
    citymgmt_password: str = "secret"

    token_ttl_s: float = 3600.0
    cursor_ttl_s: float = 600.0
    # The credit platform is slow (credit.md: answers of 1-3 s are normal); 0 in tests.
    credit_latency_s: tuple[float, float] = (1.0, 3.0)
    # A rate of random 5xx answers of every HTTP platform ("500/502/503 now and then").
    error_rate: float = 0.01
    # Requests per second (burst as many) above which a platform answers 429 with Retry-After; 0: no limit.
    rate_limit_per_s: float = 50.0

    # The demo dataset: small enough to generate and serve in a few minutes.
    dataset: str = "default"
    seed: int = 20200708
    scale: float = 0.05
    days: int = 14
