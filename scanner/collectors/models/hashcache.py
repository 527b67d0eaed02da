"""A cache of file digests keyed by device, inode, size, modification and change time.

``--hash`` reads whole weight files; a fleet runs it every night on files that rarely change. An
unchanged file (same device, inode, size, mtime and ctime in nanoseconds) keeps its digest from the last
scan. The cache is a small SQLite file beside the Hub cache; if it cannot be opened the scan simply
hashes everything again.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from scanner.lineage.hub import default_cache_dir

if TYPE_CHECKING:
    import sqlite_utils

TABLE = "file_digests_v2"  # v1 lacked ctime


class DigestCache:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_cache_dir() / "digests.db"
        # Imported here: sqlite_utils (with numpy, where installed) costs a tenth of a second, and
        # only --hash needs it.
        import sqlite_utils

        self._db: sqlite_utils.Database | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite_utils.Database(self.path)
            self._db[TABLE].create(  # type: ignore[union-attr]
                {"device": int, "inode": int, "size": int, "mtime_ns": int, "ctime_ns": int, "sha256": str},
                pk=("device", "inode"),
                if_not_exists=True,
            )
        except (OSError, sqlite3.Error):
            self._db = None

    @staticmethod
    def _key(st: os.stat_result) -> dict[str, int]:
        return {
            "device": st.st_dev,
            "inode": st.st_ino,
            "size": st.st_size,
            "mtime_ns": st.st_mtime_ns,
            "ctime_ns": st.st_ctime_ns,  # a restored mtime cannot hide a rewrite: the kernel sets ctime
        }

    def get(self, st: os.stat_result) -> str | None:
        if self._db is None:
            return None
        key = self._key(st)
        try:
            rows = list(self._db[TABLE].rows_where("device = ? and inode = ?", [key["device"], key["inode"]]))
        except sqlite3.Error:
            return None
        row = rows[0] if rows else None
        if row and all(row.get(k) == key[k] for k in ("size", "mtime_ns", "ctime_ns")):
            return str(row["sha256"])
        return None

    def put(self, st: os.stat_result, sha256: str) -> None:
        if self._db is None:
            return
        try:
            self._db[TABLE].upsert({**self._key(st), "sha256": sha256}, pk=("device", "inode"))  # type: ignore[union-attr]
        except sqlite3.Error:
            self._db = None
