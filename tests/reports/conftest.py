"""The issue dates of the reports tested on the test district (its shared zone: ``published``, tests/warehouse.py).

The district's data run from 10 to 19 November 2026 and the lake was loaded twice, the second time a day later
(the platforms' clock then at 21 November, 00:00): the daily bulletin of 20 November covers 19 November, the weekly
report of 23 November the week of 16 November, the monthly analysis of 1 December the part of November the data
reach.
"""

from __future__ import annotations

from datetime import date

DAILY = date(2026, 11, 20)
WEEKLY = date(2026, 11, 23)
MONTHLY = date(2026, 12, 1)
