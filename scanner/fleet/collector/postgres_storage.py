"""The collector's storage on PostgreSQL through psycopg 3 and its connection pool: for fleets that
need several collectors (uvicorn workers, or processes behind a load balancer) on one database.

The schema is the SQLite backend's (``schema.FLEET_SCHEMA``), migrated under an advisory lock so that
collectors starting together apply each step once. A report and its findings are written in one
transaction, by content (``parts``), in two round trips (pipeline mode: the statements are sent
together, and the answers read together); the host's row is locked first, so two collectors storing
reports of one host agree on which arrived last. Connections are in autocommit, so that a one-statement
read or update is one round trip, not three (``BEGIN``, the statement, ``COMMIT``); what needs more
than one statement opens its transaction. The per-host limits live in ``host_limits`` and hold across
every collector: the token bucket is one ``UPSERT`` per request, the one-at-a-time turn a lease row
that ends by itself if its collector dies. Large reads go through server-side cursors, a few hundred
rows at a time.

When the database goes away (a restart, a fail-over), the statements under way fail with
``StoreError`` (the collector answers ``503`` and the agent keeps its report for later), the pool's idle
connections are checked and the dead ones dropped, and new ones are made once the database is back.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg_pool import ConnectionPool

from scanner.errors import StoreError
from scanner.fleet.collector.deflate import compress
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
from scanner.fleet.collector.schema import FLEET_SCHEMA, Dialect
from scanner.fleet.collector.storage import (
    FORGIVE_SIGN_IN_FAILURE,
    PRUNABLE,
    SIGN_IN_FAILURE,
    STATE_CONDITIONS,
    Account,
    Entry,
    FleetStorage,
    HostFilter,
    HostGate,
    HostInfo,
    Turn,
    UserInfo,
    like_pattern,
)
from scanner.report import utc_now
from scanner.sqlite import query_text
from scanner.vocabulary import UserRole

MIGRATION_LOCK = 0x5C4E_F1EE7
"""The advisory lock key migrations hold (any number no other application on the database uses)."""
POOL_SIZE = 8
"""Connections per collector process: the storer thread, the gate's threads (``server.GATE_THREADS``), the dashboard."""
POOL_WAIT = 5.0
"""Seconds a statement waits for a connection: past it, while the database is away, the request gets a
``503`` at once rather than holding its agent (and the requests queued behind it) for long."""
STREAMED_ROWS = 1000
"""Rows a server-side cursor fetches at a time: a few MiB of documents (a report's own is a few hundred
bytes compressed, its inventory part tens of KiB), and 100 round trips for a fleet of 100,000 hosts."""

