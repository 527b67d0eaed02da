"""The collector's storage on SQLite (WAL) through ``sqlite-utils``: one file, several readers, one writer
at a time; enough for thousands of hosts reporting daily (see ``bench/``).

Each thread gets its own connection (the web server answers on a thread pool). A report and its
findings are written in one transaction, keyed by the host and the report id, so a resent report is recognised
and a crash half-way stores nothing. Reports are stored by content (``parts``), gzip-compressed.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scanner.errors import StoreError
from scanner.fleet.collector.deflate import compress
from scanner.fleet.collector.gates import ProcessGate
from scanner.fleet.collector.parts import (
    FINDINGS,
    LINKED,
    PART_FINDING_COLUMNS,
    PROVIDER_VIOLATION,
    SUMMARISED,
    finding_rows,
    rebuild,
    rebuilt,
    removing,
    split,
)
from scanner.fleet.collector.schema import FLEET_SCHEMA, Dialect, Step
from scanner.fleet.collector.storage import (
    FORGIVE_SIGN_IN_FAILURE,
    PRUNABLE,
    SIGN_IN_FAILURE,
    STATE_CONDITIONS,
    Account,
    FleetStorage,
    HostFilter,
    HostGate,
    HostInfo,
    Turn,
    UserInfo,
    like_pattern,
)
from scanner.report import utc_now
from scanner.sqlite import Database, Migration, connect, migrate, query_text, write_transaction

if TYPE_CHECKING:  # the migrations' type only: scanner.sqlite imports it to migrate
    import sqlite_utils
from scanner.vocabulary import UserRole


def _run(step: Step, db: sqlite_utils.Database) -> None:
    for statement in step.sql(Dialect.SQLITE):
        db.execute(statement)


FLEET_MIGRATIONS: tuple[Migration, ...] = tuple((step.name, partial(_run, step)) for step in FLEET_SCHEMA)
"""The shared schema (``schema.FLEET_SCHEMA``) as ``scanner.sqlite.migrate`` applies it: SQLite also keeps
the version in ``PRAGMA user_version``, like the local store."""

_SEEN = "min(r.finished, r.received)"
"""When a report's scan finished, but never later than it arrived (both are YYYY-MM-DDTHH:MM:SSZ, which
sort as text)."""
_AHEAD = "max(0, cast(round((julianday(r.finished) - julianday(r.received)) * 86400) as integer))"
_ARRIVAL = "r.received desc, r.rowid desc"
"""Last arrived first; within one second (a spool flushed at once) by the order they were stored in,
never by the date a report gives itself."""
_LISTING = (
    f"select h.host, h.token_hash is not null, h.revoked is not null, h.last_report, {_SEEN}, "
    "r.compliant, r.complete, coalesce(r.violations, 0), coalesce(r.warnings, 0), "
    f"(select count(*) from reports where host = h.host), h.lost_reports, r.tags, coalesce({_AHEAD}, 0) "
    "from hosts h left join reports r on r.host = h.host and r.id = h.last_report"
)
"""Each host with its latest report's verdict (the columns of ``HostInfo.from_row``)."""
_USERS = "select u.name, u.role, u.created, exists (select 1 from api_tokens t where t.name = u.name) from users u"


def _where(chosen: HostFilter, stale_before: str) -> tuple[str, list[Any]]:
    """``chosen`` as the conditions of a ``_LISTING`` query, and their parameters."""
    clauses: list[str] = []
    params: list[Any] = []
    if chosen.state is not None:
        clauses.append(STATE_CONDITIONS[chosen.state].format(seen=_SEEN, cutoff="?"))
        params.append(stale_before)
    if chosen.tag is not None:
        clauses.append("exists (select 1 from json_each(r.tags) t where t.key = ? and t.value = ?)")
        params += list(chosen.tag)
    if chosen.provider is not None:
        clauses.append(PROVIDER_VIOLATION.format(param="?"))
        params.append(chosen.provider)
    if chosen.search:
        clauses.append("h.host like ? escape '\\'")
        params.append(like_pattern(chosen.search))
    if chosen.name is not None:
        clauses.append("h.host = ?")
        params.append(chosen.name)
    return " and ".join(clauses) or "1 = 1", params


