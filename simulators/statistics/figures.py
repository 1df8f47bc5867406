"""The key enterprises' monthly figures, year to date, as the statistics bureau reports them.

Each enterprise has monthly flows shaped by its industry (GB/T 4754 section): revenue with the industry's
season and the enterprise's own growth, a margin that can be a loss, taxes monthly (VAT and surcharges) with
income tax at each quarter's end, energy with Beijing's heating and cooling seasons, and a head count that
drifts. The bureau reports the flows year to date (restarting each January), rounded to 0.01; a figure that
is not zero never rounds to zero, since the bureau's blank means zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulators.world import rng_for

__all__ = [
    "INDUSTRY_PROFILES",
    "Figures",
    "IndustryProfile",
    "clean_round",
    "profile_of",
    "year_to_date_figures",
]


@dataclass(frozen=True)
class IndustryProfile:
    """An industry's typical key enterprise: yearly revenue (10k CNY), margin, tax and energy intensities."""

    median_revenue: float  # yearly, 10k CNY
    floor_revenue: float  # the bureau's threshold for the industry (规模以上 / 限额以上), 10k CNY a year
    margin: float  # profit over revenue
    tax_rate: float  # monthly taxes (VAT and surcharges) over revenue; income tax comes at the quarter's end
    revenue_per_employee: float  # 10k CNY a year
    energy_intensity: float  # tonnes of standard coal per 10k CNY of revenue
    season: str  # a key of _SEASONS
    growth: float  # yearly, the industry's mean


# By GB/T 4754 section (the first character of the world's industry codes).
INDUSTRY_PROFILES: dict[str, IndustryProfile] = {
    "E": IndustryProfile(26000, 5000, 0.035, 0.03, 110, 0.02, "construction", 0.02),
    "F": IndustryProfile(32000, 500, 0.03, 0.025, 180, 0.01, "retail", 0.01),
    "G": IndustryProfile(15000, 2000, 0.04, 0.03, 70, 0.12, "flat", 0.03),
    "H": IndustryProfile(3200, 200, 0.05, 0.04, 25, 0.06, "catering", 0.02),
    "I": IndustryProfile(21000, 1000, 0.12, 0.055, 90, 0.008, "year_end", 0.08),
    "J": IndustryProfile(52000, 1000, 0.3, 0.1, 500, 0.002, "flat", 0.05),
    "K": IndustryProfile(41000, 1000, 0.15, 0.09, 400, 0.005, "real_estate", -0.05),
    "L": IndustryProfile(12000, 1000, 0.08, 0.05, 70, 0.012, "year_end", 0.04),
    "M": IndustryProfile(8000, 1000, 0.1, 0.05, 60, 0.015, "year_end", 0.05),
    "O": IndustryProfile(4000, 500, 0.05, 0.04, 15, 0.03, "flat", 0.02),
    "R": IndustryProfile(6000, 500, 0.06, 0.04, 60, 0.015, "year_end", 0.03),
}
_DEFAULT_PROFILE = IndustryProfile(8000, 1000, 0.07, 0.05, 60, 0.02, "year_end", 0.03)

# Monthly multipliers (January first) of the industries' revenue; normalised to a mean of 1 when used.
_SEASONS: dict[str, tuple[float, ...]] = {
    "flat": (0.95, 0.9, 1.0, 1.0, 1.0, 1.02, 1.0, 1.0, 1.02, 1.0, 1.02, 1.09),
    "year_end": (0.8, 0.72, 0.95, 0.95, 1.0, 1.08, 0.95, 0.93, 1.02, 0.98, 1.05, 1.57),
    "retail": (1.25, 1.05, 0.9, 0.88, 0.95, 1.0, 0.92, 0.93, 0.98, 1.08, 1.02, 1.04),
    "construction": (0.45, 0.4, 0.85, 1.0, 1.08, 1.12, 1.02, 1.0, 1.12, 1.1, 1.2, 1.66),
    "real_estate": (0.55, 0.45, 0.9, 0.92, 1.0, 1.35, 0.88, 0.9, 1.1, 1.02, 1.1, 1.83),
    "catering": (1.05, 1.15, 0.88, 0.95, 1.02, 0.98, 1.04, 1.06, 0.95, 1.12, 0.88, 0.92),
}
# Energy use per month relative to the revenue it serves: Beijing heats from 15 November to 15 March and
# cools in July and August.
_ENERGY_SEASON = (1.6, 1.5, 1.25, 1.0, 1.0, 1.05, 1.2, 1.2, 1.0, 1.0, 1.25, 1.6)


def profile_of(industry_code: str) -> IndustryProfile:
    """The profile of an industry code's section (a default one for sections without their own)."""
    return INDUSTRY_PROFILES.get(industry_code[:1], _DEFAULT_PROFILE)


