"""The statistics bureau's key enterprises and their monthly releases (specs/statistics.md).

The key enterprises (规模以上 and key tax sources) are drawn from the district's market subjects (companies,
not individual businesses; the scenario's black-listed enterprises among them, so that their profile has
figures). Their figures come from simulators.statistics.figures: monthly flows by industry, reported year to
date (reset in January) as the bureau does.

Releases: one per month for the 13 months that end with the last complete month before ``ctx.end`` (so a
monthly analysis can compare with the same month last year), plus the current month's when it is published
before ``ctx.horizon``; each on a working day around the 15th of the following month. Some months are
revised later (``YYYYMM_r1``, now and then ``_r2``) with the full month again: preliminary figures of a few
enterprises corrected, some of the figures not reported before ("-") filled in. The latest complete month is
always revised (late reports come in) when the revision falls before the horizon. Three spare months after
the last scheduled one are stored too: the drop publishes them only on demand, as faults.

The generator stores every release's cells as the bureau writes them (simulators.statistics.layout); the
drop (simulators.statistics.drop) turns them into the files as the clock passes each release.

Dirty data, each kind at the rate of ``DIRTY_RATES`` (counts are exact: chosen, never drawn by chance), and
clean cells that cannot look dirty (no clean figure is zero, no clean number has a separator):

    thousands_separator  a release's rows: one figure of at least 1,000 written with separators (12,345.67)
    not_reported         a month's first release's rows: one figure written "-" (a revision fills half in)
    blank_zero           enterprises: a figure that is zero, written blank (energy not metered separately,
                         taxes exempted), in every release
    street_short_name    enterprises: the street by its short name (东华门) rather than its full name
    defunct_street       enterprises: a street that no longer exists (DEFUNCT_STREETS), in every release
    csv_utf8_bom         releases: the CSV is UTF-8 with a byte-order mark, not GBK
    bad_checksum         releases: the manifest's sha256 of the CSV does not match the file (published before
                         ctx.end when any is: the connector meets it on its first run)

Truth ``dirty`` ids: ``[release, uscc, header]`` for cell kinds, ``uscc`` for enterprise kinds (every row of
the enterprise in every release; ``[uscc, header]`` for blank_zero), the release name for release kinds.
Counts are cells (or releases) over the scheduled releases; each release's own counts are in its entry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import numpy as np

from gridlake.reference import streets
from simulators.generate import GenContext, PlatformResult
from simulators.scenario import TZ
from simulators.statistics.figures import Figures, clean_round, year_to_date_figures
from simulators.statistics.layout import (
    HEADER_OF,
    NUMERIC_FIELDS,
    ReleaseInfo,
    period_label,
    release_name,
    write_index,
    write_release,
)
from simulators.world import rng_for

__all__ = ["DEFUNCT_STREETS", "DIRTY_RATES", "MONTHS", "generate"]

DIRTY_RATES: dict[str, float] = {
    "thousands_separator": 0.03,
    "not_reported": 0.01,
    "blank_zero": 0.02,
    "street_short_name": 0.3,
    "defunct_street": 0.005,
    "csv_utf8_bom": 0.15,
    "bad_checksum": 0.07,
}
# Months released back from the last complete one: a year and the month a year before the latest.
MONTHS = 13
SPARE_MONTHS = 3
REVISED_SHARE = 0.2  # of the months before the latest complete one (that one is always revised)
SECOND_REVISION_SHARE = 0.34  # of those revised months
CORRECTED_SHARE = 0.05  # of a month's enterprises whose preliminary figures a revision corrects
FILLED_SHARE = 0.5  # of a release's "-" figures that its revision fills in
SPOT_CHECKS = 3  # enterprises followed through every release in the truth

# Real streets of the old Dongcheng district that no longer exist: in 1958 the four streets set up in 1955
# (观音寺, 瓦岔, 羊管, 东颂年) were merged into 北新桥街道 (its history, e.g. zh.wikipedia "北新桥街道"). An old
# register entry still carries them; each maps to the street that replaced it. Only enterprises of that
# street are given one.
DEFUNCT_STREETS: dict[str, str] = {
    "观音寺街道": "110101005",
    "瓦岔街道": "110101005",
    "羊管街道": "110101005",
    "东颂年街道": "110101005",
}

# Figures a report can leave out ("-"): revenue, profit and taxes come from the books and are always there.
_MAY_BE_UNREPORTED = ("profit", "employees", "energy")


def _quota(rate: float, n: int) -> int:
    """The exact number of items a rate gives out of n: at least one when the rate and n are positive."""
    if rate <= 0 or n <= 0:
        return 0
    return min(n, max(1, int(round(rate * n))))


def _ym(month: int) -> tuple[int, int]:
    return month // 12, month % 12 + 1


def _period(month: int) -> str:
    year, mo = _ym(month)
    return f"{year}{mo:02d}"


# ---------------------------------------------------------------------------------------------------------
# The schedule of releases


@dataclass(frozen=True)
class _Planned:
    month: int  # year * 12 + month - 1
    revision: int
    published_at: datetime
    spare: bool = False

    @property
    def release(self) -> str:
        return release_name(_period(self.month), self.revision)


def _working_day(day: date) -> date:
    """The day, or the Monday after it when it falls on a weekend (public holidays are not modelled)."""
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def _office_moment(day: date, rng: np.random.Generator) -> datetime:
    return datetime.combine(day, time(0), TZ) + timedelta(minutes=int(rng.integers(9 * 60, 17 * 60 + 30)))


def _first_release_at(month: int, rng: np.random.Generator) -> datetime:
    """A working day around the 15th of the following month."""
    year, mo = _ym(month + 1)
    return _office_moment(_working_day(date(year, mo, 15 + int(rng.integers(-2, 3)))), rng)


def _revision_at(previous: datetime, horizon: datetime, rng: np.random.Generator) -> datetime | None:
    """Two to five weeks after the previous release (at least one when the horizon is near); None past it."""
    low, high = 14, 35
    room = (horizon - previous).days - 3  # a weekend can push the day on by two
    high = min(high, room)
    if high < low:
        low = 7
    if high < low:
        return None
    day = _working_day(previous.astimezone(TZ).date() + timedelta(days=int(rng.integers(low, high + 1))))
    moment = _office_moment(day, rng)
    return moment if moment < horizon else None


def _plan(ctx: GenContext) -> tuple[list[_Planned], list[_Planned], int]:
    """The scheduled releases, the spare months' releases, and the last complete month."""
    rng = rng_for(ctx.seed, "statistics:schedule")
    end = ctx.end.astimezone(TZ)
    current = end.year * 12 + end.month - 1
    last_complete = current - 1
    months = list(range(last_complete - MONTHS + 1, last_complete + 1))
    first = {month: _first_release_at(month, rng) for month in range(months[0], current + SPARE_MONTHS + 1)}
    if first[current] < ctx.horizon:
        months.append(current)
    planned = [_Planned(month, 0, first[month]) for month in months]

    older = months[: months.index(last_complete)]
    revised = sorted(int(m) for m in rng.choice(older, size=int(round(REVISED_SHARE * len(older))),
                                                 replace=False))
    twice = {int(m) for m in rng.choice(revised, size=_quota(SECOND_REVISION_SHARE, len(revised)),
                                         replace=False)} if revised else set()
    for month in revised + [last_complete]:
        previous = first[month]
        for revision in range(1, 3 if month in twice else 2):
            moment = _revision_at(previous, ctx.horizon, rng)
            if moment is None:
                break
            planned.append(_Planned(month, revision, moment))
            previous = moment
    spares = [_Planned(month, 0, first[month], spare=True)
              for month in range(months[-1] + 1, months[-1] + 1 + SPARE_MONTHS)]
    planned.sort(key=lambda p: (p.published_at, p.release))
    return planned, spares, last_complete


