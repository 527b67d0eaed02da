"""The local store: every audit's report, kept in SQLite through ``sqlite-utils``.

A scan is written in one transaction (its row, its links to the records and findings it saw, each
stored once by content, and its coverage), so a scan killed half-way leaves the earlier ones intact;
WAL journaling lets a reader (``scanner
history``) run while a nightly audit writes. The report document can be rebuilt exactly from the
tables, which is how ``scanner show`` renders a stored scan in any format.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from scanner.collectors.secrets import SALT_BYTES, new_salt
from scanner.errors import StoreError
from scanner.limits import compact
from scanner.places import default_cache_dir, default_db_path
from scanner.sqlite import (
    Database,
    connect,
    connect_read_only,
    migrate,
    query_text,
    refuse_newer,
    write_transaction,
)
from scanner.store.migrations import MIGRATIONS, content_hash

FORGET_FILES_AFTER = timedelta(days=30)
"""Cached facts about a file no scan has met for this long are dropped: it is gone or out of scope."""
_ID_PREFIX_MIN = 4
_SALT_KEY = "secret-salt"


@dataclass(frozen=True)
class StoredScan:
    """One row of ``scanner history``."""

    id: str
    host: str
    started: str
    finished: str
    policy: str
    compliant: bool
    complete: bool
    violations: int
    warnings: int
    infos: int
    records: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "host": self.host,
            "started": self.started,
            "finished": self.finished,
            "policy": self.policy,
            "compliant": self.compliant,
            "complete": self.complete,
            "violations": self.violations,
            "warnings": self.warnings,
            "infos": self.infos,
            "records": self.records,
        }


@dataclass(frozen=True)
class ScanOutline:
    """What retention needs to know of a scan."""

    id: str
    number: int
    scope: str
    finished: str
    fingerprints: frozenset[str]
    """The findings it saw, by fingerprint: a scan whose set differs from the one before is a change."""


@dataclass(frozen=True)
class StoreSize:
    """How much room the store takes on disk, and how much of it is the file cache."""

    bytes: int
    """The database file and its write-ahead log."""
    file_cache_entries: int
    file_cache_bytes: int
    """The cached facts' own text, without SQLite's bookkeeping."""
    quiet_files: int
    """Files the last scan found nothing in (8 bytes each), passed over unread while unchanged."""
    folder_listings_bytes: int
    """The folder listings the last scan remembered (``scanner.listings``)."""

    def to_dict(self) -> dict[str, int]:
        return {
            "bytes": self.bytes,
            "file_cache_entries": self.file_cache_entries,
            "file_cache_bytes": self.file_cache_bytes,
            "quiet_files": self.quiet_files,
            "folder_listings_bytes": self.folder_listings_bytes,
        }


def scope_of(report: dict[str, Any]) -> str:
    """Which scans are comparable: same host, same root, same scanned paths."""
    scan = report["scan"]
    return hashlib.sha256(json.dumps([scan["host"], scan["root"], sorted(scan["roots"])]).encode()).hexdigest()[:16]


class Store:
    """An open store. Use ``open_store``; close with ``close()`` or a ``with`` block."""

    def __init__(self, db: Database, path: str) -> None:
        self.db = db
        self.path = path

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except (sqlite3.Error, UnicodeError, OverflowError) as error:  # the scan's report is written all the same
            raise StoreError(f"{self.path}: cannot {doing}: {error}") from error

    # -- writing --------------------------------------------------------------------------------
    def save(
        self,
        report: dict[str, Any],
        file_facts: list[dict[str, Any]] | None = None,
        files_gone: list[tuple[int, int, str]] | None = None,
        quiet_files: bytes | None = None,
        texts: Mapping[int, str] | None = None,
        folder_listings: bytes | None = None,
    ) -> None:
        """Record one scan (and the per-file facts it learnt, less those of files now gone, the files it
        found nothing in, and the folder listings it remembered) in a single transaction. ``texts``: the
        ``compact`` JSON of its records and findings when the report was made (``limits.bounded``), by the
        identity of each."""
        made = texts or {}
        scan, summary = report["scan"], report["summary"]
        header = {k: v for k, v in report.items() if k not in ("inventory", "findings")}
        header["scan"] = {**scan, "coverage": {k: v for k, v in scan["coverage"].items() if k != "skipped"}}
        records = [(made.get(id(item)) or compact(item), item) for item in report["inventory"]]
        with self._errors("record the scan"), write_transaction(self.db):
            number = self.db.execute("select coalesce(max(number), 0) + 1 from scans").fetchone()[0]
            self.db.insert(
                "scans",
                [
                    {
                        "id": scan["id"],
                        "number": number,
                        "host": query_text(scan["host"]),
                        "scope": scope_of(report),
                        "started": scan["started"],
                        "finished": scan["finished"],
                        "scanner_version": scan["scanner_version"],
                        "policy": query_text(", ".join(f"{p['id']} {p['version']}" for p in scan["policy"])),
                        "compliant": int(summary["compliant"]),
                        "complete": int(summary["complete"]),
                        "violations": summary["violations"],
                        "warnings": summary["warnings"],
                        "infos": summary["infos"],
                        "records": len(records),
                        "document": compact(header),
                    }
                ],
            )
            record_numbers = self._contents(
                "records",
                [
                    {
                        "hash": content_hash(text),
                        "kind": item["kind"],
                        "name": query_text(item["name"]),
                        "version": query_text(item["version"]),
                        "path": query_text(item["location"]["path"]),
                        "data": text,
                    }
                    for text, item in records
                ],
            )
            finding_numbers = self._contents(
                "findings",
                [
                    {
                        "hash": content_hash(text),
                        "id": f["id"],
                        "fingerprint": f["fingerprint"],
                        "rule_id": f["rule_id"],
                        "severity": f["severity"],
                        "confidence": f["confidence"],
                        "provider": f["provider"],
                        "kind": f["kind"],
                        "subject": query_text(f["subject"]),
                        "path": query_text(f["location"]["path"]),
                        "line": f["location"]["line"],
                        "waived": int(f["waived"]),
                        "data": text,
                    }
                    for text, f in ((made.get(id(f)) or compact(f), f) for f in report["findings"])
                ],
            )
            for table, link, numbers in (
                ("scan_records", "record", record_numbers),
                ("scan_findings", "finding", finding_numbers),
            ):
                self.db.conn.executemany(
                    f"insert into {table} (scan, position, {link}) values (?, ?, ?)",
                    ((number, n, content) for n, content in enumerate(numbers)),
                )
            self.db.insert(
                "coverage",
                (
                    {
                        "scan_id": scan["id"],
                        "position": n,
                        "path": query_text(skipped["path"]),
                        "kind": skipped["kind"],
                        "data": compact(skipped),
                    }
                    for n, skipped in enumerate(scan["coverage"]["skipped"])
                ),
            )
            if file_facts:
                rows = (
                    {
                        **row,
                        "device": _signed(row["device"]),
                        "inode": _signed(row["inode"]),
                        "data": compact(row["data"]),
                        "path": _stored_path(row["path"]),
                    }
                    for row in file_facts
                )
                self.db.insert("file_facts", rows, upsert=("device", "inode", "kind"))
            self.db.conn.executemany(
                "delete from file_facts where device = ? and inode = ? and kind = ?",
                [(_signed(d), _signed(i), k) for d, i, k in files_gone or []],
            )
            forget = (datetime.now(timezone.utc) - FORGET_FILES_AFTER).isoformat(timespec="seconds")
            self.db.execute("delete from file_facts where seen < ?", [forget])
            if quiet_files is not None:
                self.db.execute("insert or replace into quiet_files (id, digests) values (1, ?)", [quiet_files])
            if folder_listings is not None:
                self.db.execute(
                    "insert or replace into folder_listings (id, listings) values (1, ?)", [folder_listings]
                )

    def remove(self, scan_ids: list[str]) -> None:
        """Forget these scans and every record or finding no remaining scan links to, then give the
        space back: a VACUUM rewrites the store, in time proportional to what is kept (a 50 MB store
        takes about a second), and a concurrent audit waits for it (``BUSY_TIMEOUT_MS``)."""
        with self._errors("remove scans"):
            with write_transaction(self.db):
                for start in range(0, len(scan_ids), 500):
                    batch = scan_ids[start : start + 500]
                    marks = ", ".join("?" * len(batch))
                    numbers = f"select number from scans where id in ({marks})"
                    self.db.execute(f"delete from scan_records where scan in ({numbers})", batch)
                    self.db.execute(f"delete from scan_findings where scan in ({numbers})", batch)
                    self.db.execute(f"delete from coverage where scan_id in ({marks})", batch)
                    self.db.execute(f"delete from scans where id in ({marks})", batch)
                self.db.execute("delete from records where number not in (select record from scan_records)")
                self.db.execute("delete from findings where number not in (select finding from scan_findings)")
            self.db.execute("VACUUM")
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def _contents(self, table: str, rows: list[dict[str, Any]]) -> list[int]:
        """Each row's number in a content table, adding the rows not stored yet: a content seen by an
        earlier scan costs nothing more."""
        self.db.insert(table, rows, ignore=True)
        numbers: dict[str, int] = {}
        hashes = list(dict.fromkeys(row["hash"] for row in rows))
        for start in range(0, len(hashes), 500):
            batch = hashes[start : start + 500]
            marks = ", ".join("?" * len(batch))
            numbers.update(self.db.execute(f"select hash, number from {table} where hash in ({marks})", batch))
        return [numbers[row["hash"]] for row in rows]

    # -- reading --------------------------------------------------------------------------------
    def history(self, limit: int | None = None) -> list[StoredScan]:
        """Most recent first."""
        sql = (
            "select id, host, started, finished, policy, compliant, complete, violations, warnings, infos, records "
            "from scans order by finished desc, number desc"
        )
        with self._errors("read the scan history"):
            rows = self.db.execute(sql + (f" limit {int(limit)}" if limit else "")).fetchall()
        return [StoredScan(r[0], r[1], r[2], r[3], r[4], bool(r[5]), bool(r[6]), r[7], r[8], r[9], r[10]) for r in rows]

    def outline(self) -> list[ScanOutline]:
        """Every scan, oldest first, with the fingerprints of the findings it saw."""
        with self._errors("read the scan history"):
            seen: dict[int, set[str]] = {}
            for scan, fingerprint in self.db.execute(
                "select l.scan, f.fingerprint from scan_findings l join findings f on f.number = l.finding"
            ):
                seen.setdefault(scan, set()).add(fingerprint)
            rows = self.db.execute("select id, number, scope, finished from scans order by number").fetchall()
        return [ScanOutline(i, n, scope, done, frozenset(seen.get(n, ()))) for i, n, scope, done in rows]

    def size(self) -> StoreSize:
        with self._errors("measure the store"):
            entries, cached = self.db.execute(
                "select count(*), coalesce(sum(length(data)), 0) from file_facts"
            ).fetchone()
            (quiet,) = self.db.execute("select coalesce(sum(length(digests)), 0) / 8 from quiet_files").fetchone()
            (listings,) = self.db.execute("select coalesce(sum(length(listings)), 0) from folder_listings").fetchone()
        on_disk = 0
        for suffix in ("", "-wal"):
            with suppress(OSError):  # no write-ahead log right now
                on_disk += Path(self.path + suffix).stat().st_size
        return StoreSize(on_disk, entries, cached, quiet, listings)

    def resolve(self, reference: str) -> str:
        """A scan id from a full id or a unique prefix of at least four characters."""
        if len(reference) < _ID_PREFIX_MIN:
            raise StoreError(
                f"{self.path}: scan id {reference!r} is too short; give at least {_ID_PREFIX_MIN} characters"
            )
        escaped = reference.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        with self._errors("look up the scan"):
            rows = self.db.execute(r"select id from scans where id like ? escape '\'", [escaped + "%"]).fetchall()
        if not rows:
            raise StoreError(f"{self.path}: no scan with id {reference!r} (see: scanner history)")
        if len(rows) > 1:
            raise StoreError(f"{self.path}: scan id {reference!r} is ambiguous ({len(rows)} scans start with it)")
        return str(rows[0][0])

    def previous(self, scan_id: str) -> str | None:
        """The latest earlier scan of the same host, root and paths: what "since last time" compares with."""
        with self._errors("read the scan history"):
            row = self.db.execute(
                "select p.id from scans p join scans s on s.id = ? "
                "where p.scope = s.scope and p.number < s.number order by p.number desc limit 1",
                [scan_id],
            ).fetchone()
        return str(row[0]) if row else None

    def latest(self, count: int) -> list[str]:
        with self._errors("read the scan history"):
            rows = self.db.execute("select id from scans order by number desc limit ?", [count]).fetchall()
        return [str(r[0]) for r in rows]

    def load(self, scan_id: str, inventory: bool = True) -> dict[str, Any]:
        """The scan's report document, as the JSON reporter wrote it; without its inventory when
        ``inventory`` is false (what changed between scans is told by their findings alone, and a
        machine's inventory is most of a report's size)."""
        with self._errors("read the scan"):
            row = self.db.execute("select document from scans where id = ?", [scan_id]).fetchone()
            if row is None:
                raise StoreError(f"{self.path}: no scan with id {scan_id!r}")
            report: dict[str, Any] = json.loads(row[0])
            records = self.db.execute(
                "select r.data from scan_records l join scans s on s.number = l.scan "
                "join records r on r.number = l.record where s.id = ? order by l.position",
                [scan_id] if inventory else [None],
            )
            findings = self.db.execute(
                "select f.data from scan_findings l join scans s on s.number = l.scan "
                "join findings f on f.number = l.finding where s.id = ? order by l.position",
                [scan_id],
            )
            skipped = self.db.execute("select data from coverage where scan_id = ? order by position", [scan_id])
            report["inventory"] = [json.loads(r[0]) for r in records]
            report["findings"] = [json.loads(r[0]) for r in findings]
            report["scan"]["coverage"]["skipped"] = [json.loads(r[0]) for r in skipped]
        ordered: dict[str, Any] = {
            k: report[k] for k in ("schema_version", "scan", "inventory", "findings") if k in report
        }
        return {**ordered, **{k: v for k, v in report.items() if k not in ordered}}

    def secret_salt(self) -> bytes:
        """This installation's salt for fingerprinting secrets, made on first use.

        A salt an earlier scanner kept in the cache folder is adopted, so fingerprints stay comparable
        across the upgrade; the file itself is only read."""
        with self._errors("read the installation's salt"):
            row = self.db.execute("select value from installation where key = ?", [_SALT_KEY]).fetchone()
            if row is not None:
                return bytes.fromhex(row[0])
            with write_transaction(self.db):
                self.db.execute(
                    "insert or ignore into installation (key, value) values (?, ?)",
                    [_SALT_KEY, (_legacy_salt() or new_salt()).hex()],
                )
            return bytes.fromhex(
                self.db.execute("select value from installation where key = ?", [_SALT_KEY]).fetchone()[0]
            )

    def remember_own(self, sha256: str, path: str, what: str) -> None:
        """A file the scanner wrote or was given (``report``, ``policy``, ``waivers``): its own, by content."""
        with self._errors("remember the scanner's own file"), write_transaction(self.db):
            self.db.execute(
                "insert or replace into own_files (sha256, path, what, recorded) values (?, ?, ?, ?)",
                [sha256, query_text(path), what, datetime.now(timezone.utc).isoformat(timespec="seconds")],
            )

    def own_digests(self) -> frozenset[str]:
        with self._errors("read the scanner's own files"):
            return frozenset(row[0] for row in self.db.execute("select sha256 from own_files"))

    def file_facts(self) -> dict[tuple[int, int, str], dict[str, Any]]:
        """Every cached per-file fact, keyed by device, inode and kind, its data as stored (``raw`` JSON):
        decoded by whoever uses it, as most entries after an upgrade are of kinds no collector asks for."""
        with self._errors("read the file cache"):
            rows = self.db.execute(
                "select device, inode, kind, size, mtime_ns, ctime_ns, data, path from file_facts"
            ).fetchall()
        return {
            (_unsigned(d), _unsigned(i), k): {
                "size": s,
                "mtime_ns": m,
                "ctime_ns": c,
                "raw": data,
                "path": _read_path(path),
            }
            for d, i, k, s, m, c, data, path in rows
        }

    def folder_listings(self) -> bytes:
        """The folder listings the last scan remembered (``scanner.listings``)."""
        with self._errors("read the folder listings"):
            row = self.db.execute("select listings from folder_listings where id = 1").fetchone()
        return bytes(row[0]) if row else b""

    def quiet_files(self) -> bytes:
        """The digests of the files the last scan found nothing in (``filecache``), 8 bytes each."""
        with self._errors("read the file cache"):
            row = self.db.execute("select digests from quiet_files where id = 1").fetchone()
        return bytes(row[0]) if row else b""


def _stored_path(path: str | None) -> str | bytes | None:
    """Where a cached file lies, exactly: a name with bytes that are not UTF-8 (kept by Python as lone
    surrogates, which SQLite's text refuses) is stored as the bytes the filesystem has."""
    if path is None or path.isascii():
        return path
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(path)
    return path


def _read_path(path: str | bytes | None) -> str | None:
    return os.fsdecode(path) if isinstance(path, bytes) else path


def _signed(number: int) -> int:
    """A device or inode number as SQLite's signed 64-bit integers hold it: overlayfs and others give
    inodes of 2**63 and more (the filesystem's own number in the high bits)."""
    return number - (1 << 64) if number >= 1 << 63 else number


def _unsigned(number: int) -> int:
    return number + (1 << 64) if number < 0 else number


def _legacy_salt() -> bytes | None:
    try:
        salt = bytes.fromhex((default_cache_dir() / "secret-salt").read_text().strip())
    except (OSError, ValueError):
        return None
    return salt if len(salt) == SALT_BYTES else None  # an empty or cut file is no salt


def read_store(path: Path | None = None) -> Store | None:
    """The store at ``path`` or the default location opened for reading, or ``None`` when there is none:
    never created, upgraded or changed, so a read-only one can be listed."""
    chosen = path or default_db_path()
    db = connect_read_only(chosen, "store")
    if db is None:
        return None
    try:
        refuse_newer(db, str(chosen), MIGRATIONS, "store")
    except StoreError:
        db.close()
        raise
    return Store(db, str(chosen))


def open_store(path: Path | None = None) -> Store:
    """Open (creating and upgrading as needed) the store at ``path`` or the default location."""
    chosen = path or default_db_path()
    shown = str(chosen)
    db = connect(chosen, "store")
    try:
        migrate(db, shown, MIGRATIONS, "store")
    except sqlite3.Error as error:
        db.close()
        raise StoreError(f"{shown}: not a usable scanner store: {error}") from error
    except StoreError:
        db.close()
        raise
    return Store(db, shown)
