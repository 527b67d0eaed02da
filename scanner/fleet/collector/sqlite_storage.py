"""The collector's storage on SQLite (WAL) through ``sqlite-utils``: one file, several readers, one writer
at a time; enough for thousands of hosts reporting daily (see ``bench/``).

Each thread gets its own connection (the web server answers on a thread pool). A report and its
findings are written in one transaction, keyed by the report id, so a resent report is recognised
and a crash half-way stores nothing. Report documents are kept gzip-compressed.
"""

from __future__ import annotations

import gzip
import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

import sqlite_utils

from scanner.errors import StoreError
from scanner.fleet.collector.storage import FleetStorage, HostInfo
from scanner.report import utc_now
from scanner.sqlite import Migration, connect, migrate, query_text, write_transaction


def _initial(db: sqlite_utils.Database) -> None:
    db.table("hosts").create(
        {
            "host": str,
            "token_hash": str,
            "token_created": str,
            "revoked": str,
            "lost_reports": int,
            "last_report": str,
            "last_finished": str,
        },
        pk="host",
        defaults={"lost_reports": 0},
    )
    db.table("reports").create(
        {
            "id": str,
            "host": str,
            "received": str,
            "started": str,
            "finished": str,
            "compliant": int,
            "complete": int,
            "violations": int,
            "warnings": int,
            "infos": int,
            "tags": str,
            "document": bytes,
        },
        pk="id",
        foreign_keys=[("host", "hosts", "host")],
        not_null={"host", "finished", "document"},
    )
    db.table("reports").create_index(["host", "finished"])
    db.table("reports").create_index(["finished"])
    db.table("hosts").create_index(["token_hash"], unique=True)
    db.table("report_findings").create(
        {
            "report_id": str,
            "position": int,
            "fingerprint": str,
            "rule_id": str,
            "severity": str,
            "provider": str,
            "kind": str,
            "subject": str,
            "path": str,
            "waived": int,
            "waiver_expires": str,
        },
        pk=("report_id", "position"),
        foreign_keys=[("report_id", "reports", "id")],
    )


FLEET_MIGRATIONS: tuple[Migration, ...] = (("0001-hosts-reports-findings", _initial),)


