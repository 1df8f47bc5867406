"""``gridlake publish``: gate the shared datasets and publish the ones that pass; a table of what happened."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

__all__ = ["publish"]

_STYLE = {"published": "green", "unchanged": "dim", "failed": "red", "held_back": "yellow", "missing": "yellow"}


def publish(
    dataset: Annotated[list[str] | None, typer.Option("--dataset", "-d", help="only these (repeatable)")] = None,
) -> None:
    """Validate every shared dataset of the warehouse and publish those that pass into the shared zone."""
    from gridlake.settings import get_settings
    from publication.flow import publish as run

    settings = get_settings()
    report = run(settings, datasets=dataset or None)
    table = Table(title=f"publication {report.run_id}")
    for column in ("dataset", "status", "rows", "version", "why"):
        table.add_column(column)
    for outcome in report.outcomes.values():
        table.add_row(outcome.dataset, f"[{_STYLE[outcome.status]}]{outcome.status}[/]",
                      "" if outcome.rows is None else f"{outcome.rows:,}", outcome.version or "",
                      "; ".join(outcome.reasons[:3]) + (" ..." if len(outcome.reasons) > 3 else ""))
    console = Console()
    console.print(table)
    from gridlake.shared import SharedZone

    console.print(f"catalog: {SharedZone.default(settings).catalog_path}; check results: {report.results_dir}")
    if report.retired:
        console.print(f"retired (older than {settings.publish.keep_versions}): {', '.join(report.retired)}")
    if not report.ok:
        raise typer.Exit(1)
