"""Write one report: judge its datasets, build its sections, write HTML, PDF and record, refresh the index.

Reports go to the store's ``reports/`` (gridlake/storage.py), where the portal serves them from: in place under
``$GRIDLAKE_HOME/reports`` by default; with the store elsewhere (an object store), written in a local scratch folder
(Chromium prints the PDF from a local file), then uploaded, the index last, so that a report written by a worker
on one machine is served by the portal on another.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from gridlake.settings import Settings, get_settings
from gridlake.storage import Store
from reports import daily, monthly, weekly
from reports.context import Context
from reports.periods import Period, period_for
from reports.render import print_pdf, render_html, write_index, write_record, write_text
from reports.sources import Sources

__all__ = ["ReportOutput", "refresh_index", "reports_store", "write_report"]

_KINDS = {"daily": daily, "weekly": weekly, "monthly": monthly}


@dataclass
class ReportOutput:
    period: Period
    # files on disk, URIs on an object store
    html: Path | str
    pdf: Path | str | None
    record: Path | str
    index: Path | str
    withheld: list[str]  # datasets whose sections say they are withheld instead of showing figures
    versions: dict[str, str | None]


def write_report(kind: str, issued_on: date, settings: Settings | None = None, *, pdf: bool = True,
                 now: datetime | None = None) -> ReportOutput:
    """Write the report of ``kind`` issued on ``issued_on`` into the store's ``reports/``."""
    settings = settings or get_settings()
    tz = ZoneInfo(settings.timezone)
    period = period_for(kind, issued_on, timezone=settings.timezone)
    module = _KINDS[kind]
    generated_at = now or datetime.now(timezone.utc)
    sources = Sources(settings, period, list(module.DATASETS))
    try:
        sections = module.sections(Context(settings, period, sources))
    finally:
        sources.close()
    store = reports_store(settings)
    with _local_root(settings, store) as root:
        html_path = root / kind / f"{period.slug}.html"
        pdf_path = html_path.with_suffix(".pdf")
        write_text(html_path, render_html(period, sections, sources.sources, generated_at=generated_at, tz=tz))
        if pdf:
            print_pdf(html_path, pdf_path)
        elif pdf_path.exists():
            pdf_path.unlink()  # an older PDF would not match the new HTML
        files = {"html": f"{kind}/{html_path.name}"} | ({"pdf": f"{kind}/{pdf_path.name}"} if pdf else {})
        record = write_record(html_path.with_suffix(".json"), period, sections, sources.sources,
                              generated_at=generated_at, files=files)
        if not store.local:
            for name in (*files.values(), f"{kind}/{period.slug}.json"):
                store.upload(root / name, name)
            if not pdf:
                store.remove(f"{kind}/{pdf_path.name}")
        refresh_index(settings, updated_at=generated_at, root=root)
    return ReportOutput(period, store.locate(files["html"]), store.locate(files["pdf"]) if pdf else None,
                        store.locate(f"{kind}/{period.slug}.json"), store.locate("index.html"),
                        record["withheld"], {name: source.version for name, source in sources.sources.items()})


def reports_store(settings: Settings | None = None) -> Store:
    """Where the reports are: the store's ``reports/`` (``$GRIDLAKE_HOME/reports`` by default)."""
    return Store.default(settings or get_settings()).child("reports")


@contextmanager
def _local_root(settings: Settings, store: Store) -> Iterator[Path]:
    """The folder a report is written in: the store's own on disk, a scratch folder (removed after) otherwise."""
    if store.local:
        yield Path(store.root)
        return
    (settings.home / "tmp").mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="gridlake-reports-", dir=settings.home / "tmp"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def refresh_index(settings: Settings | None = None, *, updated_at: datetime | None = None,
                  root: Path | None = None) -> Path | str:
    """Rewrite the index page of every report in the store. On an object store the records are fetched into a
    scratch folder (``root``, when a report was just written there) and the page is uploaded."""
    settings = settings or get_settings()
    store = reports_store(settings)
    updated_at = updated_at or datetime.now(timezone.utc)
    tz = ZoneInfo(settings.timezone)
    with _local_root(settings, store) if root is None else nullcontext(root) as folder:
        if not store.local:
            for name in store.glob("*/*.json"):
                if not (folder / name).exists():
                    store.download(name, folder / name)
        write_index(folder, updated_at=updated_at, tz=tz)
        if not store.local:
            store.upload(folder / "index.html", "index.html")
    return store.locate("index.html")

