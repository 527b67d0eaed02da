"""What every command shares: exit codes, the one error exit, writing output, and common options.

Only the CLI prints, picks exit codes and turns ``ScannerError`` into a message. Exit codes: 0 nothing
at or above ``--fail-on``; 1 something was; 2 bad input or usage; 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any, NoReturn

import typer

from scanner.errors import ReportError, ScannerError
from scanner.output import write_private
from scanner.reporters.interface import FleetFormat, Format, Reporter
from scanner.reporters.registry import reporter
from scanner.reporters.table import TableReporter, TableView
from scanner.vocabulary import Word

EXIT_OK, EXIT_FOUND, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 130
"""Ctrl-C, as shells report a process ended by SIGINT (128 + 2)."""


class ListFormat(Word):
    """The two forms of every listing command: a table for people, JSON for programs."""

    TABLE = "table"
    JSON = "json"


def fail(error: ScannerError) -> NoReturn:
    typer.echo(f"scanner: error: {error}", err=True)
    raise typer.Exit(EXIT_USAGE)


def write(text: str | bytes, output: Path | None = None) -> bytes:
    """Write UTF-8 to stdout or ``output`` and return the bytes written; a lone surrogate that hostile
    input smuggled into a value is written as ``\\udXXX``. Bytes are written as they are (a reporter's
    ``encoded``)."""
    data = text if isinstance(text, bytes) else text.encode("utf-8", "backslashreplace")
    if output is None:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return data
    try:
        write_private(output, data)
    except OSError as error:
        raise ReportError(f"{output}: cannot write: {error.strerror or error}") from error
    return data


SUFFIX_FORMATS: tuple[tuple[str, Format], ...] = (
    (".cdx.json", Format.CYCLONEDX),
    (".json", Format.JSON),
    (".sarif", Format.SARIF),
    (".html", Format.HTML),
    (".htm", Format.HTML),
    (".md", Format.MARKDOWN),
    (".csv", Format.CSV),
)
"""The format an ``-o`` file's name asks for, longest suffix first (``report.cdx.json`` is CycloneDX)."""


def chosen_format(given: Format | None, output: Path | None) -> Format:
    """``--format`` as given; else what the ``-o`` file's name says; else the table, wherever it goes (as
    grype, trivy and pip-audit do: ``scanner audit | grep VIOLATION`` counts what a person would see)."""
    if given is not None:
        return given
    name = output.name.lower() if output is not None else ""
    return next((fmt for suffix, fmt in SUFFIX_FORMATS if name.endswith(suffix)), Format.TABLE)


def fleet_format(given: FleetFormat | None, output: Path | None) -> FleetFormat:
    """As ``chosen_format``, for the fleet summary: ``-o fleet.html`` writes the page."""
    if given is not None:
        return given
    chosen = chosen_format(None, output)
    return FleetFormat(chosen.value) if chosen.value in set(FleetFormat) else FleetFormat.TABLE


def reporter_for(chosen: Format, wide: bool = False, everything: bool = False) -> Reporter:
    """The reporter of ``chosen``; the table fits the terminal it is printed on (``COLUMNS`` when set),
    and has no width limit in a pipe or a file, where nothing wraps it."""
    if chosen is not Format.TABLE:
        return reporter(chosen)
    return TableReporter(TableView(terminal_width(), wide, everything))


def terminal_width() -> int | None:
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    return shutil.get_terminal_size().columns if sys.stdout.isatty() else None


def wide_option() -> Any:
    return typer.Option("--wide", help="Table: add the rule and the explanation of each finding (wrapped).")


def all_option() -> Any:
    return typer.Option("--all", help="Table: list every finding (more than 50 are grouped by folder otherwise).")


def db_option() -> Any:
    return typer.Option(
        "--db",
        help="The local store (SQLite). Default: $SCANNER_DB, else /var/lib/scanner/scanner.db as root, "
        "else the user's data directory.",
        dir_okay=False,
    )


def policy_option() -> Any:
    return typer.Option(help="Policy file or bundled policy name (repeatable). Default: the bundled 'default'.")


def keep_last_option(doing: str = "") -> Any:
    return typer.Option(
        "--keep-last", min=1, metavar="N", help=f"{doing}Keep at least the latest N scans of each host, root and paths."
    )


def older_than_option(doing: str = "") -> Any:
    return typer.Option("--older-than", min=0, metavar="DAYS", help=f"{doing}Remove only scans older than DAYS days.")
