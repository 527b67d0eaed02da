"""Per-file facts from earlier scans, keyed by device, inode, size, modification and change time.

A fleet machine is scanned every night and its model files rarely change; parsing a GGUF
vocabulary or hashing a 15 GB file again each night is wasted work. A file whose device, inode,
size, mtime and ctime (nanoseconds) are all unchanged keeps what was learnt from it; ctime matters
because a tool can restore an mtime but only the kernel sets ctime. Entries are loaded once at the
start of a scan and written back with the scan, in the same transaction; an entry whose file is no
longer where it was seen (gone, or another file there now) is dropped then, so the cache holds about
as many entries as the machine has model files.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from typing import Any

from scanner.limits import masked_all
from scanner.store.database import Store


class StoreFileCache:
    """The ``FileCache`` the collectors see, backed by the store."""

    def __init__(self, known: dict[tuple[int, int, str], dict[str, Any]]) -> None:
        self._known = known
        self._touched: dict[tuple[int, int, str], dict[str, Any]] = {}
        self.hits = 0
        self.misses = 0

    @classmethod
    def load(cls, store: Store) -> StoreFileCache:
        return cls(store.file_facts())

    def get(self, kind: str, path: str, st: os.stat_result) -> Any | None:
        key = (st.st_dev, st.st_ino, kind)
        entry = self._known.get(key)
        if entry and (entry["size"], entry["mtime_ns"], entry["ctime_ns"]) == (
            st.st_size,
            st.st_mtime_ns,
            st.st_ctime_ns,
        ):
            self.hits += 1
            self._touched[key] = {**entry, "path": path}  # a renamed file keeps its facts under its new path
            return entry["data"]
        self.misses += 1
        return None

    def put(self, kind: str, path: str, st: os.stat_result, data: Any) -> None:
        key = (st.st_dev, st.st_ino, kind)
        entry = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "ctime_ns": st.st_ctime_ns, "data": data}
        self._known[key] = self._touched[key] = {**entry, "path": path}

    def gone(self) -> list[tuple[int, int, str]]:
        """Entries this scan did not use whose file is no longer where it was seen: deleted, or another
        file in its place. One ``lstat`` each, never an open; a file that cannot be looked at is kept."""
        found = []
        for key, entry in self._known.items():
            if key in self._touched or not entry.get("path"):
                continue
            try:
                st = os.lstat(entry["path"])
            except (FileNotFoundError, NotADirectoryError):
                found.append(key)
                continue
            except OSError:
                continue
            if (st.st_dev, st.st_ino) != key[:2]:
                found.append(key)
        return found

    def rows(self, now: datetime | None = None) -> list[dict[str, Any]]:
        """What to write back: every entry used or learnt in this scan, stamped as seen now; a key planted
        in a header (a GGUF ``general.name``) is masked before it is stored, as in the report."""
        seen = (now or datetime.now(timezone.utc)).isoformat(timespec="seconds")
        return [
            {"device": d, "inode": i, "kind": k, **entry, "data": masked_all(entry["data"]), "seen": seen}
            for (d, i, k), entry in self._touched.items()
        ]
