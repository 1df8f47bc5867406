"""Read a report's HTML as people see it: its sections (and the datasets each says it withholds), its table and
chart figures with the datasets they cite, and every table's rows as ``{key: (raw value, shown text)}``.

The reports mark up what they show for this (reports/templates/report.html.j2): a figure is
``<figure class="table|chart" data-block="<id>" data-datasets="a b">`` with a ``<p class="source">`` naming the
versions; a table cell is ``<td data-key="<key>" data-value="<JSON>">text</td>``, a card of an overview
``<div class="value" data-key=... data-value=...>text</div>``; a withheld section holds
``<div data-withheld="<dataset>">`` notices instead of figures; the cover's ``<table data-block="sources">`` lists
the datasets read, one ``<tr data-dataset=... data-status=...>`` each. Elements a template writes as ``<x/>`` (an
SVG's paths) open and close at once, as html.parser reports them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

__all__ = ["Cell", "Figure", "Page", "PageSection", "SourceRow", "parse_page", "read_page"]

Cell = tuple[Any, str]  # (the cell's raw value decoded from data-value, the text shown)


@dataclass
class Figure:
    """A table or chart figure of the report."""

    id: str
    type: str  # table or chart
    section: str | None
    datasets: list[str]
    title: str = ""
    source: str = ""  # the text of <p class="source">
    note: str | None = None
    empty: str | None = None  # the text shown instead of rows, when the table has none
    cards: bool = False
    declared_rows: int | None = None  # the figure's data-rows
    rows: list[dict[str, Cell]] = field(default_factory=list)


@dataclass
class PageSection:
    key: str
    title: str = ""
    withheld: list[str] = field(default_factory=list)  # datasets whose notices stand in for the section's figures
    withheld_notices: dict[str, str] = field(default_factory=dict)  # dataset -> its notice's text
    blocks: list[str] = field(default_factory=list)  # the ids of its figures, in order
    notes: list[str] = field(default_factory=list)  # the texts of its notices (a partial month, a provisional rank)


@dataclass
class SourceRow:
    """A row of the cover's table of the datasets read."""

    dataset: str
    status: str
    cells: list[str] = field(default_factory=list)  # dataset, version, published, data as of, status text

    @property
    def version(self) -> str:
        return self.cells[1] if len(self.cells) > 1 else ""


@dataclass
class Page:
    kind: str | None = None
    period: str | None = None
    sections: dict[str, PageSection] = field(default_factory=dict)
    tables: dict[str, Figure] = field(default_factory=dict)
    charts: dict[str, Figure] = field(default_factory=dict)
    sources: dict[str, SourceRow] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)  # the data-notice values of the cover's notices
    other_blocks: list[str] = field(default_factory=list)  # data-block ids on anything else (none expected)

    @property
    def withheld(self) -> dict[str, list[str]]:
        """Section key → the datasets it says are withheld (sections that show their figures left out)."""
        return {key: section.withheld for key, section in self.sections.items() if section.withheld}

    @property
    def figures(self) -> dict[str, Figure]:
        return {**self.tables, **self.charts}