_SEEN = "least(r.finished, r.received)"
"""When a report's scan finished, but never later than it arrived (YYYY-MM-DDTHH:MM:SSZ sorts as text)."""
_AHEAD = "greatest(0, round(extract(epoch from r.finished::timestamptz - r.received::timestamptz)))::integer"
_ARRIVAL = "r.received desc, r.arrival desc"
"""Last arrived first; within one second by the order they were stored in, never by a report's own date."""
_LISTING_OF = (
    f"select h.host, h.token_hash is not null, h.revoked is not null, h.last_report, {_SEEN}, "
    "r.compliant, r.complete, coalesce(r.violations, 0), coalesce(r.warnings, 0), "
    f"{{reports}}, h.lost_reports, r.tags, coalesce({_AHEAD}, 0) "
    "from hosts h left join reports r on r.host = h.host and r.id = h.last_report{counted}"
)
_LISTING = _LISTING_OF.format(reports="(select count(*) from reports c where c.host = h.host)", counted="")
"""Each host with its latest report's verdict (the columns of ``HostInfo.from_row``)."""
_WHOLE_LISTING = _LISTING_OF.format(
    reports="coalesce(c.reports, 0)",
    counted=" left join (select host, count(*) as reports from reports group by host) c on c.host = h.host",
)
"""``_LISTING`` of every host: the reports counted in one pass over the table rather than one index probe
per host (0.46 s instead of 0.72 s for 100,000 hosts); a page of 50 hosts probes 50 times instead."""
_LOCK_HOST = (
    "with added as (insert into hosts (host, lost_reports) values (%s, 0) on conflict (host) do nothing) "
    "select 1 from hosts where host = %s for update"
)
"""The host's row, locked until the report is stored: added if new (then it is this transaction's own row,
which any other writer of the host waits for, as it waits for the lock on a row that existed)."""
_FINDING_VALUES = ", ".join("%s" for _ in PART_FINDING_COLUMNS.split(","))
_INSERT_FINDING = f"insert into part_findings ({PART_FINDING_COLUMNS}) values ({_FINDING_VALUES})"
"""One ``part_findings`` row; many are sent at once in the store's pipeline, where ``COPY`` cannot go."""
_USERS = "select u.name, u.role, u.created, exists (select 1 from api_tokens t where t.name = u.name) from users u"
_LEVEL = "least(%(burst)s::float8, l.level + greatest(0, %(now)s - l.refilled) * %(rate)s)"
"""The host's bucket refilled since it was last counted."""
_FREE = "(l.busy_until is null or l.busy_until < %(now)s)"
"""No request of the host holds its turn (or the one that held it outlived its lease)."""
_ENTER = (
    "insert into host_limits as l (host, level, refilled, wait, busy_until) "
    "select host, %(burst)s - 1, %(now)s, 0, %(until)s from hosts where token_hash = %(token)s "
    f"on conflict (host) do update set level = case when {_LEVEL} >= 1 then {_LEVEL} - 1 else {_LEVEL} end, "
    f"wait = case when {_LEVEL} < 1 then (1 - {_LEVEL}) / %(rate)s when {_FREE} then 0 else -1 end, "
    f"busy_until = case when {_LEVEL} >= 1 and {_FREE} then %(until)s else l.busy_until end, refilled = %(now)s "
    "returning host, wait"
)
"""``HostGate.enter`` in one statement: the token's host (no row for an unknown or revoked one), counted
against its bucket and its turn taken. ``wait`` says which: the seconds to wait when over the rate, 0 when
the turn was taken, -1 when another request holds it (the row's old values are not returned otherwise)."""
_RELEASE = "update host_limits set busy_until = null where host = %s and busy_until = %s"


def redacted(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rpartition("@")
    user = netloc[0].partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[2]}"))


def _text(value: str | None) -> str | None:
    """A text column: PostgreSQL refuses NUL and lone surrogates; both are shown as escapes (the stored
    document keeps the original)."""
    shown = query_text(value)
    return shown.replace("\x00", "\\x00") if shown is not None else None


def _where(chosen: HostFilter, stale_before: str) -> tuple[str, list[Any]]:
    """``chosen`` as the conditions of a ``_LISTING`` query, and their parameters."""
    clauses: list[str] = []
    params: list[Any] = []
    if chosen.state is not None:
        clauses.append(STATE_CONDITIONS[chosen.state].format(seen=_SEEN, cutoff="%s"))
        params.append(stale_before)
    if chosen.tag is not None:
        clauses.append("(r.tags::jsonb ->> %s) = %s")
        params += [_text(part) for part in chosen.tag]
    if chosen.provider is not None:
        clauses.append(PROVIDER_VIOLATION.format(param="%s"))
        params.append(_text(chosen.provider))
    if chosen.search:
        clauses.append("h.host ilike %s escape '\\'")
        params.append(like_pattern(_text(chosen.search) or ""))
    if chosen.name is not None:
        clauses.append("h.host = %s")
        params.append(_text(chosen.name))
    return " and ".join(clauses) or "true", params


