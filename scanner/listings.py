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
the last two seconds, FAT, FUSE, a network filesystem) is not remembered, nor one that keeps most of its
entries (recalling it would cost what listing it does). Each listing is kept under a digest of the walk's
identity (the root, the scanner's build, what its collectors ask for, the exclusions), the folder's path
and the folders above it a collector wants everything below, with a digest of the four facts it is valid
for. A scan of the whole root writes back what it recalled or listed, the rest dropped; a scan of some
paths keeps the rest too.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Callable, Sequence
from typing import Protocol

ENTRY_SEPARATOR = "/"
"""Between the entries of one folder: the one character besides NUL that no name holds."""
FIELD_SEPARATOR = "\0"
"""Between a folder's digest, the facts its listing is valid for, its count of entries and its entries."""


FEW_KEPT = 4
"""A folder that keeps this many entries or fewer is remembered whatever it holds (``remember``)."""


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
    its folder's descriptor as ``os.DirEntry`` would. A regular file is taken for one only once a look at
    it says so: the walk opens a file listed as regular without more ado, and a device must never be
    opened, whatever a store says."""

    __slots__ = ("_folder", "_inode", "_kind", "_status", "name")

    def __init__(self, name: str, kind: str, inode: int, folder: int) -> None:
        self.name = name
        self._kind = kind
        self._inode = inode
        self._folder = folder
        self._status: os.stat_result | None = None

    def is_dir(self, *, follow_symlinks: bool = True) -> bool:
        if self._kind == "l" and follow_symlinks:
            return self._test(stat.S_ISDIR, follow_symlinks=True)
        return self._kind == "d"

    def is_file(self, *, follow_symlinks: bool = True) -> bool:
        if self._kind == "l" and follow_symlinks:
            return self._test(stat.S_ISREG, follow_symlinks=True)
        return self._kind == "f" and self._test(stat.S_ISREG, follow_symlinks=False)

    def is_symlink(self) -> bool:
        return self._kind == "l"

    def inode(self) -> int:
        return self._inode

    def stat(self, *, follow_symlinks: bool = True) -> os.stat_result:
        if follow_symlinks and self._kind == "l":
            return os.stat(self.name, dir_fd=self._folder)
        if self._status is None:
            self._status = os.stat(self.name, dir_fd=self._folder, follow_symlinks=False)
        return self._status

    def _test(self, kind: Callable[[int], bool], *, follow_symlinks: bool) -> bool:
        try:
            return kind(self.stat(follow_symlinks=follow_symlinks).st_mode)
        except OSError:
            return False


_MAX_DIGITS = 20
"""An entry count or inode of more digits is no count or inode (both fit in 64 bits: 2**64 - 1 has 20)."""


def _kind(entry: Listed) -> str:
    try:
        if entry.is_dir(follow_symlinks=False):
            return "d"
        if entry.is_symlink():
            return "l"
        return "f" if entry.is_file(follow_symlinks=False) else "o"
    except OSError:  # a filesystem whose listing gives no types, and the entry gone since: the walk's view
        return "o"


def _number(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and len(text) <= _MAX_DIGITS else None


_ENTRY = re.compile(rf"([dflo])([0-9]{{1,{_MAX_DIGITS}}}) ([^/]+)")
"""One entry: its type (a folder, a regular file, a symbolic link, anything else: ``_kind``), inode and name."""
_ENTRIES = re.compile(rf"{_ENTRY.pattern}(?:/{_ENTRY.pattern})*")
"""A folder's entries, read and checked in one pass of the expression engine (a tenth of a re-scan)."""


ListingKey = tuple[str, str]
"""Where a folder's listing is kept (a digest of the walk's identity, the folder's path and the folders
above it) and the facts it is valid for (device, inode, mtime, ctime)."""


class Listings:
    """The listings an earlier scan remembered (``stored``), and those this scan recalls or lists."""

    def __init__(self, stored: bytes = b"") -> None:
        self._stored = stored
        self._known: dict[str, tuple[str, str, str]] | None = None
        self._kept: dict[str, tuple[str, str, str]] = {}
        self._identity = hashlib.blake2b(digest_size=8)

    def start(self, identity: str) -> None:
        """What the walk's choices of entries depend on besides a folder's path, the names above it and its
        entries: a listing kept under another identity (another ``--root``, build, ``--exclude``) is never
        recalled."""
        self._identity = hashlib.blake2b(identity.encode("utf-8", "surrogateescape"), digest_size=8)

    def key(self, path: str, above: Sequence[str], st: os.stat_result) -> ListingKey:
        """Where a listing of the folder at ``path``, reached below folders named ``above`` (those some
        collector wants every file below), is kept, and the facts of ``st`` it is valid for: a folder's
        new listing takes the place of its old one."""
        where = self._identity.copy()
        where.update(f"{path}\0{ENTRY_SEPARATOR.join(above)}".encode("utf-8", "surrogateescape"))
        facts = where.copy()  # a digest too: 16 characters instead of some 50, a fifth of what is stored
        facts.update(f"\0{st.st_dev} {st.st_ino} {st.st_mtime_ns} {st.st_ctime_ns}".encode())
        return where.hexdigest(), facts.hexdigest()

    def recall(self, key: ListingKey, folder: int) -> tuple[list[Remembered], int] | None:
        """The entries remembered under ``key``, to be looked at below the descriptor ``folder``, and how
        many entries the folder holds; ``None`` when there are none for these facts, or they are not well
        formed (a store written by hand, or cut short): the folder is then listed."""
        if self._known is None:
            self._known = _parsed(self._stored)
            self._stored = b""
        where, facts = key
        found = self._known.get(where)
        count = _number(found[1]) if found is not None and found[0] == facts else None
        if found is None or count is None:
            return None
        kept = found[2]
        if not kept:  # most folders: nothing in them any collector wants
            self._kept[where] = found
            return [], count
        if not _ENTRIES.fullmatch(kept):
            return None
        parsed = _ENTRY.findall(kept)
        names = [name for _, _, name in parsed]
        # a name that is no entry's ("..", none) or one twice would lead the walk up, in place or round
        if len(parsed) > count or "." in names or ".." in names or len(set(names)) < len(names):
            return None
        entries = [Remembered(name, kind, int(inode), folder) for kind, inode, name in parsed]
        self._kept[where] = found
        return entries, count

    def remember(self, key: ListingKey, count: int, entries: Sequence[Listed]) -> None:
        """Keep what the walk did not pass over in a folder it listed, and how many entries it had; not when
        it kept most of them (a folder of code, a ``site-packages``): recalling costs about what listing
        does then, and a source tree's every file name would be stored."""
        if len(entries) > max(count // 2, FEW_KEPT):
            return
        kept = ENTRY_SEPARATOR.join(f"{_kind(e)}{e.inode()} {e.name}" for e in entries)
        self._kept[key[0]] = (key[1], str(count), kept)

    def done(self, whole: bool) -> None:
        """The walk is over: what it recalled or listed is kept as it will be written (a whole machine's
        listings held as strings were 10 MiB of the scan's peak memory). ``whole``: it walked its whole
        root, so that the listings it did not recall are of folders gone, of an earlier build or of another
        root, and are dropped; a scan of some paths keeps them for the next whole scan (a folder it listed
        again has its new listing in place of the old)."""
        if not whole:
            self._kept = {**(self._known if self._known is not None else _parsed(self._stored)), **self._kept}
        fields = (field for where, found in self._kept.items() for field in (where, *found))
        self._stored = FIELD_SEPARATOR.join(fields).encode("utf-8", "surrogateescape")
        self._known, self._kept = {}, {}

    def stored(self) -> bytes:
        """What to write back (after ``done``): the listings this scan recalled or made."""
        return self._stored


def _parsed(stored: bytes) -> dict[str, tuple[str, str, str]]:
    """Digest -> (facts, count, entries), as stored; checked when recalled."""
    fields: Sequence[str] = stored.decode("utf-8", "surrogateescape").split(FIELD_SEPARATOR) if stored else []
    if len(fields) % 4:
        return {}
    return dict(zip(fields[0::4], zip(fields[1::4], fields[2::4], fields[3::4], strict=True), strict=True))
