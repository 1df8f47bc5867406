"""Generate a dataset: the district's five platforms, reproducibly from a seed.

Platforms are generated in dependency order, each from the same world and scenario; a platform publishes
the few tables later ones link to in ``GenContext.shared`` (hotline orders become grid cases, grid cases
become enforcement cases, enforcement penalties become credit records):

    hotline      publishes "hotline_orders"       (see simulators.hotline.generate)
    citymgmt     publishes "grid_cases"           (see simulators.citymgmt.generate)
    enforcement  publishes "enforcement_cases"    (see simulators.enforcement.generate)
    credit       publishes nothing
    statistics   publishes nothing

Each platform's ``generate(ctx) -> PlatformResult`` writes its own files and returns its row counts and its
section of the ground truth. meta.json is written last: a dataset without it is incomplete.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from importlib import import_module
from typing import Any

import pyarrow as pa

from simulators.dataset import Dataset
from simulators.scenario import TZ, Scenario, plan_scenario
from simulators.world import HOURS, SEASONS, WEEKDAYS, World, build_world

__all__ = ["GenContext", "PLATFORMS", "PlatformResult", "generate"]

PLATFORMS = ("hotline", "citymgmt", "enforcement", "credit", "statistics")
GENERATOR_VERSION = 1
# Lifecycles run on after the span ends (orders are answered and visited for days): generated, hidden
# behind the clock, revealed as it moves.
HORIZON = timedelta(days=21)


@dataclass
class PlatformResult:
    counts: dict[str, int]
    truth: dict[str, Any]


@dataclass
class GenContext:
    dataset: Dataset
    world: World
    scenario: Scenario
    seed: int
    start: datetime  # local midnight of the first day
    end: datetime  # local midnight after the last day: the clock's first "now"
    horizon: datetime  # lifecycles are generated up to here
    shared: dict[str, pa.Table] = field(default_factory=dict)
    log: Callable[[str], None] = print

    @property
    def days(self) -> int:
        return (self.end - self.start).days


def _patterns(world: World) -> dict[str, Any]:
    """The periodic patterns the hotline volume follows (world.py): what a seasonal analysis must find."""
    return {
        "monthly_multipliers": {name: list(values) for name, values in SEASONS.items()},
        "hourly_weights": {name: list(values) for name, values in HOURS.items()},
        "weekday_multipliers_monday_first": list(WEEKDAYS),
        "services": {s.service_code: {"name": s.service_name, "group": s.group, "season": s.season,
                                      "hours": s.hours, "share": s.share, "dispute": s.dispute}
                     for s in world.services},
        "slow_units": {u.unit_code: u.respond_hours for u in world.units if u.respond_hours >= 24},
    }


def _platform_generator(platform: str) -> Callable[[GenContext], PlatformResult]:
    return import_module(f"simulators.{platform}.generate").generate


def generate(
    dataset: Dataset,
    *,
    seed: int = 20200708,
    scale: float = 0.05,
    days: int = 14,
    end: date | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Generate ``dataset`` anew; returns its meta (also written to meta.json)."""
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    end_day = end or datetime.now(TZ).date()
    end_at = datetime(end_day.year, end_day.month, end_day.day, tzinfo=TZ)
    start_at = end_at - timedelta(days=days)
    if dataset.root.exists():
        shutil.rmtree(dataset.root)
    dataset.root.mkdir(parents=True)

    started = time.monotonic()
    world = build_world(seed=seed, scale=scale)
    scenario = plan_scenario(world, start=start_at, end=end_at)
    ctx = GenContext(dataset=dataset, world=world, scenario=scenario, seed=seed, start=start_at, end=end_at,
                     horizon=end_at + HORIZON, log=log)
    counts: dict[str, dict[str, int]] = {}
    truth: dict[str, Any] = {"scenario": scenario.to_truth(), "patterns": _patterns(world)}
    seconds: dict[str, float] = {}
    for platform in PLATFORMS:
        t0 = time.monotonic()
        result = _platform_generator(platform)(ctx)
        seconds[platform] = round(time.monotonic() - t0, 2)
        counts[platform] = result.counts
        truth[platform] = result.truth
        log(f"{platform}: {sum(result.counts.values()):,} rows in {seconds[platform]} s")
    dataset.truth_path.write_text(json.dumps(truth, ensure_ascii=False, indent=1), encoding="utf-8")
    meta = {
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "scale": scale,
        "days": days,
        "start": start_at.isoformat(),
        "end": end_at.isoformat(),
        "horizon": ctx.horizon.isoformat(),
        "counts": counts,
        "seconds": seconds | {"total": round(time.monotonic() - started, 2)},
        "generated_at": datetime.now(TZ).isoformat(timespec="seconds"),
    }
    dataset.meta_path.write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
    return meta