class PostgresFleetStorage(FleetStorage):
    def __init__(self, url: str, connect_timeout: float = 10.0) -> None:
        self.url = url
        self._where = redacted(url)
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=POOL_SIZE,
            timeout=POOL_WAIT,
            kwargs={"autocommit": True},
            open=False,
            name="fleet",
        )
        try:
            self._pool.open(wait=True, timeout=connect_timeout)
        except psycopg.Error as error:
            self._pool.close()
            raise StoreError(f"{self._where}: cannot connect to the fleet database: {error}") from error
        with self._errors("not a usable fleet database"):
            self._migrate()

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except psycopg.Error as error:
            if isinstance(error, psycopg.OperationalError):
                # The database may have restarted: each idle connection is tried, and the dead ones are
                # replaced (the pool reconnects in the background until the database is back).
                self._pool.check()
            raise StoreError(f"{self._where}: {doing}: {error}") from error

    def _migrate(self) -> None:
        """Apply the missing steps in one transaction, under an advisory lock: a second collector waits,
        then finds them applied. A database from a newer scanner is refused, never guessed at."""
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("select pg_advisory_xact_lock(%s)", [MIGRATION_LOCK])
            conn.execute(
                "create table if not exists migrations (number integer primary key, name text not null, "
                "applied text not null)"
            )
            row = conn.execute("select coalesce(max(number), 0) from migrations").fetchone()
            version = int(row[0]) if row else 0
            if version > len(FLEET_SCHEMA):
                raise StoreError(
                    f"{self._where}: this fleet database was written by a newer scanner (fleet database schema "
                    f"{version}, this scanner knows {len(FLEET_SCHEMA)}); upgrade scanner, or choose another with --db"
                )
            for number, step in enumerate(FLEET_SCHEMA[version:], start=version + 1):
                for statement in step.sql(Dialect.POSTGRESQL):
                    conn.execute(statement)
                applied = datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
                conn.execute("insert into migrations values (%s, %s, %s)", [number, step.name, applied])

    def close(self) -> None:
        self._pool.close()

    def gate(self, burst: int, per_second: float, lease: float) -> HostGate:
        return PostgresGate(self, burst, per_second, lease)

    def execute(
        self, sql: str, params: dict[str, Any] | list[Any], doing: str = "cannot use the host limits"
    ) -> tuple[int, tuple[Any, ...] | None]:
        """Run one statement in its own transaction: the rows it changed, and the first row it returned."""
        with self._errors(doing), self._pool.connection() as conn:
            cursor = conn.execute(sql, params)
            return cursor.rowcount, cursor.fetchone() if cursor.description else None

    # -- tokens -----------------------------------------------------------------------------------
    def add_token(self, host: str, token_hash: str) -> None:
        with self._errors("cannot add the token"), self._pool.connection() as conn:
            conn.execute(
                "insert into hosts (host, token_hash, token_created, revoked, lost_reports) values (%s, %s, %s, null, 0) "
                "on conflict (host) do update set token_hash = excluded.token_hash, "
                "token_created = excluded.token_created, revoked = null",
                [_text(host), token_hash, utc_now()],
            )

    def revoke_token(self, host: str) -> bool:
        with self._errors("cannot revoke the token"), self._pool.connection() as conn:
            changed = conn.execute(
                "update hosts set token_hash = null, revoked = %s where host = %s", [utc_now(), _text(host)]
            ).rowcount
        return bool(changed)

    def host_of_token(self, token_hash: str) -> str | None:
        with self._errors("cannot read tokens"), self._pool.connection() as conn:
            row = conn.execute("select host from hosts where token_hash = %s", [token_hash]).fetchone()
        return str(row[0]) if row else None

    # -- reports ----------------------------------------------------------------------------------
    def store_report(self, report: dict[str, Any], received: str, dropped: int = 0, turn: Turn | None = None) -> bool:
        in_transaction = turn is not None and isinstance(turn.gate, PostgresGate) and turn.gate.storage is self
        with self._errors("cannot store report"):
            stored = self._store_report(report, received, dropped, turn if in_transaction else None)
        if turn is not None and not in_transaction:
            turn.give_back()
        return stored

    def _store_report(self, report: dict[str, Any], received: str, dropped: int, ending: Turn | None) -> bool:
        scan, summary = report["scan"], report["summary"]
        agent = report.get("agent") or {}
        host, report_id = _text(scan["host"]), _text(scan["id"])
        document, parts = split(report)
        with self._pool.connection() as conn, conn.pipeline() as pipeline, conn.transaction():
            conn.execute(_LOCK_HOST, [host, host])
            if ending is not None:
                conn.execute(_RELEASE, [host, ending.until])
            stored = conn.execute(
                "insert into reports (id, host, received, started, finished, compliant, complete, violations, "
                "warnings, infos, tags, document) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
                "on conflict (host, id) do nothing returning id",
                [
                    report_id,
                    host,
                    received,
                    scan["started"],
                    scan["finished"],
                    int(summary["compliant"]),
                    int(summary["complete"]),
                    summary["violations"],
                    summary["warnings"],
                    summary["infos"],
                    json.dumps(agent.get("tags") or {}),
                    compress(document),
                ],
            )
            known_rows = conn.execute(
                "select digest from report_parts where host = %s and digest = any(%s)",
                [host, [p.digest for p in parts]],
            )
            pipeline.sync()  # the first round trip: the host locked, the report inserted, its known parts
            if stored.fetchone() is None:
                return False
            known = {digest for (digest,) in known_rows.fetchall()}
            new = [part for part in parts if part.digest not in known]
            cursor = conn.cursor()
            cursor.executemany(
                "insert into report_links (host, report_id, section, digest) values (%s, %s, %s, %s)",
                [(host, report_id, part.section, part.digest) for part in parts],
            )
            if new:
                cursor.executemany(
                    "insert into report_parts (host, digest, body) values (%s, %s, %s)",
                    [(host, part.digest, compress(part.text)) for part in new],
                )
            for part in new:
                if part.section == FINDINGS:
                    cursor.executemany(_INSERT_FINDING, list(finding_rows(host, part.digest, report[FINDINGS], _text)))
            conn.execute(
                "update hosts set lost_reports = lost_reports + %s, "
                f"last_report = (select r.id from reports r where r.host = hosts.host order by {_ARRIVAL} limit 1) "
                "where host = %s",
                [dropped, host],
            )
        return True  # the second round trip: the links, the new parts, the host's latest report, COMMIT

    def _stream(self, sql: str, params: list[Any], doing: str, hash_joins: bool = False) -> Iterator[tuple[Any, ...]]:
        """Rows of a server-side cursor, ``STREAMED_ROWS`` at a time. ``hash_joins``: for a query over
        every host's latest report, which PostgreSQL expects to match 10 rows whatever the fleet (it takes
        ``host`` and ``last_report`` as independent), so it would look up each host's links and parts one
        host at a time: 1.6 s instead of 0.9 s with hash joins for 100,000 hosts."""
        with (
            self._errors(doing),
            self._pool.connection() as conn,
            conn.transaction(),
            conn.cursor(name="fleet_stream") as cursor,
        ):
            if hash_joins:
                conn.execute("set local enable_nestloop = off")
            cursor.itersize = STREAMED_ROWS
            cursor.execute(sql, params)
            yield from cursor

    def hosts(self) -> list[HostInfo]:
        rows = self._stream(f"{_WHOLE_LISTING} order by h.host", [], "cannot list hosts")
        return [HostInfo.from_row(row) for row in rows]

    def find_hosts(
        self, chosen: HostFilter, stale_before: str, limit: int, offset: int = 0, after: str | None = None
    ) -> list[HostInfo]:
        where, params = _where(chosen, stale_before)
        if after is not None:
            where, params = f"{where} and h.host > %s", [*params, _text(after)]
        sql = f"{_LISTING} where {where} order by h.host limit %s offset %s"
        return [HostInfo.from_row(row) for row in self._read(sql, [*params, limit, offset], "cannot list hosts")]

    def count_hosts(self, chosen: HostFilter, stale_before: str) -> int:
        where, params = _where(chosen, stale_before)
        sql = f"select count(*) from hosts h left join reports r on r.host = h.host and r.id = h.last_report where {where}"
        return int(self._read(sql, params, "cannot count hosts")[0][0])

    def _read(self, sql: str, params: Sequence[Any], doing: str) -> list[Any]:
        with self._errors(doing), self._pool.connection() as conn:
            return conn.execute(sql, list(params)).fetchall()

    def reports(self, host: str, limit: int = 20) -> list[dict[str, Any]]:
        with self._errors("cannot list reports"), self._pool.connection() as conn:
            rows = conn.execute(
                f"select r.id, r.received, r.finished, {_AHEAD}, r.compliant, r.complete, r.violations, r.warnings, "
                f"r.infos from reports r where r.host = %s order by {_ARRIVAL} limit %s",
                [_text(host), limit],
            ).fetchall()
        keys = ("id", "received", "finished", "clock_ahead", "compliant", "complete", "violations", "warnings", "infos")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def report(self, host: str, report_id: str) -> dict[str, Any] | None:
        key = [_text(host), _text(report_id)]
        with self._errors("cannot read the report"), self._pool.connection() as conn, conn.transaction():
            row = conn.execute("select document from reports where host = %s and id = %s", key).fetchone()
            if row is None:
                return None
            parts = conn.execute(f"select l.section, p.body from {LINKED} where l.host = %s and l.report_id = %s", key)
            return rebuild(row[0], dict(parts.fetchall()))

    def latest_reports_for_summary(self, expiring_by: str) -> Iterator[dict[str, Any]]:
        rows = self._stream(
            SUMMARISED.format(param="%s"), [expiring_by], "cannot read the latest reports", hash_joins=True
        )
        yield from rebuilt(rows)

    def prune(self, keep_last: int, older_than: str | None, dry_run: bool = False) -> int:
        gone = PRUNABLE.format(arrival=_ARRIVAL, keep="%s", date="%s::text")
        params = [keep_last, older_than, older_than]
        with self._errors("cannot prune reports"), self._pool.connection() as conn, conn.transaction():
            count = int(conn.execute(f"select count(*) from ({gone}) g", params).fetchone()[0])  # type: ignore[index]
            if dry_run or not count:
                return count
            # A store reads which parts exist, then links to them: one that read a part this prune is about
            # to remove as linked by no one would link to nothing. Every store inserts its report before
            # it reads, so this lock waits for the stores under way and holds the next ones until the
            # prune commits, when they see the parts that are gone and store them again.
            conn.execute("lock table reports in share row exclusive mode")
            for statement, args in removing(gone, params):
                conn.execute(statement, args)
        return count  # autovacuum returns the space

    def size_bytes(self) -> int:
        with self._errors("cannot read the database size"), self._pool.connection() as conn:
            return int(conn.execute("select pg_database_size(current_database())").fetchone()[0])  # type: ignore[index]

    def compliance_by_day(self, since: str) -> list[tuple[str, int, int]]:
        with self._errors("cannot count compliance by day"), self._pool.connection() as conn:
            rows = conn.execute(
                "with seen as (select case when r.compliant = 1 and r.complete = 1 then 1 else 0 end as ok, "
                f"{_SEEN} as at, row_number() over (partition by r.host, substr({_SEEN}, 1, 10) order by {_ARRIVAL}) "
                f"as n from reports r where {_SEEN} >= %s) "
                "select substr(at, 1, 10) as day, count(*), sum(ok) from seen where n = 1 group by day order by day",
                [since],
            ).fetchall()
        return [(str(day), int(total), int(ok or 0)) for day, total, ok in rows]

    # -- the dashboard's users --------------------------------------------------------------------
    def add_user(self, name: str, role: UserRole, password_hash: str, replace: bool = False) -> bool:
        with self._errors("cannot add the user"), self._pool.connection() as conn, conn.transaction():
            added = conn.execute(
                "insert into users values (%s, %s, %s, %s) on conflict (name) do nothing returning name",
                [_text(name), str(role), password_hash, utc_now()],
            ).fetchone()
            if added is not None:
                return True
            if not replace:
                return False
            conn.execute(
                "update users set role = %s, password_hash = %s where name = %s",
                [str(role), password_hash, _text(name)],
            )
            conn.execute("delete from user_sessions where name = %s", [_text(name)])
        return True

    def users(self) -> list[UserInfo]:
        rows = self._read(f"{_USERS} order by u.name", [], "cannot list users")
        return [UserInfo(name, UserRole(role), created, bool(token)) for name, role, created, token in rows]

    def account(self, name: str) -> Account | None:
        rows = self._read(
            "select name, role, password_hash from users where name = %s", [_text(name)], "cannot read the user"
        )
        return Account(rows[0][0], UserRole(rows[0][1]), rows[0][2]) if rows else None

    def remove_user(self, name: str) -> bool:
        changed, _ = self.execute("delete from users where name = %s", [_text(name)], "cannot remove the user")
        return bool(changed)

    def set_api_token(self, name: str, token_hash: str | None) -> bool:
        with self._errors("cannot change the API token"), self._pool.connection() as conn, conn.transaction():
            if conn.execute("select 1 from users where name = %s for update", [_text(name)]).fetchone() is None:
                return False
            conn.execute("delete from api_tokens where name = %s", [_text(name)])
            if token_hash is not None:
                conn.execute("insert into api_tokens values (%s, %s, %s)", [token_hash, _text(name), utc_now()])
        return True

    def user_of_api_token(self, token_hash: str) -> UserInfo | None:
        rows = self._read(
            f"{_USERS} join api_tokens a on a.name = u.name where a.token_hash = %s",
            [token_hash],
            "cannot read API tokens",
        )
        return UserInfo(rows[0][0], UserRole(rows[0][1]), rows[0][2], True) if rows else None

    def add_session(self, id_hash: str, name: str, created: str, expires: str) -> None:
        with self._errors("cannot open a session"), self._pool.connection() as conn, conn.transaction():
            conn.execute("delete from user_sessions where expires <= %s", [created])
            conn.execute("insert into user_sessions values (%s, %s, %s, %s)", [id_hash, _text(name), created, expires])

    def session_user(self, id_hash: str, now: str) -> UserInfo | None:
        rows = self._read(
            f"{_USERS} join user_sessions s on s.name = u.name where s.id_hash = %s and s.expires > %s",
            [id_hash, now],
            "cannot read sessions",
        )
        return UserInfo(rows[0][0], UserRole(rows[0][1]), rows[0][2], bool(rows[0][3])) if rows else None

    def end_session(self, id_hash: str) -> None:
        self.execute("delete from user_sessions where id_hash = %s", [id_hash], "cannot end the session")

    def sign_in_failures(self, keys: Sequence[str]) -> dict[str, tuple[int, float]]:
        rows = self._read(
            "select key, failures, since from sign_in_failures where key = any(%s)",
            [[_text(k) for k in keys]],
            "cannot read sign-in limits",
        )
        return {key: (int(n), float(since)) for key, n, since in rows}

    def count_sign_in_failure(self, key: str, now: float, window: float) -> None:
        self.execute(SIGN_IN_FAILURE, [_text(key), now, now - window, now - window], "cannot count a failed sign-in")

    def clear_sign_in_failures(self, key: str) -> None:
        self.execute("delete from sign_in_failures where key = %s", [_text(key)], "cannot clear failed sign-ins")

    def forgive_sign_in_failure(self, key: str) -> None:
        self.execute(FORGIVE_SIGN_IN_FAILURE, [_text(key)], "cannot take back a failed sign-in")


class PostgresGate(HostGate):
    """The per-host limits in ``host_limits``, one statement each, for every collector on the database.
    Times are the collectors' clocks (seconds since the epoch): keep them in sync (NTP), as the intake's
    clock-skew check already asks."""

    def __init__(self, storage: PostgresFleetStorage, burst: int, per_second: float, lease: float) -> None:
        self.storage = storage
        self._burst = burst
        self._per_second = per_second
        self._lease = lease

    def enter(self, token_hash: str) -> Entry:
        now = time.time()
        until = now + self._lease
        params = {"token": token_hash, "burst": self._burst, "rate": self._per_second, "now": now, "until": until}
        _, row = self.storage.execute(_ENTER, params)
        if row is None:
            return Entry(None)
        host, wait = str(row[0]), float(row[1])
        if wait < 0:
            return Entry(host, busy=True)
        return Entry(host, wait=wait) if wait else Entry(host, until=until)

    def release(self, host: str, until: float) -> None:
        self.storage.execute(_RELEASE, [host, until])