# ---------------------------------------------------------------------------------------------------------
# The key enterprises and their figures


@dataclass
class _Enterprises:
    uscc: list[str]
    name: list[str]
    street_code: list[str]
    industry_code: list[str]
    street_text: list[str]  # as the bureau's register writes it
    short_street: list[int]  # indices
    defunct_street: list[int]
    zero_field: dict[int, str]  # index -> the field that is zero for it (blank_zero)
    blacklisted: list[str]

    @property
    def n(self) -> int:
        return len(self.uscc)


def _pick_enterprises(ctx: GenContext) -> _Enterprises:
    rng = rng_for(ctx.seed, "statistics:enterprises")
    subjects = ctx.world.subjects
    n = ctx.world.fleet("key_enterprises")
    individual = subjects["individual"].to_numpy(zero_copy_only=False)
    restaurant = subjects["is_restaurant"].to_numpy(zero_copy_only=False)
    capital = subjects["registered_capital_wan_cny"].to_numpy()
    codes = subjects["uscc"].to_pylist()
    street_of = subjects["street_code"].to_pylist()
    candidates = np.flatnonzero(~individual)
    if candidates.size < n:
        raise ValueError(f"key_enterprises: {n} wanted but the world has only {candidates.size} companies")
    position = {code: index for index, code in enumerate(codes)}
    forced = [position[case.uscc] for case in ctx.scenario.blacklisted
              if case.uscc in position and not individual[position[case.uscc]]][: n // 2]
    pool = np.setdiff1d(candidates, forced)
    weight = np.sqrt(capital[pool]) * np.where(restaurant[pool], 0.25, 1.0)
    chosen = forced + [int(i) for i in rng.choice(pool, size=n - len(forced), replace=False,
                                                  p=weight / weight.sum())]

    # Defunct streets go only to enterprises of the streets that replaced them: make sure there are enough.
    successors = set(DEFUNCT_STREETS.values())
    n_defunct = _quota(DIRTY_RATES["defunct_street"], n)
    there = [i for i in chosen if street_of[i] in successors]
    if len(there) < n_defunct:
        taken = set(chosen)
        extra = [int(i) for i in candidates if street_of[i] in successors and int(i) not in taken]
        extra = [int(i) for i in rng.choice(extra, size=n_defunct - len(there), replace=False)]
        replaceable = [k for k in range(len(forced), n) if street_of[chosen[k]] not in successors]
        for k, index in zip(replaceable[::-1], extra):
            chosen[k] = index
        there = [i for i in chosen if street_of[i] in successors]

    all_names = subjects["name"].to_pylist()
    all_industries = subjects["industry_code"].to_pylist()
    chosen.sort(key=lambda i: (street_of[i], all_names[i]))
    position_in = {index: k for k, index in enumerate(chosen)}
    names = [all_names[i] for i in chosen]
    industry = [all_industries[i] for i in chosen]
    street_codes = [street_of[i] for i in chosen]
    by_code = {street.street_code: street for street in streets()}

    defunct = sorted(position_in[int(i)] for i in rng.choice(there, size=n_defunct, replace=False))
    others = sorted(set(range(n)) - set(defunct))
    n_short = _quota(DIRTY_RATES["street_short_name"], len(others))
    short = sorted(int(k) for k in rng.choice(others, size=n_short, replace=False))
    street_text = [by_code[code].street_name for code in street_codes]
    for k in short:
        street_text[k] = by_code[street_codes[k]].short_name
    for k in defunct:
        former = sorted(name for name, code in DEFUNCT_STREETS.items() if code == street_codes[k])
        street_text[k] = former[int(rng.integers(0, len(former)))]

    zero = sorted(int(k) for k in rng.choice(n, size=_quota(DIRTY_RATES["blank_zero"], n), replace=False))
    zero_field = {k: ("energy" if rng.random() < 0.6 else "tax") for k in zero}
    return _Enterprises(
        uscc=[codes[i] for i in chosen], name=names, street_code=street_codes, industry_code=industry,
        street_text=street_text, short_street=short, defunct_street=defunct, zero_field=zero_field,
        blacklisted=[codes[i] for i in forced],
    )


# ---------------------------------------------------------------------------------------------------------
# Releases: the cells as written


@dataclass
class _Release:
    planned: _Planned
    cells: dict[str, list[str]]
    values: dict[str, np.ndarray]  # as a correct reader gets them (NaN: not reported)
    separators: list[tuple[int, str]]
    not_reported: list[tuple[int, str]]
    corrected: list[int]
    filled_in: list[tuple[int, str]]


def _money(value: float, *, separated: bool = False) -> str:
    return f"{value:,.2f}" if separated else f"{value:.2f}"


def _count(value: int, *, separated: bool = False) -> str:
    return f"{value:,d}" if separated else str(value)


def _corrections(n: int, revisions: int, rng: np.random.Generator) -> tuple[list[list[int]], np.ndarray]:
    """Per revision, the enterprises it corrects; and each enterprise's preliminary error factor."""
    size = min(_quota(CORRECTED_SHARE, n), n // (revisions + 1))
    picked = rng.choice(n, size=size * revisions, replace=False)
    steps = [sorted(int(k) for k in picked[size * s: size * (s + 1)]) for s in range(revisions)]
    # Preliminary reports are mostly short (late invoices), now and then a little high.
    factor = np.where(rng.random(n) < 0.65, rng.uniform(0.88, 0.985, n), rng.uniform(1.005, 1.02, n))
    return steps, factor


def _month_releases(ctx: GenContext, firms: _Enterprises, figures: Figures, month: int,
                    plans: list[_Planned]) -> list[_Release]:
    """Every release of one month, first to last revision."""
    period = _period(month)
    rng = rng_for(ctx.seed, f"statistics:month:{period}")
    n = firms.n
    truth = figures.at(month)
    zero = {field: np.array([firms.zero_field.get(k) == field for k in range(n)]) for field in NUMERIC_FIELDS}
    steps, factor = _corrections(n, len(plans) - 1, rng)

    candidates = [(k, field) for k in range(n) for field in _MAY_BE_UNREPORTED if not zero[field][k]]
    rows = rng.choice(n, size=_quota(DIRTY_RATES["not_reported"], n), replace=False)
    unreported: list[tuple[int, str]] = []
    for k in sorted(int(r) for r in rows):
        fields = [field for kk, field in candidates if kk == k]
        unreported.append((k, fields[int(rng.integers(0, len(fields)))]))

    releases = []
    for plan in plans:
        revision = plan.revision
        values = {field: array.astype(float) for field, array in truth.items()}
        late = sorted(k for step in steps[revision:] for k in step)  # corrected by a later revision
        for field in ("revenue", "profit", "tax"):
            values[field][late] = clean_round(truth[field][late] * factor[late], zero[field][late])
        filled: list[tuple[int, str]] = []
        if revision > 0:
            keep = len(unreported) - math.ceil(len(unreported) * FILLED_SHARE)
            order = rng.permutation(len(unreported))
            filled = sorted(unreported[int(i)] for i in order[keep:])
            unreported = sorted(unreported[int(i)] for i in order[:keep])
        releases.append(_render(ctx, firms, plan, values, zero, list(unreported),
                                corrected=steps[revision - 1] if revision > 0 else [], filled_in=filled))
    return releases


def _render(ctx: GenContext, firms: _Enterprises, plan: _Planned, values: dict[str, np.ndarray],
            zero: dict[str, np.ndarray], unreported: list[tuple[int, str]], *, corrected: list[int],
            filled_in: list[tuple[int, str]]) -> _Release:
    rng = rng_for(ctx.seed, f"statistics:release:{plan.release}")
    n = firms.n
    blocked = set(unreported)
    eligible: dict[int, list[str]] = {}
    for k in range(n):
        fields = [field for field in NUMERIC_FIELDS
                  if not zero[field][k] and (k, field) not in blocked and abs(values[field][k]) >= 1000]
        if fields:
            eligible[k] = fields
    rows = sorted(eligible)
    n_separated = min(len(rows), _quota(DIRTY_RATES["thousands_separator"], n))
    picked = [int(k) for k in rng.choice(rows, size=n_separated, replace=False)]
    separators = sorted((k, eligible[k][int(rng.integers(0, len(eligible[k])))]) for k in picked)
    separated = set(separators)

    cells: dict[str, list[str]] = {
        "uscc": list(firms.uscc),
        "name": list(firms.name),
        "street": list(firms.street_text),
        "industry_code": list(firms.industry_code),
        "period": [period_label(_period(plan.month))] * n,
    }
    for field in NUMERIC_FIELDS:
        column = []
        for k in range(n):
            if zero[field][k]:
                column.append("")
            elif (k, field) in blocked:
                column.append("-")
            elif field == "employees":
                column.append(_count(int(values[field][k]), separated=(k, field) in separated))
            else:
                column.append(_money(float(values[field][k]), separated=(k, field) in separated))
        cells[field] = column
    read = {field: values[field].astype(float) for field in NUMERIC_FIELDS}
    for k, field in unreported:
        read[field][k] = np.nan
    return _Release(planned=plan, cells=cells, values=read, separators=separators,
                    not_reported=list(unreported), corrected=list(corrected), filled_in=filled_in)


# ---------------------------------------------------------------------------------------------------------
# The platform


def _expected(firms: _Enterprises, release: _Release, k: int) -> dict[str, Any]:
    """One enterprise's row as a reader following statistics.md gets it ("-": None, blank: 0)."""
    row: dict[str, Any] = {"uscc": firms.uscc[k], "street_as_written": firms.street_text[k],
                           "street_code": firms.street_code[k], "industry_code": firms.industry_code[k]}
    for field, key in (("revenue", "revenue_wan"), ("profit", "profit_wan"), ("tax", "tax_wan"),
                       ("energy", "energy_tce"), ("employees", "employees")):
        value = release.values[field][k]
        row[key] = None if np.isnan(value) else (int(value) if field == "employees" else float(value))
    return row


def generate(ctx: GenContext) -> PlatformResult:
    """Draw the key enterprises, their figures and releases; store the releases' cells; return the truth."""
    scheduled, spares, last_complete = _plan(ctx)
    firms = _pick_enterprises(ctx)
    months = sorted({p.month for p in scheduled} | {p.month for p in spares})
    first_january = (months[0] // 12) * 12
    figures = year_to_date_figures(
        seed=ctx.seed, industry_codes=firms.industry_code,
        zero_tax=np.array([firms.zero_field.get(k) == "tax" for k in range(firms.n)], dtype=bool),
        zero_energy=np.array([firms.zero_field.get(k) == "energy" for k in range(firms.n)], dtype=bool),
        first_month=first_january, last_month=months[-1])

    by_month: dict[int, list[_Planned]] = {}
    for plan in sorted(scheduled + spares, key=lambda p: (p.month, p.revision)):
        by_month.setdefault(plan.month, []).append(plan)
    releases: dict[str, _Release] = {}
    for month, plans in by_month.items():
        for release in _month_releases(ctx, firms, figures, month, plans):
            releases[release.planned.release] = release

    # Release-level faults, among the scheduled releases.
    rng = rng_for(ctx.seed, "statistics:faults")
    names = [p.release for p in scheduled]
    visible = [p.release for p in scheduled if p.published_at <= ctx.end] or names
    n_bad = min(len(visible), _quota(DIRTY_RATES["bad_checksum"], len(names)))
    bad = sorted(str(r) for r in rng.choice(visible, size=n_bad, replace=False))
    rest = [name for name in names if name not in bad]
    bom = sorted(str(r) for r in rng.choice(rest, size=min(len(rest), _quota(DIRTY_RATES["csv_utf8_bom"],
                                                                            len(names))), replace=False))

    index: list[ReleaseInfo] = []
    for plan in scheduled + spares:
        release = releases[plan.release]
        write_release(ctx.dataset, plan.release, release.cells)
        faults = tuple(kind for kind, chosen in (("csv_utf8_bom", bom), ("bad_checksum", bad))
                       if plan.release in chosen)
        index.append(ReleaseInfo(
            release=plan.release, period=_period(plan.month), revision=plan.revision,
            published_at=plan.published_at, rows=firms.n,
            csv_encoding="utf-8-sig" if "csv_utf8_bom" in faults else "gbk", faults=faults, spare=plan.spare))
    write_index(ctx.dataset, index)

    truth = _truth(ctx, firms, scheduled, spares, releases, index, bad=bad, bom=bom,
                   last_complete=last_complete)
    rows = firms.n * len(scheduled)
    ctx.log(f"statistics: {firms.n} key enterprises, {len(scheduled)} releases ({len(spares)} spare months)")
    return PlatformResult(counts={"enterprises": firms.n, "releases": len(scheduled), "release_rows": rows},
                          truth=truth)


def _truth(ctx: GenContext, firms: _Enterprises, scheduled: list[_Planned], spares: list[_Planned],
           releases: dict[str, _Release], index: list[ReleaseInfo], *, bad: list[str], bom: list[str],
           last_complete: int) -> dict[str, Any]:
    n_releases = len(scheduled)
    uscc = firms.uscc
    dirty: dict[str, dict[str, Any]] = {kind: {"count": 0, "ids": []} for kind in DIRTY_RATES}
    info = {entry.release: entry for entry in index}
    spot_rng = rng_for(ctx.seed, "statistics:spot")
    followed = sorted(int(k) for k in spot_rng.choice(firms.n, size=min(SPOT_CHECKS, firms.n), replace=False))

    entries, spot_checks = [], {}
    for plan in scheduled:
        release = releases[plan.release]
        name = plan.release
        for kind, cells in (("thousands_separator", release.separators),
                            ("not_reported", release.not_reported)):
            dirty[kind]["ids"].extend([name, uscc[k], HEADER_OF[field]] for k, field in cells)
            dirty[kind]["count"] += len(cells)
        per_release = {
            "thousands_separator": len(release.separators),
            "not_reported": len(release.not_reported),
            "blank_zero": len(firms.zero_field),
            "street_short_name": len(firms.short_street),
            "defunct_street": len(firms.defunct_street),
            "csv_utf8_bom": int(name in bom),
            "bad_checksum": int(name in bad),
        }
        entry: dict[str, Any] = {
            "release": name, "period": info[name].period, "revision": plan.revision,
            "published_at": plan.published_at.isoformat(), "rows": info[name].rows,
            "csv_encoding": info[name].csv_encoding, "faults": list(info[name].faults), "dirty": per_release,
        }
        if plan.revision > 0:
            entry["replaces"] = release_name(info[name].period, plan.revision - 1)
            entry["corrected"] = [uscc[k] for k in release.corrected]
            entry["filled_in"] = [[uscc[k], HEADER_OF[field]] for k, field in release.filled_in]
        entries.append(entry)
        look = list(followed) + release.corrected[:2] + [k for k, _ in release.not_reported[:1]] \
            + [k for k, _ in release.separators[:1]]
        spot_checks[name] = [_expected(firms, release, k) for k in dict.fromkeys(look)]

    dirty["blank_zero"]["ids"] = [[uscc[k], HEADER_OF[field]]
                                  for k, field in sorted(firms.zero_field.items())]
    dirty["blank_zero"]["count"] = len(firms.zero_field) * n_releases
    dirty["street_short_name"]["ids"] = [uscc[k] for k in firms.short_street]
    dirty["street_short_name"]["count"] = len(firms.short_street) * n_releases
    dirty["defunct_street"]["ids"] = [uscc[k] for k in firms.defunct_street]
    dirty["defunct_street"]["count"] = len(firms.defunct_street) * n_releases
    dirty["csv_utf8_bom"] = {"count": len(bom), "ids": list(bom)}
    dirty["bad_checksum"] = {"count": len(bad), "ids": list(bad)}

    return {
        "enterprises": firms.n,
        "months": sorted({_period(p.month) for p in scheduled}),
        "last_complete_month": _period(last_complete),
        "releases": entries,
        "spare_releases": [{"release": p.release, "period": _period(p.month), "rows": firms.n}
                           for p in spares],
        "dirty": dirty,
        "dirty_rates": dict(DIRTY_RATES),
        "defunct_streets": dict(DEFUNCT_STREETS),
        "blacklisted_key_enterprises": list(firms.blacklisted),
        "spot_checks": spot_checks,
    }
