"""Write one report: judge its datasets, build its sections, write HTML, PDF and record, refresh the index."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from gridlake.settings import Settings, get_settings
from reports import daily, monthly, weekly
from reports.context import Context
from reports.periods import Period, period_for
from reports.render import print_pdf, render_html, write_index, write_record, write_text
from reports.sources import Sources

__all__ = ["ReportOutput", "write_report"]

_KINDS = {"daily": daily, "weekly": weekly, "monthly": monthly}


@dataclass
class ReportOutput:
    period: Period
    html: Path
    pdf: Path | None
    record: Path
    index: Path
    withheld: list[str]  # datasets whose sections say they are withheld instead of showing figures
    versions: dict[str, str | None]


def write_report(kind: str, issued_on: date, settings: Settings | None = None, *, pdf: bool = True,
                 now: datetime | None = None) -> ReportOutput:
    """Write the report of ``kind`` issued on ``issued_on`` under ``$GRIDLAKE_HOME/reports``."""
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
    root = settings.home / "reports"
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
    index = write_index(root, updated_at=generated_at, tz=tz)
    return ReportOutput(period, html_path, pdf_path if pdf else None, html_path.with_suffix(".json"), index,
                        record["withheld"], {name: source.version for name, source in sources.sources.items()})
