"""The reports' charts: Vega-Lite specs built with Altair, rendered offline to SVG by vl-convert.

The SVG keeps its text as text, so the browser (and the PDF) draws it with the report's CJK font; vl-convert lays
it out with the same fonts (it reads the system's, where setup installed Noto Sans CJK). Numbers and dates are
formatted in the zh-CN locale.
"""

from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path
from typing import Any

import altair as alt
import vl_convert

__all__ = ["FONT", "bars", "heatmap", "lines", "stacked_bars", "street_tiles", "to_svg"]

FONT = '"Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei", "Microsoft YaHei", "PingFang SC", sans-serif'
_WIDTH = 620
_PALETTE = "blues"


def to_svg(chart: alt.TopLevelMixin) -> str:
    """The chart as an SVG document (no network: the data are inline, nothing is fetched)."""
    chart = chart.configure(font=FONT, background="white").configure_view(stroke=None).configure_title(
        fontSize=14, anchor="start")
    svg = vl_convert.vegalite_to_svg(chart.to_dict(), format_locale="zh-CN", time_format_locale="zh-CN")
    return svg


def _data(rows: list[dict[str, Any]]) -> alt.Data:
    clean = [{key: (value.isoformat() if hasattr(value, "isoformat") else value) for key, value in row.items()}
             for row in rows]
    return alt.Data(values=clean)


def bars(rows: list[dict[str, Any]], *, category: str, value: str, value_title: str, percent: bool = False,
         decimals: int = 0, color: str = "#2f6db5", height_per_bar: int = 18) -> str:
    """Horizontal bars, largest first, each labelled with its value (the caption names the categories)."""
    axis_format = ".0%" if percent else ",d"
    label_format = ".1%" if percent else f",.{decimals}f"
    base = alt.Chart(_data(rows)).encode(
        y=alt.Y(f"{category}:N", sort="-x", title=None),
        x=alt.X(f"{value}:Q", title=value_title, axis=alt.Axis(format=axis_format)),
    )
    chart = base.mark_bar(color=color) + base.mark_text(align="left", dx=3, fontSize=10).encode(
        text=alt.Text(f"{value}:Q", format=label_format))
    return to_svg(chart.properties(width=_WIDTH - 160, height=max(40, height_per_bar * len(rows))))


def lines(rows: list[dict[str, Any]], *, x: str, y: str, series: str | None, x_title: str, y_title: str,
          percent: bool = False) -> str:
    """A trend over days: one line per series (or one line)."""
    encoding: dict[str, Any] = {
        "x": alt.X(f"{x}:T", title=x_title, axis=alt.Axis(format="%m-%d", labelAngle=0)),
        "y": alt.Y(f"{y}:Q", title=y_title, axis=alt.Axis(format=".0%" if percent else ",d")),
    }
    if series:
        encoding["color"] = alt.Color(f"{series}:N", title=None, legend=alt.Legend(orient="bottom", columns=6))
    chart = alt.Chart(_data(rows)).mark_line(point=True).encode(**encoding)
    return to_svg(chart.properties(width=_WIDTH - 80, height=200))


def stacked_bars(rows: list[dict[str, Any]], *, x: str, y: str, stack: str, x_title: str, y_title: str,
                 order: list[str]) -> str:
    """Bars per day, stacked by category in ``order``."""
    chart = alt.Chart(_data(rows)).mark_bar().encode(
        x=alt.X(f"{x}:O", title=x_title),
        y=alt.Y(f"{y}:Q", title=y_title, axis=alt.Axis(format=",d")),
        color=alt.Color(f"{stack}:N", title=None, sort=order, legend=alt.Legend(orient="bottom"),
                        scale=alt.Scale(domain=order, range=["#2e7d32", "#9ccc65", "#e53935", "#9e9e9e"])),
        order=alt.Order("stack_order:Q"),
    )
    return to_svg(chart.properties(width=_WIDTH - 80, height=200))


def heatmap(rows: list[dict[str, Any]], *, x: str, y: str, value: str, x_title: str, value_title: str) -> str:
    """A grid of cells coloured by value (e.g. service group by hour)."""
    chart = alt.Chart(_data(rows)).mark_rect().encode(
        x=alt.X(f"{x}:O", title=x_title),
        y=alt.Y(f"{y}:N", title=None),
        color=alt.Color(f"{value}:Q", title=value_title, scale=alt.Scale(scheme="oranges"),
                        legend=alt.Legend(format=".0%")),
    )
    return to_svg(chart.properties(width=_WIDTH - 160, height=max(60, 16 * len({row[y] for row in rows}))))


@lru_cache(maxsize=1)
def _tiles() -> dict[str, dict[str, Any]]:
    path = Path(__file__).with_name("street_tiles.csv")
    with path.open(encoding="utf-8", newline="") as handle:
        return {row["street_code"]: {"short_name": row["short_name"], "tile_row": int(row["tile_row"]),
                                     "tile_col": int(row["tile_col"])} for row in csv.DictReader(handle)}


def street_tiles(values: dict[str, float | None], *, title: str, percent: bool = False, higher_is_better: bool = True
                 ) -> str:
    """The 17 streets as a tile map (north up; each street a tile where it lies, roughly), coloured by value; a
    street without a value is grey."""
    fmt = ".1%" if percent else ",.1f" if any(isinstance(v, float) for v in values.values()) else ",d"
    rows = [{**tile, "street_code": code, "value": values.get(code),
             "shown": "—" if values.get(code) is None else None} for code, tile in _tiles().items()]
    base = alt.Chart(_data(rows)).encode(
        x=alt.X("tile_col:O", axis=None), y=alt.Y("tile_row:O", axis=None))
    scheme = "greens" if higher_is_better else "reds"
    tiles = base.mark_rect(stroke="white", strokeWidth=3, cornerRadius=4).encode(
        color=alt.condition("datum.value === null", alt.value("#e0e0e0"),
                            alt.Color("value:Q", title=title, scale=alt.Scale(scheme=scheme),
                                      legend=alt.Legend(format=".0%" if percent else ",d", orient="right"))))
    # white text on the darker tiles
    known = [value for value in values.values() if value is not None]
    dark = min(known) + 0.6 * (max(known) - min(known)) if known and max(known) > min(known) else None
    ink = alt.condition(f"datum.value !== null && datum.value > {dark}", alt.value("white"), alt.value("#1f2933")) \
        if dark is not None else alt.value("#1f2933")
    names = base.mark_text(dy=-7, fontSize=12, fontWeight="bold").encode(text="short_name:N", color=ink)
    numbers = base.mark_text(dy=9, fontSize=11).transform_calculate(
        label=f"datum.value === null ? '—' : format(datum.value, '{fmt}')").encode(text="label:N", color=ink)
    return to_svg((tiles + names + numbers).properties(width=4 * 96, height=7 * 62))