class SqliteFleetStorage(FleetStorage):
    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        db = self._db()
        try:
            migrate(db, str(path), FLEET_MIGRATIONS, "fleet database")
        except sqlite3.Error as error:
            raise StoreError(f"{path}: not a usable fleet database: {error}") from error

    def _db(self) -> sqlite_utils.Database:
        db: sqlite_utils.Database | None = getattr(self._local, "db", None)
        if db is None:
            db = connect(self.path, "fleet database")
            db.execute("PRAGMA synchronous = NORMAL")  # WAL: durable at each checkpoint, never corrupt
            self._local.db = db
        return db

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    # -- tokens -----------------------------------------------------------------------------------
    def add_token(self, host: str, token_hash: str) -> None:
        db = self._db()
        with write_transaction(db):
            db.table("hosts").upsert(
                {"host": host, "token_hash": token_hash, "token_created": utc_now(), "revoked": None}, pk="host"
            )

    def revoke_token(self, host: str) -> bool:
        db = self._db()
        with write_transaction(db):
            changed = db.execute(
                "update hosts set token_hash = null, revoked = ? where host = ?", [utc_now(), host]
            ).rowcount
        return bool(changed)

    def host_of_token(self, token_hash: str) -> str | None:
        try:
            row = self._db().execute("select host from hosts where token_hash = ?", [token_hash]).fetchone()
        except sqlite3.Error as error:
            raise StoreError(f"{self.path}: cannot read tokens: {error}") from error
        return str(row[0]) if row else None

    # -- reports ----------------------------------------------------------------------------------
    def store_report(self, report: dict[str, Any], received: str, dropped: int = 0) -> bool:
        try:
            return self._store_report(report, received, dropped)
        except sqlite3.Error as error:
            raise StoreError(f"{self.path}: cannot store report: {error}") from error

    def _store_report(self, report: dict[str, Any], received: str, dropped: int) -> bool:
        scan, summary = report["scan"], report["summary"]
        agent = report.get("agent") or {}
        db = self._db()
        document = gzip.compress(json.dumps(report, separators=(",", ":")).encode(), compresslevel=6, mtime=0)
        with write_transaction(db):
            if db.execute("select 1 from reports where id = ?", [scan["id"]]).fetchone():
                return False
            db.execute("insert or ignore into hosts (host, lost_reports) values (?, 0)", [query_text(scan["host"])])
            db.table("reports").insert(
                {
                    "id": scan["id"],
                    "host": query_text(scan["host"]),
                    "received": received,
                    "started": scan["started"],
                    "finished": scan["finished"],
                    "compliant": int(summary["compliant"]),
                    "complete": int(summary["complete"]),
                    "violations": summary["violations"],
                    "warnings": summary["warnings"],
                    "infos": summary["infos"],
                    "tags": json.dumps(agent.get("tags") or {}),
                    "document": document,
                }
            )
            db.table("report_findings").insert_all(
                (
                    {
                        "report_id": scan["id"],
                        "position": n,
                        "fingerprint": f["fingerprint"],
                        "rule_id": f["rule_id"],
                        "severity": f["severity"],
                        "provider": f["provider"],
                        "kind": f["kind"],
                        "subject": query_text(f["subject"]),
                        "path": query_text(f["location"]["path"]),
                        "waived": int(f["waived"]),
                        "waiver_expires": (f.get("waiver") or {}).get("expires"),
                    }
                    for n, f in enumerate(report["findings"])
                ),
                batch_size=500,
            )
            db.execute(
                "update hosts set lost_reports = lost_reports + ?, "
                "last_report = case when last_finished is null or last_finished <= ? then ? else last_report end, "
                "last_finished = max(coalesce(last_finished, ''), ?) where host = ?",
                [dropped, scan["finished"], scan["id"], scan["finished"], query_text(scan["host"])],
            )
        return True

    def hosts(self) -> list[HostInfo]:
        rows = (
            self._db()
            .execute(
                "select h.host, h.token_hash is not null, h.revoked is not null, h.last_report, h.last_finished, "
                "r.compliant, r.complete, coalesce(r.violations, 0), coalesce(r.warnings, 0), "
                "(select count(*) from reports where host = h.host), h.lost_reports, r.tags "
                "from hosts h left join reports r on r.id = h.last_report order by h.host"
            )
            .fetchall()
        )
        return [
            HostInfo(
                host=row[0],
                has_token=bool(row[1]),
                revoked=bool(row[2]),
                last_report=row[3],
                last_seen=row[4],
                compliant=None if row[5] is None else bool(row[5]),
                complete=None if row[6] is None else bool(row[6]),
                violations=row[7],
                warnings=row[8],
                reports=row[9],
                lost_reports=row[10],
                tags=json.loads(row[11]) if row[11] else {},
            )
            for row in rows
        ]

    def reports(self, host: str, limit: int = 20) -> list[dict[str, Any]]:
        rows = (
            self._db()
            .execute(
                "select id, received, finished, compliant, complete, violations, warnings, infos from reports "
                "where host = ? order by finished desc limit ?",
                [host, limit],
            )
            .fetchall()
        )
        keys = ("id", "received", "finished", "compliant", "complete", "violations", "warnings", "infos")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def report(self, report_id: str) -> dict[str, Any] | None:
        row = self._db().execute("select document from reports where id = ?", [report_id]).fetchone()
        return json.loads(gzip.decompress(row[0])) if row else None

    def latest_reports(self) -> list[dict[str, Any]]:
        rows = (
            self._db()
            .execute("select r.document from hosts h join reports r on r.id = h.last_report order by h.host")
            .fetchall()
        )
        return [json.loads(gzip.decompress(row[0])) for row in rows]

    def compliance_by_day(self, since: str) -> list[tuple[str, int, int]]:
        rows = (
            self._db()
            .execute(
                "with daily as (select host, substr(finished, 1, 10) as day, compliant and complete as compliant, "
                "row_number() over (partition by host, substr(finished, 1, 10) order by finished desc) as n "
                "from reports where finished >= ?) "
                "select day, count(*), sum(compliant) from daily where n = 1 group by day order by day",
                [since],
            )
            .fetchall()
        )
        return [(str(day), int(total), int(ok or 0)) for day, total, ok in rows]
