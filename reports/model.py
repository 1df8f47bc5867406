"""What a report is made of: sections of tables, charts and notes, each naming the datasets it came from."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

__all__ = ["ChartBlock", "Column", "NoteBlock", "Section", "TableBlock", "display"]


@dataclass(frozen=True)
class Column:
    """A table column: the row key it shows, its Chinese heading, and how its values are written."""

    key: str
    label: str
    kind: str = "text"  # text, int, rate (0-1 as %), score, hours, delta, rank_change, ratio, datetime


@dataclass
class TableBlock:
    id: str
    title: str
    columns: list[Column]
    rows: list[dict[str, Any]]
    datasets: list[str]
    note: str | None = None
    empty: str = "本期无相关记录。"
    cards: bool = False  # one row shown as figures side by side (an overview)


@dataclass
class ChartBlock:
    id: str
    title: str
    svg: str
    datasets: list[str]
    note: str | None = None


@dataclass
class NoteBlock:
    text: str
    tone: str = "info"  # info, warning


@dataclass
class Section:
    key: str
    title: str
    datasets: list[str]
    blocks: list[Any] = field(default_factory=list)
    withheld: list[Any] = field(default_factory=list)  # the Sources that keep it from being shown


def display(value: Any, kind: str) -> str:
    """A value as the report writes it; ``—`` where there is none."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if kind == "int":
        return f"{int(value):,}"
    if kind == "rate":
        return f"{value * 100:.1f}%"
    if kind == "score":
        return f"{value:.1f}"
    if kind == "hours":
        return f"{value:.1f}"
    if kind == "ratio":
        return f"{value:+.0%}"
    if kind == "delta":
        return f"{int(value):+,}" if int(value) else "0"
    if kind == "rate_delta":
        return f"{value * 100:+.1f}个百分点"
    if kind == "rank_change":  # previous rank - rank: up is better
        return f"↑{int(value)}" if value > 0 else (f"↓{-int(value)}" if value < 0 else "持平")
    if kind == "datetime" and isinstance(value, datetime):
        return f"{value:%m-%d %H:%M}"
    if kind == "date" and isinstance(value, date):
        return f"{value:%Y-%m-%d}"
    return str(value)
