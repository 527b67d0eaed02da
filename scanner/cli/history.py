"""``scanner history``, ``diff`` and ``show``: the scans recorded in the local store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from scanner.audit import recorded_report
from scanner.changes import compare
from scanner.cli.common import ListFormat, all_option, chosen_format, db_option, fail, reporter_for, wide_option, write
from scanner.errors import ScannerError, StoreError
from scanner.own import digest
from scanner.places import default_db_path
from scanner.reporters.interface import Format
from scanner.reporters.terminal import diff_text, history_table
from scanner.store.database import Store, open_store, read_store


def scan_ids(store: Store, old: str | None, new: str | None) -> tuple[str, str]:
    """``diff``'s two scans: as given, else the latest scan and the one before it of the same host and paths."""
    newest = store.resolve(new) if new else next(iter(store.latest(1)), None)
    if newest is None:
        raise StoreError(f"{store.path}: no scans recorded yet")
    oldest = store.resolve(old) if old else store.previous(newest)
    if oldest is None:
        raise StoreError(
            f"{store.path}: scan {newest[:8]} has no earlier scan of the same host and paths; name two scans "
            "(see: scanner history)"
        )
    return oldest, newest


def history(
    limit: Annotated[int, typer.Option(help="How many scans to list, most recent first.")] = 20,
    db: Annotated[Path | None, db_option()] = None,
    format: Annotated[ListFormat, typer.Option("--format", "-f", help="Output format.")] = ListFormat.TABLE,
) -> None:
    """List the recorded scans with their verdicts and counts, most recent first.

    Example: scanner history --limit 5
    """
    try:
        store = read_store(db)
        scans = [] if store is None else store.history(limit)
        if store is not None:
            store.close()
    except ScannerError as error:
        fail(error)
    if format is ListFormat.JSON:
        write(json.dumps([s.to_dict() for s in scans], indent=2) + "\n")
        return
    write(history_table(scans))


def diff(
    old: Annotated[str | None, typer.Argument(help="The earlier scan (id or unique prefix).")] = None,
    new: Annotated[str | None, typer.Argument(help="The later scan. Default: the latest.")] = None,
    db: Annotated[Path | None, db_option()] = None,
    format: Annotated[ListFormat, typer.Option("--format", "-f", help="Output format.")] = ListFormat.TABLE,
) -> None:
    """Show the findings that are new, resolved and unchanged between two scans (matched by fingerprint).

    Without arguments: the latest scan against the one before it of the same host and paths.

    Example: scanner diff 3f2a9c1e 77b0d4aa
    """
    try:
        with recorded(db) as store:
            old_id, new_id = scan_ids(store, old, new)
            old_report, new_report = store.load(old_id), store.load(new_id)
    except ScannerError as error:
        fail(error)
    changes = compare(old_report, new_report)
    if format is ListFormat.JSON:
        scans = {
            "old_scan": changes.pop("previous_scan"),
            "new_scan": {"id": new_id, "finished": new_report["scan"]["finished"]},
        }
        write(json.dumps({**scans, **changes}, indent=2, ensure_ascii=False) + "\n")
        return
    write(diff_text(old_report, new_report, changes))


def show(
    scan_id: Annotated[str, typer.Argument(help="The scan (id or unique prefix; see scanner history).")],
    db: Annotated[Path | None, db_option()] = None,
    format: Annotated[
        Format | None,
        typer.Option("--format", "-f", help="Output format. Default: what the -o file's suffix names, else the table."),
    ] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the report to FILE.")] = None,
    wide: Annotated[bool, wide_option()] = False,
    everything: Annotated[bool, all_option()] = False,
) -> None:
    """Render a recorded scan again, in any output format, with what changed since the scan before it.

    Example: scanner show 3f2a9c1e --format html -o summary.html
    """
    try:
        with recorded(db) as store:
            report = recorded_report(store, scan_id)
        written = write(reporter_for(chosen_format(format, output), wide, everything).render(report), output)
    except ScannerError as error:
        fail(error)
    if output is not None:
        remember_report(db, written, output)


def recorded(db: Path | None) -> Store:
    """The store, opened for reading: a command that only reads neither creates one nor needs to write."""
    store = read_store(db)
    if store is None:
        raise StoreError(f"{db or default_db_path()}: no scans recorded yet (no store there; see --db)")
    return store


def remember_report(db: Path | None, written: bytes, output: Path) -> None:
    """Best effort: a later scan knows the report as the scanner's own; with a store it cannot write
    to, the report is still written, and a note says a later scan will read it."""
    try:
        with open_store(db) as store:
            store.remember_own(digest(written), str(output.resolve()), "report")
    except StoreError as error:
        typer.echo(f"scanner: note: {output} is not remembered as this scanner's report ({error})", err=True)
