"""The periodic patterns the analysis must find are in what the hotline serves: seasons, hours, weekdays.

Two spans of the same district, a winter week and a summer week, each generated and served; the test counts
work orders through the Open311 API only (X-Total-Count of filtered listings, the orders' own times).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime

import httpx
import pytest

from simulators.clock import SimClock
from simulators.faults import FaultPlan, SimControl
from simulators.hotline.generate import generate
from simulators.hotline.server import create_app
from simulators.http import Listener, ServerGroup

HEATING, FUME, DUST = "110001", "102001", "101001"
KEY = "pattern-key"


@pytest.fixture(scope="module")
def weeks(make_context) -> Iterator[dict[str, httpx.Client]]:
    """A January and a July fortnight at a fifth of the district's volume, served side by side."""
    listeners = []
    for name, end in (("winter", date(2026, 1, 20)), ("summer", date(2026, 7, 20))):
        ctx = make_context(scale=0.2, days=14, end=end, name=name)
        generate(ctx)
        control = SimControl(clock=SimClock(ctx.horizon), plan=FaultPlan())
        listeners.append(Listener(name, create_app(ctx.dataset, control=control, api_key=KEY)))
    with ServerGroup(listeners) as group:
        clients = {name: httpx.Client(base_url=f"{listener.url}/open311/v2", headers={"X-API-Key": KEY}, timeout=60)
                   for name, listener in group.listeners.items()}
        yield clients
        for client in clients.values():
            client.close()


def _total(client: httpx.Client, **params: str) -> int:
    answer = client.get("/requests.json", params={"page_size": 1, **params})
    answer.raise_for_status()
    return int(answer.headers["X-Total-Count"])


def _times(client: httpx.Client, service_code: str) -> list[datetime]:
    times, page = [], 1
    while True:
        answer = client.get("/requests.json", params={"service_code": service_code, "page": page,
                                                      "page_size": 1000})
        answer.raise_for_status()
        batch = answer.json()
        for order in batch:
            try:
                times.append(datetime.fromisoformat(order["requested_datetime"]))
            except ValueError:  # the platform's rare unparseable times
                continue
        if len(batch) < 1000:
            return times
        page += 1


def test_heating_complaints_come_in_winter(weeks) -> None:
    winter, summer = _total(weeks["winter"], service_code=HEATING), _total(weeks["summer"], service_code=HEATING)
    assert winter > 8 * max(summer, 1)


def test_cooking_fumes_peak_on_summer_evenings(weeks) -> None:
    assert _total(weeks["summer"], service_code=FUME) > 1.8 * _total(weeks["winter"], service_code=FUME)
    hours = Counter(moment.hour for moment in _times(weeks["summer"], FUME))
    evening = sum(hours[h] for h in range(17, 23))
    assert evening > 0.5 * sum(hours.values())


def test_more_calls_on_mondays_than_on_sundays(weeks) -> None:
    days = Counter()
    for client in weeks.values():
        for code in (HEATING, FUME, DUST, "109001", "105004", "107001"):
            days.update(moment.weekday() for moment in _times(client, code))
    assert days[0] > 1.15 * days[6]
