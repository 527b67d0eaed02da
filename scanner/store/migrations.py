"""The store's schema as named, ordered migrations (applied by ``scanner.sqlite.migrate``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from scanner.sqlite import Migration

if TYPE_CHECKING:
    import sqlite_utils


def _scans_records_findings_coverage(db: sqlite_utils.Database) -> None:
    db.table("scans").create(
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
    db.table("scans").create_index(["scope", "finished"])
    # Records are stored once by content and linked to every scan that saw them: a fleet machine
    # re-scanned nightly sees the same 10,000 packages every night.
    db.table("records").create(
        {"hash": str, "kind": str, "name": str, "version": str, "path": str, "data": str},
        pk="hash",
        not_null={"kind", "data"},
    )
    db.table("scan_records").create(
        {"scan_id": str, "position": int, "record_hash": str},
        pk=("scan_id", "position"),
        foreign_keys=[("scan_id", "scans", "id"), ("record_hash", "records", "hash")],
    )
    db.table("scan_records").create_index(["record_hash"])
    db.table("findings").create(
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
    db.table("findings").create_index(["fingerprint"])
    db.table("coverage").create(
        {"scan_id": str, "position": int, "path": str, "kind": str, "data": str},
        pk=("scan_id", "position"),
        foreign_keys=[("scan_id", "scans", "id")],
    )


def _file_facts(db: sqlite_utils.Database) -> None:
    db.table("file_facts").create(
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
    db.table("spool").create(
        {"id": str, "created": str, "body": bytes, "attempts": int, "last_error": str, "rejected": int},
        pk="id",
        not_null={"created", "body"},
        defaults={"attempts": 0, "rejected": 0},
    )
    db.table("state").create({"key": str, "value": int}, pk="key")


def _installation(db: sqlite_utils.Database) -> None:
    """Facts about this installation, such as the salt that secrets are fingerprinted with."""
    db.table("installation").create({"key": str, "value": str}, pk="key")


def _own_files(db: sqlite_utils.Database) -> None:
    """The digests of files the scanner wrote (reports) or was given (policies, waivers): its own."""
    db.table("own_files").create({"sha256": str, "path": str, "what": str, "recorded": str}, pk="sha256")


MIGRATIONS: tuple[Migration, ...] = (
    ("0001-scans-records-findings-coverage", _scans_records_findings_coverage),
    ("0002-file-facts", _file_facts),
    ("0003-spool", _spool),
    ("0004-installation", _installation),
    ("0005-own-files", _own_files),
)
"""Append only: a released migration is never edited or reordered, its name never reused."""
