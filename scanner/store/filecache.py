"""Per-file facts from earlier scans, keyed by device, inode, size, modification and change time.

A fleet machine is scanned every night and its model files rarely change; parsing a GGUF
vocabulary or hashing a 15 GB file again each night is wasted work. A file whose device, inode,
size, mtime and ctime (nanoseconds) are all unchanged keeps what was learnt from it; ctime matters
because a tool can restore an mtime but only the kernel sets ctime. Entries are loaded once at the
start of a scan and written back with the scan, in the same transaction; an entry whose file is no
longer where it was seen (gone, or another file there now) is dropped then, so the cache holds about
as many entries as the machine has model files.

Most files hold nothing a collector looks for: each night the text scan read thousands of files people
wrote only to find no provider named in them (a third of a whole machine's re-scan here). Those are kept
apart, as 8 bytes each: a digest of what was looked for, the file's path, device, inode, size, mtime and
ctime. A file whose digest is among the last scan's is passed over unread. The set is written back whole
with each scan (the files found quiet in it), so it holds only files that exist and never grows past
the machine's file count; a change of policy or of the scanner changes what was looked for, and with
it every digest.
"""

from __future__ import annotations

import hashlib
import json
import os
from array import array
from datetime import datetime, timezone
from typing import Any

from scanner.limits import masked_all
from scanner.store.database import Store

_SQLITE_INTEGERS = range(-(1 << 63), 1 << 63)
"""What a column of SQLite integers holds (signed 64 bits)."""


class StoreFileCache:
    """The ``FileCache`` the collectors see, backed by the store."""

    def __init__(self, known: dict[tuple[int, int, str], dict[str, Any]], quiet: bytes = b"") -> None:
        self._known = known
        self._touched: dict[tuple[int, int, str], dict[str, Any]] = {}
        self._was_quiet = set(array("Q", quiet[: len(quiet) // 8 * 8]))
        self._quiet: set[int] = set()
        self.hits = 0
        self.misses = 0

    @classmethod
    def load(cls, store: Store) -> StoreFileCache:
        return cls(store.file_facts(), store.quiet_files())

    @staticmethod
    def _quiet_key(kind: str, path: str, st: os.stat_result) -> int:
        facts = f"{kind}\0{path}\0{st.st_dev} {st.st_ino} {st.st_size} {st.st_mtime_ns} {st.st_ctime_ns}"
        digest = hashlib.blake2b(facts.encode("utf-8", "surrogateescape"), digest_size=8).digest()
        return int.from_bytes(digest, "little")

    def quiet(self, kind: str, path: str, st: os.stat_result) -> bool:
        key = self._quiet_key(kind, path, st)
        if key in self._was_quiet:
            self._quiet.add(key)
            return True
        return False

    def found_nothing(self, kind: str, path: str, st: os.stat_result) -> None:
        self._quiet.add(self._quiet_key(kind, path, st))

    def quiet_files(self) -> bytes:
        """What to write back: the digests of the files found quiet in this scan, looked at or passed over."""
        return array("Q", sorted(self._quiet)).tobytes()

    def get(self, kind: str, path: str, st: os.stat_result) -> Any | None:
        key = (st.st_dev, st.st_ino, kind)
        entry = self._known.get(key)
        if entry and (entry["size"], entry["mtime_ns"], entry["ctime_ns"]) == (
            st.st_size,
            st.st_mtime_ns,
            st.st_ctime_ns,
        ):
            if "data" not in entry:  # as the store keeps it: decoded when first used
                try:
                    entry["data"] = json.loads(entry.pop("raw"))
                except (ValueError, TypeError, KeyError):
                    return None
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
        """What to write back: every entry used or learnt in this scan, stamped as seen now, but for one that
        holds what looks like a key (planted in a header's ``general.name``, a package's summary): no key is
        stored, and a masked copy would be judged otherwise than the file (``xai-…`` is no longer a package
        name), so such a file is read again at every scan; nor one whose size or times SQLite's integers cannot
        hold (a planted file dated before 1678, which tmpfs and btrfs keep): it would stop every scan from
        being recorded."""
        seen = (now or datetime.now(timezone.utc)).isoformat(timespec="seconds")
        return [
            {"device": d, "inode": i, "kind": k, **entry, "seen": seen}
            for (d, i, k), entry in self._touched.items()
            if masked_all(entry["data"]) == entry["data"]
            and all(entry[fact] in _SQLITE_INTEGERS for fact in ("size", "mtime_ns", "ctime_ns"))
        ]
