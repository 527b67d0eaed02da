"""SQLite as both the local store and the collector's database use it: private files, WAL, a writer that
waits, and named, ordered migrations.

Neutral on purpose (it knows nothing of scans or hosts), so that the store and the fleet collector
share it without either reaching into the other. The databases are used through the standard library's
``sqlite3`` and the few row writes of ``Database``; ``sqlite_utils``, which the released migrations were
written with, is imported only to apply a migration: its import (click, pluggy, dateutil, and numpy
where it is installed) cost every stored run 0.1-0.17 s of CPU and 16 MiB.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from scanner.errors import StoreError

if TYPE_CHECKING:  # the type only; the module is imported to migrate
    import sqlite_utils

BUSY_TIMEOUT_MS = 30_000
"""A nightly audit and an admin's ``scanner history`` may meet; wait for the writer, not fail."""

Migration = tuple[str, Callable[["sqlite_utils.Database"], None]]
"""A named schema step; a released one is never edited, reordered or renamed."""


class Database:
    """A SQLite connection, and rows written by column name (the only writes the store and the collector
    make besides plain SQL)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    def close(self) -> None:
        self.conn.close()

    def insert(
        self, table: str, rows: Iterable[Mapping[str, Any]], *, ignore: bool = False, upsert: Sequence[str] = ()
    ) -> None:
        """Insert ``rows`` (all with the first row's columns); ``ignore``: a row whose key exists is passed
        over; ``upsert``: those key columns' row, if it exists, gets the other columns' new values."""
        them = iter(rows)
        first = next(them, None)
        if first is None:
            return
        columns = list(first)
        names = ", ".join(f'"{c}"' for c in columns)
        sql = (
            f'insert {"or ignore " if ignore else ""}into "{table}" ({names}) values ({", ".join("?" * len(columns))})'
        )
        if upsert:
            keys = ", ".join(f'"{c}"' for c in upsert)
            changed = ", ".join(f'"{c}" = excluded."{c}"' for c in columns if c not in upsert)
            sql += f" on conflict ({keys}) do update set {changed}"
        self.conn.executemany(sql, (tuple(row[c] for c in columns) for row in chain([first], them)))


def _create_private(path: Path) -> None:
    """What the database lists is sensitive: readable by its owner only (0700 folder, 0600 file)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))


def connect(path: Path, what: str) -> Database:
    """A private (0700/0600) SQLite database in WAL mode that waits for writers; ``what`` names it in errors."""
    try:
        _create_private(path)
        db = Database(sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000))
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            db.execute("PRAGMA journal_mode = wal")
        db.execute("PRAGMA foreign_keys = ON")
    except OSError as error:
        raise StoreError(f"{path}: cannot open the {what}: {error.strerror or error}") from error
    except sqlite3.Error as error:
        raise StoreError(f"{path}: cannot open the {what}: {error}") from error
    return db


def connect_read_only(path: Path, what: str) -> Database | None:
    """An existing database opened for reading only, never created or changed (``None`` when there is
    none): listing history must not leave an empty store behind, and must work on a read-only file. A
    database in a folder we cannot write to is read as immutable (SQLite cannot make its shared-memory
    file there)."""
    if not path.exists():
        return None
    last: sqlite3.Error | None = None
    for mode in ("mode=ro", "immutable=1"):
        try:
            conn = sqlite3.connect(f"file:{quote(str(path))}?{mode}", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
            conn.execute("select count(*) from sqlite_master").fetchone()
            return Database(conn)
        except sqlite3.OperationalError as error:
            last = error
        except sqlite3.Error as error:
            raise StoreError(f"{path}: cannot read the {what}: {error}") from error
    raise StoreError(f"{path}: cannot read the {what}: {last}")


def query_text(value: str | None) -> str | None:
    """A query column: valid UTF-8, lone surrogates shown as ``\\udXXX`` (the JSON keeps the original)."""
    return value.encode("utf-8", "backslashreplace").decode("utf-8") if value is not None else None


@contextmanager
def write_transaction(db: Database) -> Iterator[None]:
    """``BEGIN IMMEDIATE``: take the write lock first. A plain ``BEGIN`` that reads and then writes must
    upgrade its lock, and in WAL mode that fails at once ("database is locked", no waiting) when another
    connection wrote in between; measured: 129 of 200 concurrent submissions refused that way."""
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if db.conn.in_transaction:
            db.conn.execute("ROLLBACK")
        raise
    db.conn.execute("COMMIT")


def schema_version(db: Database) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def refuse_newer(db: Database, path: str, migrations: tuple[Migration, ...], what: str) -> None:
    version = schema_version(db)
    if version > len(migrations):
        raise StoreError(
            f"{path}: this {what} was written by a newer scanner ({what} schema {version}, this scanner knows "
            f"{len(migrations)}); upgrade scanner, or choose another {what} with --db"
        )


def migrate(db: Database, path: str, migrations: tuple[Migration, ...], what: str) -> None:
    """Bring ``db`` up to date, or refuse a database that a newer scanner wrote.

    ``PRAGMA user_version`` holds how many migrations a database has had. The missing ones are applied
    in order, each in its own transaction together with its ``migrations`` row and the new version, so
    a crash half-way leaves the database at the last complete step. A database from a newer scanner is
    refused: guessing at a schema we have never seen could lose its history.
    """
    refuse_newer(db, path, migrations, what)
    version = schema_version(db)
    if version >= len(migrations):
        return
    import sqlite_utils  # the released steps were written with it: only a database that needs one pays it

    legacy = sqlite_utils.Database(db.conn)
    for number, (name, apply) in enumerate(migrations[version:], start=version + 1):
        with write_transaction(db):
            if schema_version(db) >= number:  # another process (a second collector) got here first
                continue
            if number == 1:
                legacy.table("migrations").create({"number": int, "name": str, "applied": str}, pk="number")
            apply(legacy)
            applied = datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
            db.insert("migrations", [{"number": number, "name": name, "applied": applied}])
            db.execute(f"PRAGMA user_version = {number}")
