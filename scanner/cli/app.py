"""The ``scanner`` command: the app, its command groups and the console-script entry point.

Each command's module is imported when the command joins an app, so a run pays for its own command
only: ``scanner audit`` never loads the fleet's commands, the history's or the policy tools'.
"""

from __future__ import annotations

import gc
import importlib
import os
import sys
from functools import cache
from typing import Annotated

import typer

from scanner import __version__
from scanner.cli.conventions import ScannerGroup

_COMMANDS: dict[str, tuple[str, str]] = {
    "audit": ("audit", "audit"),
    "history": ("history", "history"),
    "diff": ("history", "diff"),
    "show": ("history", "show"),
    "prune": ("history", "prune_store"),
    "lineage": ("lineage", "lineage"),
    "policy": ("policy", "policy_app"),
    "serve": ("fleet", "serve"),
    "ingest": ("fleet", "ingest"),
    "submit": ("agent", "submit"),
    "fleet": ("fleet", "fleet_app"),
}
"""Every top-level command, by name: the module of ``scanner.cli`` and the function (or command group) it
is, in the order ``--help`` lists them."""
_ALSO: dict[str, tuple[str, ...]] = {"submit": ("audit",)}
"""The other commands a command reads: ``scanner submit --config`` passes over the agent file's ``audit``
options, which it knows from ``audit`` itself."""


def _version(value: bool) -> None:
    if value:
        typer.echo(f"scanner {__version__}")
        raise typer.Exit()


def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Find banned AI providers, models and distilled derivatives on this machine, and explain why."""


def _app(only: str | None = None) -> typer.Typer:
    """The app with every command, or with ``only`` that one (and those it reads): Typer turns each
    command's signature into options before it runs any, 25 ms for all of them and 6 ms for ``audit``
    alone, and each command's module costs its imports (start-up)."""
    made = typer.Typer(
        cls=ScannerGroup,
        help="Find banned AI providers, models and distilled derivatives on this machine, and explain why.",
        no_args_is_help=True,
        add_completion=True,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
    )
    wanted = None if only is None else {only, *_ALSO.get(only, ())}
    for name, (module, attribute) in _COMMANDS.items():
        if wanted is None or name in wanted:
            command = getattr(importlib.import_module(f"scanner.cli.{module}"), attribute)
            if isinstance(command, typer.Typer):
                made.add_typer(command, name=name)
            else:
                made.command(name)(command)
    made.callback()(_main)
    return made


@cache
def _whole() -> typer.Typer:
    return _app()


def __getattr__(name: str) -> typer.Typer:
    """``app``, the app with every command, made when first asked for (tests, completion, ``--help``)."""
    if name == "app":
        return _whole()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


GC_YOUNGEST = 20_000
"""Allocations between two collections of the youngest objects (Python's default: 700). A scan makes
hundreds of thousands of objects that live until its report is written, and almost no cycles: with the
default the collector ran about 200 times in a whole-machine re-scan, 36 ms, with this 5 times, 12 ms
(``gc.callbacks``, this machine); cycles are still collected, in batches."""


def main() -> None:
    """Build and run the command line (``console.main``, the console script, calls it): a command named
    first is built alone (completion needs them all)."""
    named = sys.argv[1] if len(sys.argv) > 1 else ""
    completing = any(key.endswith("_COMPLETE") for key in os.environ)
    # Building the command imports the modules it needs: objects that live as long as the process. Frozen, the
    # collector no longer goes through them, neither the ~30 times while they are made nor at exit, freeing
    # nothing each time: 35 ms of an audit of an empty root (medians of 31 alternated runs, 0.286 -> 0.251 s).
    gc.disable()
    try:
        command = _app(named) if named in _COMMANDS and not completing else _whole()
    finally:
        gc.freeze()
        gc.set_threshold(GC_YOUNGEST)
        gc.enable()
    command()