_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class _Capture:
    """Text collected from an element until it closes (nested elements included)."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.depth = 1
        self.parts: list[str] = []

    @property
    def text(self) -> str:
        return "".join(self.parts).strip()


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self.section: PageSection | None = None
        self.figure: Figure | None = None
        self.figure_depth = 0
        self.row: dict[str, Cell] | None = None
        self.source_row: SourceRow | None = None
        self.capture: _Capture | None = None
        self.cell: tuple[str, Any] | None = None  # key and raw value of the cell being read

    # --- tags ------------------------------------------------------------------------------------------------

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        classes = attributes.get("class", "").split()
        if self.capture is not None and tag not in _VOID:
            self.capture.depth += 1
        if self.figure is not None and tag == "figure":
            raise AssertionError("a figure inside a figure")
        if self.figure is not None and tag not in _VOID:
            self.figure_depth += 1
        if tag == "body":
            self.page.kind = attributes.get("data-report")
            self.page.period = attributes.get("data-period")
        elif tag == "section" and "data-section" in attributes:
            self.section = PageSection(attributes["data-section"])
            self.page.sections[self.section.key] = self.section
        elif tag == "figure" and "data-block" in attributes:
            self._open_figure(attributes, classes)
        elif "data-block" in attributes:
            if not (attributes["data-block"] == "sources" and tag == "table" and self.section is None):
                self.page.other_blocks.append(attributes["data-block"])
        elif "data-withheld" in attributes:
            if self.section is None:
                raise AssertionError(f"a withheld notice outside a section: {attributes['data-withheld']}")
            self.section.withheld.append(attributes["data-withheld"])
            self._start_capture(f"withheld:{attributes['data-withheld']}")
        elif "data-notice" in attributes:
            self.page.notices.append(attributes["data-notice"])
        elif tag == "tr" and "data-dataset" in attributes:
            self.source_row = SourceRow(attributes["data-dataset"], attributes.get("data-status", ""))
            self.page.sources[self.source_row.dataset] = self.source_row
        elif tag == "td" and self.source_row is not None and self.figure is None:
            self._start_capture("source_cell")
        elif self.figure is not None:
            self._figure_tag(tag, attributes, classes)
        elif tag == "h2" and self.section is not None:
            self._start_capture("section_title")
        elif tag == "div" and "notice" in classes and self.section is not None:
            self._start_capture("section_note")

    def handle_endtag(self, tag: str) -> None:
        if self.capture is not None and tag not in _VOID:
            self.capture.depth -= 1
            if self.capture.depth == 0:
                self._end_capture()
        if tag == "tr":
            self.source_row = None
            self.row = None
        if self.figure is not None and tag not in _VOID:
            self.figure_depth -= 1
            if self.figure_depth == 0:
                self.figure = None
        elif tag == "section":
            self.section = None

    def handle_data(self, data: str) -> None:
        if self.capture is not None:
            self.capture.parts.append(data)

    # --- figures -----------------------------------------------------------------------------------------------

    def _open_figure(self, attributes: dict[str, str], classes: list[str]) -> None:
        block = attributes["data-block"]
        kind = "table" if "table" in classes else "chart" if "chart" in classes else None
        if kind is None:
            raise AssertionError(f"figure {block} is neither a table nor a chart: {classes}")
        registry = self.page.tables if kind == "table" else self.page.charts
        if block in self.page.tables or block in self.page.charts:
            raise AssertionError(f"block {block} shown twice")
        rows = attributes.get("data-rows")
        self.figure = Figure(block, kind, self.section.key if self.section else None,
                             attributes.get("data-datasets", "").split(),
                             declared_rows=int(rows) if rows not in (None, "") else None)
        self.figure_depth = 1
        registry[block] = self.figure
        if self.section is not None:
            self.section.blocks.append(block)

    def _figure_tag(self, tag: str, attributes: dict[str, str], classes: list[str]) -> None:
        assert self.figure is not None
        if tag == "figcaption":
            self._start_capture("title")
        elif tag == "p" and "source" in classes:
            self._start_capture("source")
        elif tag == "p" and "note" in classes:
            self._start_capture("note")
        elif tag == "p" and "empty" in classes:
            self._start_capture("empty")
        elif tag == "div" and "cards" in classes:
            self.figure.cards = True
            self.row = {}
            self.figure.rows.append(self.row)
        elif tag == "tr" and self.figure.type == "table":
            self.row = None  # a row starts at its first cell with a data-key (a header row has none)
        elif "data-key" in attributes and "data-value" in attributes:
            if self.figure.cards:
                assert self.row is not None
            elif self.row is None:
                self.row = {}
                self.figure.rows.append(self.row)
            self.cell = (attributes["data-key"], json.loads(attributes["data-value"]))
            self._start_capture("cell")

    # --- text --------------------------------------------------------------------------------------------------

    def _start_capture(self, target: str) -> None:
        if self.capture is not None:
            raise AssertionError(f"{target} inside {self.capture.target}")
        self.capture = _Capture(target)

    def _end_capture(self) -> None:
        capture, self.capture = self.capture, None
        assert capture is not None
        text = capture.text
        if capture.target == "cell":
            assert self.row is not None and self.cell is not None
            key, raw = self.cell
            if key in self.row:
                raise AssertionError(f"column {key} twice in a row of {self.figure.id if self.figure else '?'}")
            self.row[key] = (raw, text)
            self.cell = None
        elif capture.target == "source_cell":
            assert self.source_row is not None
            self.source_row.cells.append(text)
        elif capture.target == "section_title":
            assert self.section is not None
            self.section.title = text
        elif capture.target.startswith("withheld:"):
            assert self.section is not None
            self.section.withheld_notices[capture.target.removeprefix("withheld:")] = text
        elif capture.target == "section_note":
            assert self.section is not None
            self.section.notes.append(text)
        elif self.figure is not None:
            setattr(self.figure, capture.target, text)


def parse_page(html: str) -> Page:
    """The sections, figures, rows and sources of a report's HTML."""
    reader = _Reader()
    reader.feed(html)
    reader.close()
    return reader.page


def read_page(path: Path | str) -> Page:
    """The sections, figures, rows and sources of a report's HTML file."""
    return parse_page(Path(path).read_text(encoding="utf-8"))
