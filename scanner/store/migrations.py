"""The store's schema as named, ordered migrations.

``PRAGMA user_version`` holds how many migrations a database has had. Opening one applies the
missing ones in order, each in its own transaction together with its ``migrations`` row and the
new ``user_version``, so a database written by an older scanner upgrades and a crash half-way
leaves it at the last complete step. A database from a newer scanner (a higher version than this
code knows) is refused: guessing at a schema we have never seen could lose its history.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from scanner.errors import StoreError
from scanner.store.transactions import write_transaction

if TYPE_CHECKING:
    import sqlite_utils


def _scans_records_findings_coverage(db: sqlite_utils.Database) -> None:
    db["scans"].create(  # type: ignore[union-attr]
        {
            "id": str,
            "host": str,
            "scope": str,
            "started": str,
            "finished": str,
            "scanner_version": str,
            "policy": str,
            "compliant": int,
            "complete": int,
            "violations": int,
            "warnings": int,
            "infos": int,
            "records": int,
            "document": str,
        },
        pk="id",
        not_null={"host", "scope", "started", "finished", "document"},
    )
    db["scans"].create_index(["scope", "finished"])  # type: ignore[union-attr]
    # Records are stored once by content and linked to every scan that saw them: a fleet machine
    # re-scanned nightly sees the same 10,000 packages every night.
    db["records"].create(  # type: ignore[union-attr]
        {"hash": str, "kind": str, "name": str, "version": str, "path": str, "data": str},
        pk="hash",
        not_null={"kind", "data"},
    )
    db["scan_records"].create(  # type: ignore[union-attr]
        {"scan_id": str, "position": int, "record_hash": str},
        pk=("scan_id", "position"),
        foreign_keys=[("scan_id", "scans", "id"), ("record_hash", "records", "hash")],
    )
    db["scan_records"].create_index(["record_hash"])  # type: ignore[union-attr]
    db["findings"].create(  # type: ignore[union-attr]
        {
            "scan_id": str,
            "position": int,
            "id": str,
            "fingerprint": str,
            "rule_id": str,
            "severity": str,
            "confidence": str,
            "provider": str,
            "kind": str,
            "subject": str,
            "path": str,
            "line": int,
            "waived": int,
            "data": str,
        },
        pk=("scan_id", "position"),
        foreign_keys=[("scan_id", "scans", "id")],
    )
    db["findings"].create_index(["fingerprint"])  # type: ignore[union-attr]
    db["coverage"].create(  # type: ignore[union-attr]
        {"scan_id": str, "position": int, "path": str, "kind": str, "data": str},
        pk=("scan_id", "position"),
        foreign_keys=[("scan_id", "scans", "id")],
    )


def _file_facts(db: sqlite_utils.Database) -> None:
    db["file_facts"].create(  # type: ignore[union-attr]
        {
            "device": int,
            "inode": int,
            "kind": str,
            "size": int,
            "mtime_ns": int,
            "ctime_ns": int,
            "data": str,
            "seen": str,
        },
        pk=("device", "inode", "kind"),
    )


def _spool(db: sqlite_utils.Database) -> None:
    db["spool"].create(  # type: ignore[union-attr]
        {"id": str, "created": str, "body": bytes, "attempts": int, "last_error": str, "rejected": int},
        pk="id",
        not_null={"created", "body"},
        defaults={"attempts": 0, "rejected": 0},
    )
    db["state"].create({"key": str, "value": int}, pk="key")  # type: ignore[union-attr]


Migration = tuple[str, Callable[["sqlite_utils.Database"], None]]
MIGRATIONS: tuple[Migration, ...] = (
    ("0001-scans-records-findings-coverage", _scans_records_findings_coverage),
    ("0002-file-facts", _file_facts),
    ("0003-spool", _spool),
)
"""Append only: a released migration is never edited or reordered, its name never reused."""


def schema_version(db: sqlite_utils.Database) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def migrate(db: sqlite_utils.Database, path: str, migrations: tuple[Migration, ...] = MIGRATIONS) -> None:
    """Bring ``db`` up to date, or refuse a database that a newer scanner wrote."""
    version = schema_version(db)
    if version > len(migrations):
        raise StoreError(
            f"{path}: this store was written by a newer scanner (store schema {version}, this scanner knows "
            f"{len(migrations)}); upgrade scanner, or choose another store with --db"
        )
    for number, (name, apply) in enumerate(migrations[version:], start=version + 1):
        with write_transaction(db):
            if schema_version(db) >= number:  # another process (a second collector) got here first
                continue
            if number == 1:
                db["migrations"].create({"number": int, "name": str, "applied": str}, pk="number")  # type: ignore[union-attr]
            apply(db)
            applied = datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
            db["migrations"].insert({"number": number, "name": name, "applied": applied})  # type: ignore[union-attr]
            db.execute(f"PRAGMA user_version = {number}")
