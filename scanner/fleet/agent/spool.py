"""The on-disk spool: reports waiting for the collector, kept in the local store.

A report enters the spool *before* it is sent and leaves only when the collector has acknowledged
it, so a crash, a reboot or a week offline loses nothing. The spool is bounded; when it is full the
oldest report is dropped and counted, and the count travels with the next delivery so the collector
learns how many reports it will never see. A report the collector refuses as malformed stays in the
spool, marked rejected, so that it does not block the others and an admin can see it.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from scanner.errors import StoreError
from scanner.report import utc_now
from scanner.sqlite import write_transaction
from scanner.store.database import Store

MAX_SPOOLED = 500
"""Reports kept at most (a year and a half of daily audits offline)."""


@dataclass(frozen=True)
class Spooled:
    id: str
    created: str
    body: bytes
    attempts: int
    last_error: str | None
    rejected: bool


class Spool:
    def __init__(self, store: Store, limit: int = MAX_SPOOLED) -> None:
        self.store = store
        self.db = store.db
        self.limit = limit

    def _guard(self, doing: str) -> StoreError:
        return StoreError(f"{self.store.path}: cannot {doing} the spool")

    def add(self, report_id: str, body: bytes) -> int:
        """Keep a report (gzip JSON) until it is delivered; returns how many older ones were dropped."""
        try:
            with write_transaction(self.db):
                self.db.execute(
                    "insert or ignore into spool (id, created, body, attempts, rejected) values (?, ?, ?, 0, 0)",
                    [report_id, utc_now(), body],
                )
                excess = int(self.db.execute("select count(*) from spool").fetchone()[0]) - self.limit
                if excess > 0:
                    self.db.execute(
                        "delete from spool where id in (select id from spool order by created, rowid limit ?)", [excess]
                    )
                    self.db.execute(
                        "insert into state (key, value) values ('dropped_reports', ?) "
                        "on conflict(key) do update set value = value + excluded.value",
                        [excess],
                    )
        except sqlite3.Error as error:
            raise self._guard("add to") from error
        return max(excess, 0)

    def pending(self) -> list[Spooled]:
        """Reports still to send, oldest first (rejected ones are not retried by themselves)."""
        return [s for s in self.all() if not s.rejected]

    def waiting(self) -> int:
        """How many reports are still to send (without reading their bodies)."""
        try:
            return int(self.db.execute("select count(*) from spool where rejected = 0").fetchone()[0])
        except sqlite3.Error as error:
            raise self._guard("read") from error

    def all(self) -> list[Spooled]:
        try:
            rows = self.db.execute(
                "select id, created, body, attempts, last_error, rejected from spool order by created, rowid"
            ).fetchall()
        except sqlite3.Error as error:
            raise self._guard("read") from error
        return [Spooled(r[0], r[1], r[2], r[3], r[4], bool(r[5])) for r in rows]

    def delivered(self, report_id: str, dropped_reported: int) -> None:
        """Acknowledged by the collector: forget it, and the drops that were reported with it."""
        try:
            with write_transaction(self.db):
                self.db.execute("delete from spool where id = ?", [report_id])
                self.db.execute(
                    "update state set value = max(value - ?, 0) where key = 'dropped_reports'", [dropped_reported]
                )
        except sqlite3.Error as error:
            raise self._guard("update") from error

    def failed(self, report_id: str, error: str, rejected: bool = False) -> None:
        try:
            with write_transaction(self.db):
                self.db.execute(
                    "update spool set attempts = attempts + 1, last_error = ?, rejected = ? where id = ?",
                    [error[:500], int(rejected), report_id],
                )
        except sqlite3.Error as sql_error:
            raise self._guard("update") from sql_error

    def retry_rejected(self) -> int:
        """Put rejected reports back in line (after the collector or its token was fixed)."""
        try:
            with write_transaction(self.db):
                return int(self.db.execute("update spool set rejected = 0 where rejected = 1").rowcount)
        except sqlite3.Error as error:
            raise self._guard("update") from error

    def dropped(self) -> int:
        try:
            row = self.db.execute("select value from state where key = 'dropped_reports'").fetchone()
        except sqlite3.Error as error:
            raise self._guard("read") from error
        return int(row[0]) if row else 0
