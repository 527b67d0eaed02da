"""The ``scanner`` command: the app, its command groups and the console-script entry point."""

from __future__ import annotations

from typing import Annotated

import typer

from scanner import __version__
from scanner.cli import agent, audit, fleet, history, lineage, policy
from scanner.cli.conventions import ScannerGroup

app = typer.Typer(
    cls=ScannerGroup,
    help="Find banned AI providers, models and distilled derivatives on this machine, and explain why.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.command()(audit.audit)
app.command()(history.history)
app.command()(history.diff)
app.command()(history.show)
app.command("prune")(history.prune_store)
app.command()(lineage.lineage)
app.add_typer(policy.policy_app, name="policy")
app.command()(fleet.serve)
app.command()(fleet.ingest)
app.command("submit")(agent.submit)
app.add_typer(fleet.fleet_app, name="fleet")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"scanner {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Find banned AI providers, models and distilled derivatives on this machine, and explain why."""


def main() -> None:
    """Console-script entry point."""
    app()
