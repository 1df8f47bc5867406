"""The ``gridlake`` command.

The core registers only what it owns (``gridlake settings``); the project's other packages add their command
groups and commands through the ``gridlake.commands`` entry-point group (``gridlake sim`` from the simulators,
``gridlake ingest`` from the connectors), so the core imports no project folder.
"""

from __future__ import annotations

import json
from importlib.metadata import entry_points

import typer

from gridlake.settings import get_settings

__all__ = ["app"]

app = typer.Typer(help="gridlake: the district's data lakehouse.", no_args_is_help=True, add_completion=False)


@app.command("settings")
def show_settings() -> None:
    """Print the settings in force (defaults overridden by GRIDLAKE_* variables), as JSON."""
    typer.echo(json.dumps(get_settings().model_dump(mode="json"), ensure_ascii=False, indent=2))


@app.command("build", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def build(ctx: typer.Context, spark: bool = typer.Option(
        False, "--spark", help="Build on a local SparkSession (dbt-spark) instead of the DuckDB warehouse.")) -> None:
    """Build the dbt project on the lake (dbt build; extra arguments go to dbt, e.g. --select staging)."""
    from gridlake.transform import SPARK_TARGET, DbtFailed, run_dbt

    try:
        run_dbt(["build", *ctx.args], target=SPARK_TARGET if spark else None)
    except DbtFailed as err:
        typer.echo(str(err), err=True)
        raise typer.Exit(1) from None


@app.command("dbt", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def dbt(ctx: typer.Context) -> None:
    """Any dbt command on the project with the settings as vars (gridlake dbt docs generate, ... ls, ...)."""
    from gridlake.transform import DbtFailed, run_dbt

    try:
        run_dbt(list(ctx.args))
    except DbtFailed as err:
        typer.echo(str(err), err=True)
        raise typer.Exit(1) from None


@app.command("verify")
def verify() -> None:
    """Check the shared zone against its publication ledger: every entry's hash and chain, every published file's
    sha256, every catalogued version's entry. Exits 1 naming what changed."""
    from rich.console import Console
    from rich.table import Table

    from gridlake.shared import SharedZone

    zone = SharedZone.default()
    problems = zone.verify()
    console = Console()
    if not problems:
        console.print(f"[green]verified[/]: {len(zone.ledger())} ledger entries, the catalog and every kept file "
                      f"of {zone.root}")
        return
    table = Table(title=f"{len(problems)} problems in {zone.root}")
    table.add_column("where")
    table.add_column("problem")
    for problem in problems:
        table.add_row(problem.where, problem.problem)
    console.print(table)
    raise typer.Exit(1)


def _register_plugins() -> None:
    for entry in entry_points(group="gridlake.commands"):
        command = entry.load()
        if isinstance(command, typer.Typer):  # a command group: gridlake sim generate|serve|...
            app.add_typer(command, name=entry.name)
        else:  # one command: gridlake ingest <platform>
            app.command(entry.name)(command)


_register_plugins()