@dataclass
class Figures:
    """Year-to-date figures of the enterprises (rows) by month (columns, the first a January)."""

    first_month: int  # year * 12 + month - 1 of column 0
    ytd: dict[str, np.ndarray]  # revenue, profit, tax, energy, rounded to 0.01
    employees: np.ndarray  # at the end of each month

    def at(self, month: int) -> dict[str, np.ndarray]:
        """All figures of one month (year * 12 + month - 1), as fresh arrays."""
        column = month - self.first_month
        if not 0 <= column < self.employees.shape[1]:
            raise IndexError(f"month {month // 12}-{month % 12 + 1:02d} is outside the generated figures")
        values = {field: array[:, column].copy() for field, array in self.ytd.items()}
        values["employees"] = self.employees[:, column].copy()
        return values


def clean_round(values: np.ndarray, zero: np.ndarray) -> np.ndarray:
    """Rounded to 0.01; where ``zero`` is false a figure never rounds to zero (a blank would mean zero)."""
    rounded = np.round(values, 2)
    tiny = (np.abs(rounded) < 0.01) & ~zero
    rounded[tiny] = np.where(values[tiny] < 0, -0.01, 0.01)
    rounded[zero] = 0.0
    return rounded


def _ytd(flow: np.ndarray, year_of: np.ndarray) -> np.ndarray:
    """Year-to-date sums of monthly flows (enterprises x months), restarting each January."""
    out = np.empty_like(flow)
    for year in np.unique(year_of):
        columns = year_of == year
        out[:, columns] = np.cumsum(flow[:, columns], axis=1)
    return out


def year_to_date_figures(*, seed: int, industry_codes: list[str], zero_tax: np.ndarray,
                         zero_energy: np.ndarray, first_month: int, last_month: int) -> Figures:
    """Figures from ``first_month`` (a January) to ``last_month``; ``zero_*`` mark enterprises with none."""
    if first_month % 12 != 0:
        raise ValueError(f"first_month must be a January (year-to-date sums start there), got {first_month}")
    rng = rng_for(seed, "statistics:figures")
    n, months = len(industry_codes), last_month - first_month + 1
    grid = np.arange(first_month, last_month + 1)
    month_of = grid % 12  # 0 = January
    year_of = grid // 12
    profiles = [profile_of(code) for code in industry_codes]

    def column(attribute: str) -> np.ndarray:
        return np.array([getattr(profile, attribute) for profile in profiles], dtype=float)

    seasons = {name: np.array(values) / np.mean(values) for name, values in _SEASONS.items()}
    season = np.stack([seasons[profile.season][month_of] for profile in profiles])

    yearly = np.maximum(column("median_revenue") * rng.lognormal(0.0, 0.9, n),
                        column("floor_revenue") * rng.uniform(1.05, 1.6, n))
    growth = np.maximum(-0.5, column("growth") + rng.normal(0.0, 0.08, n))
    years_on = (grid - grid[-1])[None, :] / 12.0  # the yearly level is the level of the last month
    level = (yearly / 12.0)[:, None] * (1.0 + growth)[:, None] ** years_on
    revenue = level * season * rng.lognormal(0.0, 0.06, (n, months))

    margin = column("margin")
    own_margin = margin + rng.normal(0.0, np.maximum(0.02, 0.6 * margin))
    swing = rng.normal(0.0, 1.0, (n, months)) * (0.25 * margin + 0.01)[:, None]
    profit = revenue * (own_margin[:, None] + swing)

    tax_rate = column("tax_rate") * rng.uniform(0.7, 1.3, n)
    tax = revenue * tax_rate[:, None] * rng.lognormal(0.0, 0.08, (n, months))
    for index in np.flatnonzero(month_of % 3 == 2):  # a quarter's end; the grid starts in January
        tax[:, index] += 0.25 * np.maximum(profit[:, index - 2: index + 1].sum(axis=1), 0.0)
    tax[zero_tax] = 0.0

    intensity = column("energy_intensity") * rng.lognormal(0.0, 0.35, n)
    energy = (revenue * intensity[:, None] * np.array(_ENERGY_SEASON)[month_of][None, :]
              * rng.lognormal(0.0, 0.05, (n, months)))
    energy[zero_energy] = 0.0

    staff = np.maximum(8.0, yearly / column("revenue_per_employee") * rng.lognormal(0.0, 0.3, n))
    staff_trend = rng.normal(0.01, 0.05, n)
    drift = np.cumsum(rng.normal(0.0, 0.006, (n, months)), axis=1)
    employees = np.maximum(5, np.round(staff[:, None] * (1.0 + staff_trend)[:, None] ** years_on
                                       * (1.0 + drift))).astype(np.int64)

    never = np.zeros((n, months), dtype=bool)
    ytd = {
        "revenue": clean_round(_ytd(revenue, year_of), never),
        "profit": clean_round(_ytd(profit, year_of), never),
        "tax": clean_round(_ytd(tax, year_of), np.repeat(zero_tax[:, None], months, axis=1)),
        "energy": clean_round(_ytd(energy, year_of), np.repeat(zero_energy[:, None], months, axis=1)),
    }
    return Figures(first_month=first_month, ytd=ytd, employees=employees)
