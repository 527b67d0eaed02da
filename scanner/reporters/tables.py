"""Plain-text tables (``tabulate``), imported on first use.

Importing ``tabulate`` costs about 20 ms (it asks ``importlib.metadata`` for its version, which imports
``email``, ``zipfile`` and ``socket``): every run would pay it, while only the runs that print a table
need it — a scheduled audit writing JSON never does.
"""

from __future__ import annotations

from typing import Any


def tabulate(rows: Any, headers: Any = (), **options: Any) -> str:
    from tabulate import tabulate as render

    return str(render(rows, headers, **options))
