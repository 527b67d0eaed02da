"""The store's schema as named, ordered migrations (applied by ``scanner.sqlite.migrate``)."""

from __future__ import annotations

import hashlib
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


def content_hash(text: str) -> str:
    """What a record or finding is stored under: the SHA-256 of its JSON text."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _findings_by_content(db: sqlite_utils.Database) -> None:
    """Findings stored once by content like records, and every link a few bytes of integers.

    Before this step a nightly scan of an unchanged machine with 1,000 findings copied all of them
    (4.4 MB a night); now it adds about 15 bytes a link. Scans and contents get integer numbers
    because a link made of a 36-character scan id and a 64-character hash cost 200 bytes with its
    index. The links do not name their content as a foreign key: checking one on every delete would
    need an index as large as the links; pruning collects unlinked contents in one statement instead.
    """
    db.conn.create_function("content_sha256", 1, content_hash, deterministic=True)
    db.execute("alter table scans add column number integer")
    db.execute("update scans set number = rowid")
    db.execute("create unique index scans_number on scans (number)")
    db.execute(
        "create table records_by_content (number integer primary key, hash text not null unique, "
        "kind text not null, name text, version text, path text, data text not null)"
    )
    db.execute(
        "insert into records_by_content (hash, kind, name, version, path, data) "
        "select hash, kind, name, version, path, data from records order by rowid"
    )
    db.execute(
        "create table findings_by_content (number integer primary key, hash text not null unique, id text, "
        "fingerprint text, rule_id text, severity text, confidence text, provider text, kind text, subject text, "
        "path text, line integer, waived integer, data text not null)"
    )
    db.execute(
        "insert or ignore into findings_by_content (hash, id, fingerprint, rule_id, severity, confidence, provider, "
        "kind, subject, path, line, waived, data) select content_sha256(f.data), f.id, f.fingerprint, f.rule_id, "
        "f.severity, f.confidence, f.provider, f.kind, f.subject, f.path, f.line, f.waived, f.data "
        "from findings f join scans s on s.id = f.scan_id order by s.number, f.position"
    )
    for link, content in (("record", "records"), ("finding", "findings")):
        db.execute(
            f"create table scan_{content}_linked (scan integer not null references scans (number), "
            f"position integer not null, {link} integer not null, primary key (scan, position)) without rowid"
        )
    db.execute(
        "insert into scan_records_linked (scan, position, record) select s.number, l.position, r.number "
        "from scan_records l join scans s on s.id = l.scan_id join records_by_content r on r.hash = l.record_hash"
    )
    db.execute(
        "insert into scan_findings_linked (scan, position, finding) select s.number, f.position, c.number "
        "from findings f join scans s on s.id = f.scan_id join findings_by_content c on c.hash = content_sha256(f.data)"
    )
    for old in ("scan_records", "records", "findings"):
        db.execute(f"drop table {old}")
    for new, final in (
        ("records_by_content", "records"),
        ("findings_by_content", "findings"),
        ("scan_records_linked", "scan_records"),
        ("scan_findings_linked", "scan_findings"),
    ):
        db.execute(f"alter table {new} rename to {final}")
    db.execute("create index findings_fingerprint on findings (fingerprint)")


def _file_fact_paths(db: sqlite_utils.Database) -> None:
    """Where each cached file lies, so an entry whose file is gone is dropped at the next scan rather than
    after 30 days (an older entry has none and still ages out)."""
    db.table("file_facts").add_column("path", str)


def _quiet_files(db: sqlite_utils.Database) -> None:
    """The files the last scan found nothing in, as one row of 8-byte digests (``filecache``)."""
    db.execute("create table quiet_files (id integer primary key check (id = 1), digests blob not null)")


def _folder_listings(db: sqlite_utils.Database) -> None:
    """The folder listings the last scan remembered, as one row (``scanner.listings``)."""
    db.execute("create table folder_listings (id integer primary key check (id = 1), listings blob not null)")


MIGRATIONS: tuple[Migration, ...] = (
    ("0001-scans-records-findings-coverage", _scans_records_findings_coverage),
    ("0002-file-facts", _file_facts),
    ("0003-spool", _spool),
    ("0004-installation", _installation),
    ("0005-own-files", _own_files),
    ("0006-findings-by-content", _findings_by_content),
    ("0007-file-fact-paths", _file_fact_paths),
    ("0008-quiet-files", _quiet_files),
    ("0009-folder-listings", _folder_listings),
)
"""Append only: a released migration is never edited or reordered, its name never reused."""
