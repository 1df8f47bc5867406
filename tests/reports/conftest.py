"""A shared zone published from the test district's warehouse, for the reports to read.

The district's data run from 10 to 19 November 2026 and the lake was loaded twice, the second time a day later
(the platforms' clock then at 21 November, 00:00): the daily bulletin of 20 November covers 19 November, the weekly
report of 23 November the week of 16 November, the monthly analysis of 1 December the part of November the data
reach.
"""

from __future__ import annotations

from datetime import date

import pytest

from gridlake.settings import Settings
from tests.warehouse import copy_home

DAILY = date(2026, 11, 20)
WEEKLY = date(2026, 11, 23)
MONTHLY = date(2026, 12, 1)


@pytest.fixture(scope="session")
def published(built, settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A home whose shared zone holds every dataset, published from the test district's warehouse."""
    from publication import publish

    home = copy_home(settings, tmp_path_factory.mktemp("reports-home"))
    outcome = publish(home)
    assert outcome.ok, {name: o.status for name, o in outcome.outcomes.items()}
    return home
