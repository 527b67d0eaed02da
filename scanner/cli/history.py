"""``scanner history``, ``diff`` and ``show``: the scans recorded in the local store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from scanner.audit import recorded_report
from scanner.changes import compare
from scanner.cli.common import (
    ListFormat,
    all_option,
    chosen_format,
    db_option,
    fail,
    keep_last_option,
    older_than_option,
    reporter_for,
    wide_option,
    write,
)
from scanner.errors import ScannerError, StoreError, UsageError
from scanner.own import digest
from scanner.places import default_db_path
from scanner.reporters.interface import Format
from scanner.reporters.terminal import diff_text, history_table, prune_text, store_footer
from scanner.store.database import Store, open_store, read_store
from scanner.store.retention import DEFAULT_RETENTION, Retention, prune


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
    """List the recorded scans with their verdicts and counts, most recent first; then the store's size
    and what the default retention would remove.

    Example: scanner history --limit 5
    """
    try:
        store = read_store(db)
        if store is None:
            write(history_table([]))
            return
        with store:
            scans = store.history(limit)
            footer = store_footer(store.size(), DEFAULT_RETENTION, prune(store, DEFAULT_RETENTION, dry_run=True))
    except ScannerError as error:
        fail(error)
    if format is ListFormat.JSON:
        write(json.dumps([s.to_dict() for s in scans], indent=2) + "\n")
        return
    write(history_table(scans) + footer)


def prune_store(
    keep_last: Annotated[int | None, keep_last_option()] = None,
    older_than: Annotated[int | None, older_than_option()] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would be removed; remove nothing.")] = False,
    db: Annotated[Path | None, db_option()] = None,
    format: Annotated[ListFormat, typer.Option("--format", "-f", help="Output format.")] = ListFormat.TABLE,
) -> None:
    """Remove old scans from the store and give their space back to the filesystem.

    With both limits, a scan goes only when it is beyond the latest N of its scope and older than
    DAYS. Always kept: the latest scan of each host, root and paths, and the scans on both sides of a
    change in the findings, so the history still says when each finding appeared and was resolved.

    Example: scanner prune --keep-last 10 --older-than 90 --dry-run
    """
    if keep_last is None and older_than is None:
        fail(UsageError("say how much to keep: --keep-last N, --older-than DAYS, or both"))
    retention = Retention(keep_last=keep_last, older_than_days=older_than)
    try:
        if dry_run:
            with recorded(db) as store:
                pruned = prune(store, retention, dry_run=True)
        else:
            recorded(db).close()  # prune never creates a store
            with open_store(db) as store:
                pruned = prune(store, retention)
    except ScannerError as error:
        fail(error)
    if format is ListFormat.JSON:
        document = {
            "dry_run": pruned.dry_run,
            "removed": [s.to_dict() for s in pruned.scans],
            "size_before": pruned.before.to_dict(),
            "size_after": pruned.after.to_dict(),
        }
        write(json.dumps(document, indent=2) + "\n")
        return
    write(prune_text(pruned))


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
        written = write(reporter_for(chosen_format(format, output), wide, everything).encoded(report), output)
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