class SqliteFleetStorage(FleetStorage):
    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        db = self._db()
        try:
            migrate(db, str(path), FLEET_MIGRATIONS, "fleet database")
        except sqlite3.Error as error:
            raise StoreError(f"{path}: not a usable fleet database: {error}") from error

    def _db(self) -> Database:
        db: Database | None = getattr(self._local, "db", None)
        if db is None:
            db = connect(self.path, "fleet database")
            db.execute("PRAGMA synchronous = NORMAL")  # WAL: durable at each checkpoint, never corrupt
            self._local.db = db
        return db

    def gate(self, burst: int, per_second: float, lease: float) -> HostGate:
        return ProcessGate(self.host_of_token, burst, per_second)

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    # -- tokens -----------------------------------------------------------------------------------
    def add_token(self, host: str, token_hash: str) -> None:
        db = self._db()
        with write_transaction(db):
            row = {"host": host, "token_hash": token_hash, "token_created": utc_now(), "revoked": None}
            db.insert("hosts", [row], upsert=("host",))

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
    def store_report(self, report: dict[str, Any], received: str, dropped: int = 0, turn: Turn | None = None) -> bool:
        try:
            stored = self._store_report(report, received, dropped)
        except sqlite3.Error as error:
            raise StoreError(f"{self.path}: cannot store report: {error}") from error
        if turn is not None:
            turn.give_back()
        return stored

    def _store_report(self, report: dict[str, Any], received: str, dropped: int) -> bool:
        scan, summary = report["scan"], report["summary"]
        agent = report.get("agent") or {}
        db = self._db()
        document, parts = split(report)
        with write_transaction(db):
            host = query_text(scan["host"])
            if db.execute("select 1 from reports where host = ? and id = ?", [host, scan["id"]]).fetchone():
                return False
            db.execute("insert or ignore into hosts (host, lost_reports) values (?, 0)", [host])
            db.insert(
                "reports",
                [
                    {
                        "id": scan["id"],
                        "host": host,
                        "received": received,
                        "started": scan["started"],
                        "finished": scan["finished"],
                        "compliant": int(summary["compliant"]),
                        "complete": int(summary["complete"]),
                        "violations": summary["violations"],
                        "warnings": summary["warnings"],
                        "infos": summary["infos"],
                        "tags": json.dumps(agent.get("tags") or {}),
                        "document": compress(document),
                    }
                ],
            )
            known = self._known_parts(db, host, [p.digest for p in parts])
            for part in parts:
                db.execute(
                    "insert into report_links (host, report_id, section, digest) values (?, ?, ?, ?)",
                    [host, scan["id"], part.section, part.digest],
                )
                if part.digest in known:
                    continue
                db.execute(
                    "insert into report_parts (host, digest, body) values (?, ?, ?)",
                    [host, part.digest, compress(part.text)],
                )
                if part.section == FINDINGS:
                    db.conn.executemany(
                        f"insert into part_findings ({PART_FINDING_COLUMNS}) values ({', '.join('?' * 12)})",
                        finding_rows(host, part.digest, report[FINDINGS], query_text),
                    )
            db.execute(
                "update hosts set lost_reports = lost_reports + ?, "
                f"last_report = (select r.id from reports r where r.host = hosts.host order by {_ARRIVAL} limit 1) "
                "where host = ?",
                [dropped, host],
            )
        return True

    @staticmethod
    def _known_parts(db: Database, host: str | None, digests: list[str]) -> set[str]:
        marks = ", ".join("?" * len(digests))
        rows = db.execute(f"select digest from report_parts where host = ? and digest in ({marks})", [host, *digests])
        return {str(digest) for (digest,) in rows}

    def hosts(self) -> list[HostInfo]:
        return [HostInfo.from_row(row) for row in self._read(f"{_LISTING} order by h.host", [], "list hosts")]

    def find_hosts(
        self, chosen: HostFilter, stale_before: str, limit: int, offset: int = 0, after: str | None = None
    ) -> list[HostInfo]:
        where, params = _where(chosen, stale_before)
        if after is not None:
            where, params = f"{where} and h.host > ?", [*params, after]
        sql = f"{_LISTING} where {where} order by h.host limit ? offset ?"
        return [HostInfo.from_row(row) for row in self._read(sql, [*params, limit, offset], "list hosts")]

    def count_hosts(self, chosen: HostFilter, stale_before: str) -> int:
        where, params = _where(chosen, stale_before)
        sql = f"select count(*) from hosts h left join reports r on r.host = h.host and r.id = h.last_report where {where}"
        return int(self._read(sql, params, "count hosts")[0][0])

    def _read(self, sql: str, params: Sequence[Any], doing: str) -> list[Any]:
        try:
            return self._db().execute(sql, list(params)).fetchall()
        except sqlite3.Error as error:
            raise StoreError(f"{self.path}: cannot {doing}: {error}") from error

    def _write(self, sql: str, params: Sequence[Any], doing: str) -> int:
        """One statement in its own write transaction: the rows it changed."""
        db = self._db()
        try:
            with write_transaction(db):
                return int(db.execute(sql, list(params)).rowcount)
        except sqlite3.Error as error:
            raise StoreError(f"{self.path}: cannot {doing}: {error}") from error

    def reports(self, host: str, limit: int = 20) -> list[dict[str, Any]]:
        rows = (
            self._db()
            .execute(
                f"select r.id, r.received, r.finished, {_AHEAD}, r.compliant, r.complete, r.violations, r.warnings, "
                f"r.infos from reports r where r.host = ? order by {_ARRIVAL} limit ?",
                [host, limit],
            )
            .fetchall()
        )
        keys = ("id", "received", "finished", "clock_ahead", "compliant", "complete", "violations", "warnings", "infos")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def report(self, host: str, report_id: str) -> dict[str, Any] | None:
        db = self._db()
        row = db.execute("select document from reports where host = ? and id = ?", [host, report_id]).fetchone()
        if row is None:
            return None
        parts = db.execute(
            f"select l.section, p.body from {LINKED} where l.host = ? and l.report_id = ?", [host, report_id]
        )
        return rebuild(row[0], dict(parts.fetchall()))

    def latest_reports_for_summary(self, expiring_by: str) -> Iterator[dict[str, Any]]:
        rows = self._db().execute(SUMMARISED.format(param="?"), [expiring_by])
        yield from rebuilt(rows)

    def prune(self, keep_last: int, older_than: str | None, dry_run: bool = False) -> int:
        gone = PRUNABLE.format(arrival=_ARRIVAL, keep="?", date="?")
        params = [keep_last, older_than, older_than]
        db = self._db()
        count = int(db.execute(f"select count(*) from ({gone})", params).fetchone()[0])
        if dry_run or not count:
            return count
        with db.conn:
            for statement, args in removing(gone, params):
                db.execute(statement, args)
        db.execute("VACUUM")  # the space goes back to the filesystem
        return count

    def size_bytes(self) -> int:
        pages = self._db().execute("select page_count * page_size from pragma_page_count(), pragma_page_size()")
        return int(pages.fetchone()[0])

    def compliance_by_day(self, since: str) -> list[tuple[str, int, int]]:
        rows = (
            self._db()
            .execute(
                f"with seen as (select r.host, r.compliant and r.complete as compliant, {_SEEN} as at, "
                f"row_number() over (partition by r.host, substr({_SEEN}, 1, 10) order by {_ARRIVAL}) as n "
                f"from reports r where {_SEEN} >= ?), "
                "daily as (select host, substr(at, 1, 10) as day, compliant, n from seen) "
                "select day, count(*), sum(compliant) from daily where n = 1 group by day order by day",
                [since],
            )
            .fetchall()
        )
        return [(str(day), int(total), int(ok or 0)) for day, total, ok in rows]

    # -- the dashboard's users --------------------------------------------------------------------
    def add_user(self, name: str, role: UserRole, password_hash: str, replace: bool = False) -> bool:
        db = self._db()
        try:
            with write_transaction(db):
                if db.execute("select 1 from users where name = ?", [name]).fetchone():
                    if not replace:
                        return False
                    db.execute(
                        "update users set role = ?, password_hash = ? where name = ?", [str(role), password_hash, name]
                    )
                    db.execute("delete from user_sessions where name = ?", [name])
                    return True
                db.execute("insert into users values (?, ?, ?, ?)", [name, str(role), password_hash, utc_now()])
        except sqlite3.Error as error:
            raise StoreError(f"{self.path}: cannot add the user: {error}") from error
        return True

    def users(self) -> list[UserInfo]:
        rows = self._read(f"{_USERS} order by u.name", [], "list users")
        return [UserInfo(name, UserRole(role), created, bool(token)) for name, role, created, token in rows]

    def account(self, name: str) -> Account | None:
        rows = self._read("select name, role, password_hash from users where name = ?", [name], "read the user")
        return Account(rows[0][0], UserRole(rows[0][1]), rows[0][2]) if rows else None

    def remove_user(self, name: str) -> bool:
        return bool(self._write("delete from users where name = ?", [name], "remove the user"))

    def set_api_token(self, name: str, token_hash: str | None) -> bool:
        db = self._db()
        try:
            with write_transaction(db):
                if not db.execute("select 1 from users where name = ?", [name]).fetchone():
                    return False
                db.execute("delete from api_tokens where name = ?", [name])
                if token_hash is not None:
                    db.execute("insert into api_tokens values (?, ?, ?)", [token_hash, name, utc_now()])
        except sqlite3.Error as error:
            raise StoreError(f"{self.path}: cannot change the API token: {error}") from error
        return True

    def user_of_api_token(self, token_hash: str) -> UserInfo | None:
        rows = self._read(
            f"{_USERS} join api_tokens a on a.name = u.name where a.token_hash = ?", [token_hash], "read API tokens"
        )
        return UserInfo(rows[0][0], UserRole(rows[0][1]), rows[0][2], True) if rows else None

    def add_session(self, id_hash: str, name: str, created: str, expires: str) -> None:
        db = self._db()
        try:
            with write_transaction(db):
                db.execute("delete from user_sessions where expires <= ?", [created])
                db.execute("insert into user_sessions values (?, ?, ?, ?)", [id_hash, name, created, expires])
        except sqlite3.Error as error:
            raise StoreError(f"{self.path}: cannot open a session: {error}") from error

    def session_user(self, id_hash: str, now: str) -> UserInfo | None:
        rows = self._read(
            f"{_USERS} join user_sessions s on s.name = u.name where s.id_hash = ? and s.expires > ?",
            [id_hash, now],
            "read sessions",
        )
        return UserInfo(rows[0][0], UserRole(rows[0][1]), rows[0][2], bool(rows[0][3])) if rows else None

    def end_session(self, id_hash: str) -> None:
        self._write("delete from user_sessions where id_hash = ?", [id_hash], "end the session")

    def sign_in_failures(self, keys: Sequence[str]) -> dict[str, tuple[int, float]]:
        marks = ", ".join("?" for _ in keys)
        rows = self._read(
            f"select key, failures, since from sign_in_failures where key in ({marks})", keys, "read sign-in limits"
        )
        return {key: (int(n), float(since)) for key, n, since in rows}

    def count_sign_in_failure(self, key: str, now: float, window: float) -> None:
        self._write(
            SIGN_IN_FAILURE.replace("%s", "?"), [key, now, now - window, now - window], "count a failed sign-in"
        )

    def clear_sign_in_failures(self, key: str) -> None:
        self._write("delete from sign_in_failures where key = ?", [key], "clear failed sign-ins")

    def forgive_sign_in_failure(self, key: str) -> None:
        self._write(FORGIVE_SIGN_IN_FAILURE.replace("%s", "?"), [key], "take back a failed sign-in")
