"""What every command shares: exit codes, the one error exit, writing output, and common options.

Only the CLI prints, picks exit codes and turns ``ScannerError`` into a message. Exit codes: 0 nothing
at or above ``--fail-on``; 1 something was; 2 bad input or usage.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, NoReturn

import typer

from scanner.cli.output import write_private
from scanner.errors import ReportError, ScannerError
from scanner.reporters.interface import Format
from scanner.vocabulary import Word

EXIT_OK, EXIT_FOUND, EXIT_USAGE = 0, 1, 2


class ListFormat(Word):
    """The two forms of every listing command: a table for people, JSON for programs."""

    TABLE = "table"
    JSON = "json"


def fail(error: ScannerError) -> NoReturn:
    typer.echo(f"scanner: error: {error}", err=True)
    raise typer.Exit(EXIT_USAGE)


def write(text: str, output: Path | None = None) -> None:
    """Write UTF-8 to stdout or ``output``; a lone surrogate that hostile input smuggled into a value is
    written as ``\\udXXX``."""
    data = text.encode("utf-8", "backslashreplace")
    if output is None:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    try:
        write_private(output, data)
    except OSError as error:
        raise ReportError(f"{output}: cannot write: {error.strerror or error}") from error


def chosen_format(given: Format | None, output: Path | None) -> Format:
    """``--format`` as given; else the table on a terminal and JSON everywhere else."""
    return given or (Format.TABLE if output is None and sys.stdout.isatty() else Format.JSON)


def db_option() -> Any:
    return typer.Option(
        "--db",
        help="The local store (SQLite). Default: $SCANNER_DB, else /var/lib/scanner/scanner.db as root, "
        "else the user's data directory.",
        dir_okay=False,
    )


def policy_option() -> Any:
    return typer.Option(help="Policy file or bundled policy name (repeatable). Default: the bundled 'default'.")
