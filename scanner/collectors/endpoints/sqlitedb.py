"""One JSON value out of an application's SQLite database, read as data and within bounds.

Open WebUI keeps the connections set in its admin panel in ``webui.db`` (table ``config``, JSON
column ``data``), not in any text file. The database is opened through the descriptor that passed
the regular-file checks (``/proc/self/fd/N`` where there is one), read-only and ``immutable`` — no
lock taken, no journal read or written, nothing created beside it. Only a real table is queried (a
hostile file could make ``config`` a view), untrusted schema functions are off, a step budget stops
any query that runs long, and the value is capped in size.
"""

from __future__ import annotations

import json
import os
import sqlite3
from typing import Any
from urllib.parse import quote

from scanner.collectors.endpoints.structured import NotStructured
from scanner.fsview import RootFS

VALUE_CAP = 4 << 20
STEP_BUDGET = 5_000
"""Progress-handler calls (each every 1,000 virtual-machine steps) before a query is abandoned."""


def latest_json(fs: RootFS, real_path: str, table: str, column: str) -> Any:
    """The newest row's ``column`` of ``table``, parsed as JSON; ``None`` when there is no such table or row.

    Raises ``FileRefused``/``OSError`` for a file that may not or cannot be opened, ``NotStructured`` for
    one that is no readable SQLite database or holds no JSON there.
    """
    with fs.open_regular(real_path) as handle:
        pinned = f"/proc/self/fd/{handle.fileno()}"
        path = pinned if os.path.exists(pinned) else fs.resolve(real_path)
        steps = 0

        def budget() -> int:
            nonlocal steps
            steps += 1
            return int(steps > STEP_BUDGET)

        try:
            connection = sqlite3.connect(f"file:{quote(path)}?mode=ro&immutable=1", uri=True)
        except sqlite3.Error as error:
            raise NotStructured(f"not a readable SQLite database: {error}") from error
        try:
            connection.set_progress_handler(budget, 1000)
            connection.execute("PRAGMA trusted_schema = OFF")
            is_table = connection.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
            ).fetchone()
            if not is_table:
                return None
            row = connection.execute(
                f'SELECT "{column}" FROM "{table}" WHERE length("{column}") <= ? ORDER BY rowid DESC LIMIT 1',
                (VALUE_CAP,),
            ).fetchone()
        except sqlite3.Error as error:
            raise NotStructured(f"not a readable SQLite database: {error}") from error
        finally:
            connection.close()
    if row is None or not isinstance(row[0], (str, bytes)):
        return None
    try:
        return json.loads(row[0])
    except (ValueError, RecursionError) as error:
        raise NotStructured(f"{table}.{column} is not JSON") from error
