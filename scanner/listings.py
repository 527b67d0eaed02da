"""Folder listings remembered from the last scan: a folder unchanged since is not listed again.

Half of a whole machine's re-scan went on listing folders whose entries had not changed since the night
before, and on deciding, for each of some 400,000 entries, that no collector wants it. A folder's
modification time changes whenever an entry is added to it, removed or renamed, and its change time with
any change to the folder itself (the kernel sets ctime; a tool can set mtime back, not ctime): while a
folder's device, inode, mtime and ctime are as they were, so are its entries' names, types and inodes.

What is kept of a listing is what the walk needs of it: how many entries it had, and the entries it did
not pass over at once by their names (folders, excluded names, files some collector wants), each with its
type and inode. Those files are still measured and read when handed over: a file's contents change without
its folder changing. A folder whose change might not show in its times (``RootFS.change_shows``: changed in
the last two seconds, FAT, FUSE) is not remembered. Each listing is kept under a digest of the walk's
identity (the scanner's build, what its collectors ask for, the exclusions), the folder's path and its four
facts; what a scan recalled or listed is written back with it, the rest dropped.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

ENTRY_SEPARATOR = "/"
"""Between the entries of one folder: the one character besides NUL that no name holds."""
FIELD_SEPARATOR = "\0"
"""Between a folder's digest, its count of entries and its entries."""


class Listed(Protocol):
    """What the walk asks of an entry of a listing: ``os.DirEntry``'s methods, or a remembered entry's."""

    @property
    def name(self) -> str: ...

    def is_dir(self, *, follow_symlinks: bool = True) -> bool: ...

    def is_file(self, *, follow_symlinks: bool = True) -> bool: ...

    def is_symlink(self) -> bool: ...

    def inode(self) -> int: ...

    def stat(self, *, follow_symlinks: bool = True) -> os.stat_result: ...


class Remembered:
    """An entry of a remembered listing: its name, type and inode as listed, anything else looked up below
    its folder's descriptor as ``os.DirEntry`` would."""

    __slots__ = ("_folder", "_inode", "_kind", "name")

    def __init__(self, name: str, kind: str, inode: int, folder: int) -> None:
        self.name = name
        self._kind = kind
        self._inode = inode
        self._folder = folder

    def is_dir(self, *, follow_symlinks: bool = True) -> bool:
        if self._kind == "l" and follow_symlinks:
            return self._test(stat.S_ISDIR)
        return self._kind == "d"

    def is_file(self, *, follow_symlinks: bool = True) -> bool:
        if self._kind == "l" and follow_symlinks:
            return self._test(stat.S_ISREG)
        return self._kind == "f"

    def is_symlink(self) -> bool:
        return self._kind == "l"

    def inode(self) -> int:
        return self._inode

    def stat(self, *, follow_symlinks: bool = True) -> os.stat_result:
        return os.stat(self.name, dir_fd=self._folder, follow_symlinks=follow_symlinks)

    def _test(self, kind: Callable[[int], bool]) -> bool:
        try:
            return kind(self.stat().st_mode)
        except OSError:
            return False


_KINDS = ("d", "f", "l", "o")
"""A folder, a regular file, a symbolic link, anything else."""


def _kind(entry: Listed) -> str:
    if entry.is_dir(follow_symlinks=False):
        return "d"
    if entry.is_symlink():
        return "l"
    return "f" if entry.is_file(follow_symlinks=False) else "o"


class Listings:
    """The listings an earlier scan remembered (``stored``), and those this scan recalls or lists."""

    def __init__(self, stored: bytes = b"") -> None:
        self._stored = stored
        self._known: dict[str, tuple[str, str]] | None = None
        self._kept: dict[str, tuple[str, str]] = {}
        self._identity = hashlib.blake2b(digest_size=8)
        self.recalled = 0

    def start(self, identity: str) -> None:
        """What the walk's decisions depend on besides a folder's entries: a listing kept under another is
        never recalled."""
        self._identity = hashlib.blake2b(identity.encode("utf-8", "surrogateescape"), digest_size=8)

    def key(self, path: str, st: os.stat_result) -> str:
        facts = self._identity.copy()
        facts.update(
            f"{path}\0{st.st_dev} {st.st_ino} {st.st_mtime_ns} {st.st_ctime_ns}".encode("utf-8", "surrogateescape")
        )
        return facts.hexdigest()

    def recall(self, key: str) -> tuple[int, str] | None:
        """How many entries the folder remembered under ``key`` holds, and those kept of them (``entries``
        reads them), or ``None``."""
        if self._known is None:
            self._known = _parsed(self._stored)
            self._stored = b""
        found = self._known.get(key)
        if found is None or not found[0].isdigit():
            return None
        self._kept[key] = found
        self.recalled += 1
        return int(found[0]), found[1]

    @staticmethod
    def entries(kept: str, folder: int) -> list[Remembered] | None:
        """The entries ``recall`` gave, to be looked at below the descriptor ``folder``; ``None`` when they
        are not well formed (a store written by hand, or cut short): the folder is then listed."""
        found: list[Remembered] = []
        for item in kept.split(ENTRY_SEPARATOR) if kept else ():
            inode, space, name = item[1:].partition(" ")
            # a name that is not an entry's (".." or none) would lead the walk back up or in place
            if item[:1] not in _KINDS or not inode.isdigit() or not space or name in ("", ".", ".."):
                return None
            found.append(Remembered(name, item[0], int(inode), folder))
        return found

    def remember(self, key: str, count: int, entries: Iterable[Listed]) -> None:
        self._kept[key] = (str(count), ENTRY_SEPARATOR.join(f"{_kind(e)}{e.inode()} {e.name}" for e in entries))

    def done(self) -> None:
        """The walk is over: what it recalled or listed is kept as it will be written (a whole machine's
        listings held as strings were 10 MiB of the scan's peak memory), the rest dropped."""
        fields = (field for key, (count, entries) in self._kept.items() for field in (key, count, entries))
        self._stored = FIELD_SEPARATOR.join(fields).encode("utf-8", "surrogateescape")
        self._known, self._kept = {}, {}

    def stored(self) -> bytes:
        """What to write back (after ``done``): the listings this scan recalled or made."""
        return self._stored


def unchanged(before: os.stat_result, now: os.stat_result) -> bool:
    """The same folder, with no entry added, removed or renamed since ``before`` was taken."""
    return (before.st_dev, before.st_ino, before.st_mtime_ns, before.st_ctime_ns) == (
        now.st_dev,
        now.st_ino,
        now.st_mtime_ns,
        now.st_ctime_ns,
    )


def _parsed(stored: bytes) -> dict[str, tuple[str, str]]:
    """Digest -> (count, entries), as stored; checked when recalled."""
    fields: Sequence[str] = stored.decode("utf-8", "surrogateescape").split(FIELD_SEPARATOR) if stored else []
    if len(fields) % 3:
        return {}
    return dict(zip(fields[0::3], zip(fields[1::3], fields[2::3], strict=True), strict=True))
