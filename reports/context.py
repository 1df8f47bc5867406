"""What a report's sections are built from: the period, the judged sources, and a guard that shows a section only
when every dataset it needs may be shown."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from gridlake.settings import Settings
from reports.model import Section
from reports.periods import Period
from reports.sources import Sources

__all__ = ["Context"]


@dataclass
class Context:
    settings: Settings
    period: Period
    sources: Sources

    def query(self, sql: str, parameters: list[Any] | dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return self.sources.query(sql, parameters)

    @property
    def score_rule(self) -> str:
        """The composite score's formula with the weights in force (kpis.md; settings ``kpi``)."""
        weights = self.settings.kpi
        return (f"综合得分＝响应率×{weights.response * 100:g}＋解决率×{weights.resolution * 100:g}"
                f"＋满意率×{weights.satisfaction * 100:g}")

    @property
    def satisfaction_rule(self) -> str:
        """满意率's formula with the weight of 'basically satisfied' in force."""
        weight = self.settings.kpi.basically_satisfied
        basic = "基本满意" if weight == 1 else f"基本满意×{weight:g}"
        return f"满意率＝（满意＋{basic}）÷接通回访"

    def orders_per_day(self, first: date, last: date) -> list[dict[str, Any]]:
        """Hotline orders received per day from ``first`` to ``last`` (days without orders as 0), from the first day
        the data hold and up to the last day their clock has passed."""
        clock = self.sources["hotline_requests"].data_as_of
        if clock is not None:
            last = min(last, (clock.astimezone(self.sources.tz) - timedelta(microseconds=1)).date())
        return self.query("""
            with days as (
                select cast(unnest(generate_series($first, $last, interval 1 day)) as date) as day
            ),
            counts as (
                select cast(received_at as date) as day, count(*) as orders from hotline_requests group by all
            )
            select days.day, coalesce(counts.orders, 0) as orders
            from days left join counts using (day)
            where days.day >= (select min(cast(received_at as date)) from hotline_requests)
            order by days.day""", {"first": first, "last": last})

    def section(self, key: str, title: str, datasets: list[str], build: Callable[[], list[Any]]) -> Section:
        """A section built by ``build`` - or, when a dataset it needs may not be shown for the period, a section
        that says which and why, with nothing else in it."""
        section = Section(key, title, datasets)
        section.withheld = [self.sources[name] for name in datasets if not self.sources[name].shown]
        if not section.withheld:
            section.blocks = build()
        return section
