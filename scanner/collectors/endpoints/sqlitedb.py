"""JSON values out of applications' SQLite databases, read as data and within bounds.

Some tools keep their connection settings in SQLite, not in any text file: Open WebUI in
``webui.db`` (table ``config``, JSON column ``data``), VS Code and its forks in
``globalStorage/state.vscdb`` (table ``ItemTable``: each extension's state as JSON under its id, which
is where Roo Code and Cline keep their provider profiles). A database is opened through the
descriptor that passed the regular-file checks (``/proc/self/fd/N`` where there is one), read-only
and ``immutable`` — no lock taken, no journal read or written, nothing created beside it. Only real
tables without generated columns are queried (a hostile file could make one a view, or a column
that computes a gigabyte), untrusted schema functions are off, a step budget stops any query that
runs long, and values are capped in size. A damaged schema entry (a planted file may carry any bytes,
not even UTF-8) costs only the table it describes: the others are still read.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from scanner.collectors.endpoints.structured import NotStructured
from scanner.fsview import RootFS

if TYPE_CHECKING:  # sqlite3 is imported by the first database read (an audit with --no-store may meet none)
    import sqlite3

VALUE_CAP = 4 << 20
STEP_BUDGET = 5_000
"""Progress-handler calls (each every 1,000 virtual-machine steps) before a query is abandoned."""


@contextmanager
def _read_only(fs: RootFS, real_path: str, step_budget: int = STEP_BUDGET) -> Iterator[sqlite3.Connection]:
    """A guarded read-only connection; ``NotStructured`` for a file that is no readable database."""
    import sqlite3

    with fs.open_regular(real_path) as handle:
        pinned = f"/proc/self/fd/{handle.fileno()}"
        path = pinned if os.path.exists(pinned) else fs.resolve(real_path)
        steps = 0

        def budget() -> int:
            nonlocal steps
            steps += 1
            return int(steps > step_budget)

        try:
            connection = sqlite3.connect(f"file:{quote(path)}?mode=ro&immutable=1", uri=True)
        except sqlite3.Error as error:
            raise NotStructured(f"not a readable SQLite database: {error}") from error
        try:
            connection.text_factory = _text
            connection.set_progress_handler(budget, 1000)
            setlimit = getattr(connection, "setlimit", None)  # Python 3.11+: no value may grow past the cap
            if setlimit is not None:
                setlimit(getattr(sqlite3, "SQLITE_LIMIT_LENGTH"), VALUE_CAP + 1024)  # noqa: B009
            connection.execute("PRAGMA trusted_schema = OFF")
            # Nothing can be written (read-only, immutable); ON only makes SQLite load the schema entries
            # it can parse instead of refusing the whole file for one it cannot.
            connection.execute("PRAGMA writable_schema = ON")
            yield connection
        except (sqlite3.Error, UnicodeDecodeError) as error:  # SQLite quotes the bad bytes in its message
            raise NotStructured(f"not a readable SQLite database: {_message(error)}") from error
        finally:
            connection.close()


def _text(value: bytes) -> str:
    """A TEXT value as Python text, whatever its bytes: a planted database need not hold UTF-8."""
    return value.decode("utf-8", "replace")


def _message(error: Exception) -> str:
    if isinstance(error, UnicodeDecodeError):  # the message itself was not UTF-8
        return error.object.decode("utf-8", "backslashreplace") if isinstance(error.object, bytes) else str(error)
    return str(error)


def _is_table(connection: sqlite3.Connection, table: str) -> bool:
    """A real table whose columns are all stored: a generated column is code the file brings along
    (one ``printf('%.*c', 900000000, 'x')`` is a gigabyte in a single step the budget cannot stop)."""
    row = connection.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone()
    if row is None:
        return False
    columns = connection.execute("SELECT hidden FROM pragma_table_xinfo(?)", (table,)).fetchall()
    if not columns:  # listed, but its CREATE TABLE does not parse: SQLite cannot read its rows
        raise NotStructured(f"the definition of table {table} is damaged; its rows cannot be read")
    if any(hidden in (2, 3) for (hidden,) in columns):
        raise NotStructured(f"table {table} has generated columns; not read")
    return True


def _json(value: object, what: str) -> Any:
    if not isinstance(value, (str, bytes)):
        return None
    try:
        return json.loads(value)
    except (ValueError, RecursionError) as error:
        raise NotStructured(f"{what} is not JSON") from error


def latest_json(fs: RootFS, real_path: str, table: str, column: str) -> Any:
    """The newest row's ``column`` of ``table``, parsed as JSON; ``None`` when there is no such table or row.

    Raises ``FileRefused``/``OSError`` for a file that may not or cannot be opened, ``NotStructured`` for
    one that is no readable SQLite database or holds no JSON there.
    """
    with _read_only(fs, real_path) as connection:
        if not _is_table(connection, table):
            return None
        row = connection.execute(
            f'SELECT "{column}" FROM "{table}" WHERE length("{column}") <= ? ORDER BY rowid DESC LIMIT 1',
            (VALUE_CAP,),
        ).fetchone()
    return None if row is None else _json(row[0], f"{table}.{column}")


def keyed_json(fs: RootFS, real_path: str, table: str, keys: tuple[str, ...]) -> dict[str, Any]:
    """``key -> parsed value`` for the asked keys of a key/value table (``key``, ``value`` columns).

    A value that is not JSON is left out rather than failing the file: other extensions' rows are
    not ours to judge.
    """
    with _read_only(fs, real_path) as connection:
        if not _is_table(connection, table):
            return {}
        marks = ", ".join("?" for _ in keys)
        rows = connection.execute(
            f'SELECT key, value FROM "{table}" WHERE key IN ({marks}) AND length(value) <= ?', (*keys, VALUE_CAP)
        ).fetchall()
    found = {}
    for key, value in rows:
        if key not in keys:  # a hostile "COLLATE NOCASE" column answers for keys we did not ask
            continue
        try:
            found[str(key)] = _json(value, f"{table}[{key}]")
        except NotStructured:
            continue
    return found


ROWS_CAP = 10_000


def matching_rows(
    fs: RootFS, real_path: str, tables: tuple[str, ...], query: str, params: tuple[object, ...], step_budget: int
) -> list[tuple[Any, ...]]:
    """The rows a fixed ``query`` selects (at most ``ROWS_CAP``), or none when one of ``tables`` is missing.

    For the caller's own filtering queries (a browser's history asked only for the watched hosts' URLs):
    the filter runs inside SQLite, so no other row ever reaches the scanner.
    """
    with _read_only(fs, real_path, step_budget) as connection:
        if not all(_is_table(connection, table) for table in tables):
            return []
        return connection.execute(query, params).fetchmany(ROWS_CAP)
