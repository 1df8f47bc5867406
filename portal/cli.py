"""``gridlake serve``: the query service and data portal on loopback; ``gridlake portal token issue|revoke|list``:
the admin's commands for users' tokens."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["app", "serve"]

app = typer.Typer(help="The data portal's users and tokens.", no_args_is_help=True, add_completion=False)
token_app = typer.Typer(help="Issue, revoke and list users' tokens (stored hashed).", no_args_is_help=True)
app.add_typer(token_app, name="token")

PoliciesOpt = Annotated[Path | None, typer.Option("--policies", help="the policy file (default: portal/policies.yaml)")]


def _store():
    from gridlake.settings import get_settings
    from portal.tokens import TokenStore

    return TokenStore(get_settings().home / "portal" / "tokens.json")


def _policies(path: Path | None):
    from portal.policy import PolicyError, default_policies, load_policies

    try:
        return load_policies(path) if path else default_policies()
    except PolicyError as err:
        typer.echo(f"policy file: {err}", err=True)
        raise typer.Exit(2) from None


@token_app.command("issue")
def issue(
    user: Annotated[str, typer.Option("--user", help="who the token is for (a name for the log)")],
    role: Annotated[str, typer.Option("--role", help="the role (policies.yaml)")],
    street: Annotated[str | None, typer.Option("--street", help="a street office's street code")] = None,
    attribute: Annotated[list[str] | None, typer.Option("--attr", help="another attribute, key=value")] = None,
    policies: PoliciesOpt = None,
) -> None:
    """Issue a token; it is printed once and only its hash is kept."""
    from portal.policy import PolicyError

    attributes = {"street_code": street} if street else {}
    for item in attribute or []:
        key, _, value = item.partition("=")
        attributes[key] = value
    try:
        _policies(policies).user(user, role, attributes)
    except PolicyError as err:
        typer.echo(str(err), err=True)
        raise typer.Exit(2) from None
    issued = _store().issue(user, role, attributes)
    typer.echo(f"token for {user} ({role}), id {issued.token_id}; shown once, keep it:\n{issued.token}")


@token_app.command("revoke")
def revoke(token_id: Annotated[str, typer.Argument(help="the token's id (gridlake portal token list)")]) -> None:
    """Revoke a token: it fails at once."""
    if not _store().revoke(token_id):
        typer.echo(f"no active token with id {token_id}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {token_id}")


@token_app.command("list")
def list_tokens() -> None:
    """The tokens issued: id, user, role, attributes, when issued and revoked (never the token)."""
    from rich.console import Console
    from rich.table import Table

    table = Table()
    for column in ("id", "user", "role", "attributes", "issued", "revoked"):
        table.add_column(column)
    for entry in _store().list():
        table.add_row(entry["token_id"], entry["user"], entry["role"], str(entry["attributes"] or ""),
                      entry["issued_at"], entry["revoked_at"] or "")
    Console().print(table)


def serve(
    host: Annotated[str, typer.Option(help="the address to listen on (loopback by default)")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="the port")] = 8400,
    policies: PoliciesOpt = None,
) -> None:
    """Serve the query service and data portal (http://HOST:PORT/) over the shared zone."""
    import uvicorn

    from gridlake.settings import get_settings
    from portal.app import create_app

    settings = get_settings()
    typer.echo(f"portal on http://{host}:{port}/ (API docs /api/docs) over {settings.home / 'shared'}")
    uvicorn.run(create_app(settings, _policies(policies)), host=host, port=port, log_level="warning")
