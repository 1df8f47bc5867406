"""``gridlake report daily|weekly|monthly --date``: write a report from the published datasets; ``gridlake report
index``: rewrite the index page."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Annotated
from zoneinfo import ZoneInfo

import typer

__all__ = ["app"]

app = typer.Typer(help="The centre's reports from the published shared datasets (HTML, PDF, index).",
                  no_args_is_help=True, add_completion=False)

DateOpt = Annotated[str | None, typer.Option(
    "--date", "-d", help="the issue date, YYYY-MM-DD (default: today in the district): the daily covers the day "
                         "before, the weekly the Monday-Sunday week before, the monthly the month before")]
PdfOpt = Annotated[bool, typer.Option("--pdf/--no-pdf", help="also print the PDF (headless Chromium)")]


def _issue(kind: str, when: str | None, pdf: bool) -> None:
    from rich.console import Console

    from gridlake.settings import get_settings
    from reports import write_report
    from reports.render import ChromiumMissing

    settings = get_settings()
    try:
        issued_on = date.fromisoformat(when) if when else datetime.now(ZoneInfo(settings.timezone)).date()
    except ValueError:
        raise typer.BadParameter(f"--date {when!r} is not a date (YYYY-MM-DD)") from None
    try:
        output = write_report(kind, issued_on, settings, pdf=pdf)
    except ChromiumMissing as err:
        typer.echo(f"{err} (or pass --no-pdf)", err=True)
        raise typer.Exit(1) from None
    console = Console()
    console.print(f"{output.period.title} {output.period.label}: [bold]{output.html}[/]")
    if output.pdf:
        console.print(f"  PDF: {output.pdf}")
    console.print(f"  index: {output.index}")
    for name, version in output.versions.items():
        console.print(f"  {name}: {version or 'not published'}")
    if output.withheld:
        console.print(f"[yellow]withheld (sections say so instead of showing stale data)[/]: "
                      f"{', '.join(output.withheld)}")


@app.command()
def daily(when: DateOpt = None, pdf: PdfOpt = True) -> None:
    """每日专报: the day before the issue date."""
    _issue("daily", when, pdf)


@app.command()
def weekly(when: DateOpt = None, pdf: PdfOpt = True) -> None:
    """回访周报: the Monday-Sunday week before the issue date."""
    _issue("weekly", when, pdf)


@app.command()
def monthly(when: DateOpt = None, pdf: PdfOpt = True) -> None:
    """月度分析报告: the calendar month before the issue date."""
    _issue("monthly", when, pdf)


@app.command()
def index() -> None:
    """Rewrite the index page of the reports written so far."""
    from reports.flow import refresh_index

    typer.echo(str(refresh_index(updated_at=datetime.now(timezone.utc))))
