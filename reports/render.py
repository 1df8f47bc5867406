"""Write a report: the self-contained HTML (inline CSS and SVG charts, nothing fetched), its PDF printed by headless
Chromium, a JSON record of every figure with the dataset versions it came from, and the index page of all reports.

Layout under the store's ``reports/`` (``$GRIDLAKE_HOME/reports/`` by default; written locally, then uploaded, on an
object store: reports/flow.py)::

    index.html                          every report, newest first, with its data status
    <kind>/<slug>.html|.pdf|.json       one report (slug: the day, ISO week or month covered)
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2

from reports.charts import FONT
from reports.fonts import EMBEDDED_FAMILY, font_faces
from reports.model import ChartBlock, NoteBlock, Section, TableBlock, display
from reports.periods import KINDS, TITLES, Period
from reports.sources import Source

__all__ = ["CHROMIUM_ARGS", "ChromiumMissing", "chromium_path", "print_pdf", "render_html", "write_index",
           "write_record", "write_text"]

# Chromium headless on a machine without a network (or a sandbox for it): nothing in the background reaches out.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

_env = jinja2.Environment(loader=jinja2.PackageLoader("reports", "templates"), autoescape=True,
                          trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)


class ChromiumMissing(RuntimeError):
    """No Chromium to print PDFs with (``make setup`` installs Debian's; GRIDLAKE_CHROMIUM names another)."""


def chromium_path() -> str:
    """The Chromium to print with: ``GRIDLAKE_CHROMIUM``, else the first of chromium, chromium-browser,
    google-chrome on the PATH."""
    named = os.environ.get("GRIDLAKE_CHROMIUM")
    if named:
        return named
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise ChromiumMissing("no Chromium found to print the PDF with: install Debian's chromium (make setup does) "
                          "or set GRIDLAKE_CHROMIUM to a Chromium or Chrome binary")


def _raw(value: Any) -> str:
    """A cell's value as JSON (what tests and apps compare): dates and times as ISO text."""
    if isinstance(value, datetime | date):
        value = value.isoformat()
    return json.dumps(value, ensure_ascii=False)


def _moment(tz: ZoneInfo):
    def moment(value: datetime | None) -> str:
        return "—" if value is None else f"{value.astimezone(tz):%Y-%m-%d %H:%M}"
    return moment


def _cite(sources: dict[str, Source], moment) -> Any:
    def cite(datasets: Iterable[str]) -> str:
        parts = []
        for name in datasets:
            source = sources[name]
            parts.append(f"{name} 版本 {source.version}（数据截至 {moment(source.data_as_of)}）")
        return "数据来源：" + "；".join(parts)
    return cite


def render_html(period: Period, sections: list[Section], sources: dict[str, Source], *, generated_at: datetime,
                tz: ZoneInfo) -> str:
    moment = _moment(tz)
    withheld = [name for name, source in sources.items() if source.status in ("withheld", "missing")]
    page = _env.get_template("report.html.j2").render(
        period=period, sections=sections, sources=list(sources.values()), withheld=withheld, font=FONT,
        embedded_family=EMBEDDED_FAMILY, generated_at=moment(generated_at), moment=moment, show=display, raw=_raw,
        cite=_cite(sources, moment))
    return _embed_font(page)


def _embed_font(page: str) -> str:
    """The page with the CJK font's subset for its characters embedded (``reports.fonts``)."""
    return page.replace("/*FONT-FACES*/", font_faces(page), 1)


def write_text(path: Path, text: str) -> None:
    """Write a file whole: aside, then renamed over (a reader never sees half a report)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    aside = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    aside.write_text(text, encoding="utf-8")
    os.replace(aside, path)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"not serialisable: {type(value).__name__}")


def write_record(path: Path, period: Period, sections: list[Section], sources: dict[str, Source], *,
                 generated_at: datetime, files: dict[str, str]) -> dict[str, Any]:
    """The report's record: its period, the versions it read, what was withheld, and every table's rows."""
    record = {
        "kind": period.kind, "slug": period.slug, "title": period.title, "label": period.label,
        "issued_on": period.issued_on.isoformat(), "period_start": period.start.isoformat(),
        "period_end": period.end.isoformat(), "generated_at": generated_at.isoformat(timespec="seconds"),
        "files": files,
        "sources": {name: source.as_dict() for name, source in sources.items()},
        "withheld": sorted({source.dataset for section in sections for source in section.withheld}),
        "sections": [{
            "key": section.key, "title": section.title, "datasets": section.datasets,
            "withheld": [source.dataset for source in section.withheld],
            "blocks": [_block_record(block) for block in section.blocks]} for section in sections],
    }
    write_text(path, json.dumps(record, ensure_ascii=False, indent=1, default=_json_default))
    return record


def _block_record(block: Any) -> dict[str, Any]:
    if isinstance(block, TableBlock):
        return {"id": block.id, "type": "table", "title": block.title, "datasets": block.datasets,
                "columns": [{"key": c.key, "label": c.label, "kind": c.kind} for c in block.columns],
                "rows": [{c.key: row.get(c.key) for c in block.columns} for row in block.rows]}
    if isinstance(block, ChartBlock):
        return {"id": block.id, "type": "chart", "title": block.title, "datasets": block.datasets}
    if isinstance(block, NoteBlock):
        return {"type": "note", "text": block.text}
    raise TypeError(f"unknown block {block!r}")


def print_pdf(html_path: Path, pdf_path: Path) -> None:
    """Print the HTML to an A4 PDF in headless Chromium, page numbers in the footer."""
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    aside = pdf_path.with_name(f".{pdf_path.name}.{os.getpid()}.tmp")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(html_path.resolve().as_uri(), wait_until="load")
            page.pdf(path=str(aside), format="A4", print_background=True, display_header_footer=True,
                     header_template="<span></span>",
                     footer_template=(f'<div style="font-family:{FONT.replace(chr(34), chr(39))};font-size:9px;'
                                      'width:100%;text-align:center;color:#616e7c">第 <span class="pageNumber">'
                                      '</span> 页 / 共 <span class="totalPages"></span> 页</div>'),
                     margin={"top": "14mm", "bottom": "16mm", "left": "12mm", "right": "12mm"})
        finally:
            browser.close()
    os.replace(aside, pdf_path)


def write_index(root: Path, *, updated_at: datetime, tz: ZoneInfo) -> Path:
    """The index page of every report written under ``root``, newest period first."""
    reports = []
    for record_path in root.glob("*/*.json"):
        record = json.loads(record_path.read_text(encoding="utf-8"))
        reports.append({**record, "html": record["files"].get("html"), "pdf": record["files"].get("pdf"),
                        "generated_at": _moment(tz)(datetime.fromisoformat(record["generated_at"]))})
    reports.sort(key=lambda item: (item["kind"], item["period_start"]), reverse=True)
    html = _embed_font(_env.get_template("index.html.j2").render(
        reports=reports, kinds=[(kind, TITLES[kind]) for kind in KINDS], font=FONT, embedded_family=EMBEDDED_FAMILY,
        updated_at=_moment(tz)(updated_at)))
    path = root / "index.html"
    write_text(path, html)
    return path
