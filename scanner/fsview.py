"""The scanned machine's filesystem, seen from its root, and the one way anything in it is opened.

``--root DIR`` treats DIR as the machine's ``/``: every path shown to users is the path inside
DIR, and symlinks are resolved as they would be on that machine (an absolute link target means
DIR/target, ``..`` stops at DIR), so a link can never lead a scan out of the tree.

Every file and folder is opened by ``RootFS`` beneath the root with no symlink on any component
(``openat2`` with ``RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS`` where the kernel has it, folder descriptors
opened one component at a time with ``O_NOFOLLOW`` where it does not): links are followed only by
``resolve``, inside the root, so a folder swapped for a link between the walk and a read fails the
read instead of leading it elsewhere. A link a user owns is followed only to a file that user may
read, so root never reads for a user what the user could not. Reads are bounded, stop at the size the
file had when opened, and refuse anything that is not a regular file on a real filesystem: a FIFO,
socket or device is never opened, and nothing is read from ``/proc``, ``/sys`` and their kind.
"""

from __future__ import annotations

import errno
import functools
import io
import os
import re
import stat
import sys
import time
import weakref
from collections.abc import Callable
from typing import Any, BinaryIO

from scanner.beneath import NOFOLLOW, PATH_FLAGS, open_beneath
from scanner.mounts import NETWORK_FSTYPES, PSEUDO_FSTYPES, read_mount_table
from scanner.placeholders import placeholder_reason
from scanner.platforms import windows_paths as native_windows_paths
from scanner.printable import encodable
from scanner.vocabulary import SkipKind

_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)  # a FIFO swapped in after lstat must not block us
    | getattr(os, "O_NOFOLLOW", 0)  # nor a symlink swapped in for the last component
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)
DIR_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
"""A folder to list: never through a link."""
BY_DESCRIPTOR = {os.open, os.stat, os.readlink} <= os.supports_dir_fd and hasattr(os, "pread")
"""Files and folders are opened below folder descriptors (every POSIX system); where they cannot be (Windows),
by path with a final ``O_NOFOLLOW`` check, as the only way there is."""
LISTED_OPEN = BY_DESCRIPTOR and sys.platform.startswith("linux")
"""A file the walk just listed as regular is opened below its folder's descriptor (``RootFS.listed``)."""
SETTLING_NS = 2_000_000_000
"""A file changed this recently may change again within the same tick of its filesystem's clock (ext3 and
HFS+ count whole seconds) with its size and times unchanged: nothing learnt from it is kept."""
NO_CHANGE_TIME = frozenset({"vfat", "msdos", "exfat", "fuseblk", "iso9660", "udf", "squashfs", "erofs", "cramfs"})
"""Filesystems whose change time is not the kernel's record of the last change (FAT and exFAT keep none and
give the modification time, which anyone can set; images give what was written in them)."""
_MAX_SYMLINKS = 40
_DRIVE = re.compile(r"^[A-Za-z]:(?:/|$)")


class FileRefused(Exception):
    """A path we will not read, with the reason in plain words."""


class SpecialFile(FileRefused):
    """A FIFO, socket or device, or a link to nothing: never opened, and it holds no text at rest (nothing
    for a scan to miss in it the way a file could hide a setting)."""


class CloudPlaceholder(FileRefused):
    """A file whose content is in the cloud (OneDrive, iCloud Drive): opening it would download it."""


class NotReadThrough(SpecialFile):
    """A file of a pseudo filesystem (``/proc``), a user's link to a file that user may not read, or a link
    where none is followed: never read, and not a gap, since nothing there is the user's to use (a link's
    target is read where it lies)."""


def _open_beneath(dir_fd: int, parts: list[str], flags: int) -> int:
    """Open ``parts`` below ``dir_fd`` with no symlink on any component (``ELOOP`` or ``ENOTDIR`` when one is a link)."""
    if "" in parts or "." in parts or ".." in parts:
        raise FileRefused("not a plain path")
    return open_beneath(dir_fd, parts, flags)


NULL_DEVICE = "/dev/null"
"""What a link to it holds is nothing: systemd masks a unit that way, people point ``~/.bash_history`` at it."""


def describe_os_error(error: OSError) -> str:
    """``permission denied`` rather than ``[Errno 13] Permission denied: '/x'``."""
    if error.errno is not None and error.errno in errno.errorcode:
        return os.strerror(error.errno).lower()
    return encodable(str(error).lower())


def describe_refusal(error: OSError | FileRefused) -> str:
    """The reason a read failed, for a ``Skipped`` record."""
    return describe_os_error(error) if isinstance(error, OSError) else str(error)


def refusal_kind(error: OSError | FileRefused) -> SkipKind:
    """What was not read through is a chosen skip; anything else that could not be read is a gap."""
    if isinstance(error, CloudPlaceholder):
        return SkipKind.PARTIAL  # not on this machine: what it holds is not in use here until fetched
    return SkipKind.SPECIAL if isinstance(error, NotReadThrough) else SkipKind.UNREADABLE


class RootFS:
    """Maps between paths on disk and paths as seen from inside the scanned root."""

    def __init__(self, root: str | None = None, windows_paths: bool | None = None) -> None:
        self.root = os.path.realpath(root) if root else os.sep
        self.is_live = root is None
        """True when scanning the running machine itself rather than a tree standing in for it."""
        self.windows_paths = native_windows_paths() if windows_paths is None else windows_paths
        """Paths on disk are Windows paths (``C:\\Users\\alice``): seen from inside they are written with ``/``
        and the drive as their first folder (``/C:/Users/alice``), the shape a Windows disk mounted
        elsewhere shows, so that every place is matched one way (``scanner.syspaths``)."""
        self.links_resolved = self.root == os.sep and not self.windows_paths
        """The kernel resolves a link below the root as the scan does (a root of ``/``, POSIX paths): what a
        ``stat`` through a link finds is what the scan would open, so it may stand in for the open."""
        self._euid = os.geteuid() if hasattr(os, "geteuid") else 0
        self._fstypes: dict[int, str] | None = None
        self._pseudo: dict[int, str] | None = None
        self._root = -1
        self._listed: tuple[str, int, int, int] | None = None
        """``(path, folder descriptor, name offset, inode)`` of the file the walk is handing over (``listed``)."""
        self._linked: tuple[str, Callable[[], os.stat_result]] | None = None
        """``(path, status of what it points to)`` of the link the walk is handing over (``listing_link``)."""
        self._listed_status: tuple[os.stat_result | None] | None = None
        """What ``listed_status`` found for it, once asked: every collector it is handed to may ask."""

    def listing(
        self, real_path: str, name_at: int, folder_fd: int, inode: int, status: os.stat_result | None = None
    ) -> None:
        """The walk is handing over a file its folder listing showed as regular (``real_path[name_at:]`` in
        the open folder ``folder_fd``, inode ``inode``), until ``listing_done``: opening it meanwhile is
        one ``openat`` below that folder and an ``fstat``, with no path walked again from the root and no
        ``stat`` first. Only on Linux, where no cloud placeholder must be recognised before it is opened;
        a file that is not the one listed any more (a link, another inode) is opened the careful way.
        ``status``: its ``lstat`` below that folder, when the walk made one already (``listed_status``)."""
        if LISTED_OPEN:
            self._listed = (real_path, folder_fd, name_at, inode)
            self._listed_status = None if status is None else (self._as_listed(status, inode),)

    def listing_link(self, real_path: str, target_status: Callable[[], os.stat_result]) -> None:
        """The walk is handing over a link, until ``listing_done``. Below a root of ``/`` the kernel resolves
        a link as the scan does, so ``listed_status`` answers with the status of what it points to
        (``target_status``: the listing's own, which measured it already); below any other root, ``None``."""
        if self.links_resolved:
            self._linked = (real_path, target_status)
            self._listed_status = None

    def listing_done(self) -> None:
        self._listed = None
        self._linked = None
        self._listed_status = None

    def listed_status(self, real_path: str) -> os.stat_result | None:
        """The status of the file the walk is handing over (``listing``), without opening it: one
        ``fstatat`` below its open folder, never through a link, made once whichever collectors ask (the
        text scan and the model sniffer both do for a file without an extension); ``None`` for any other
        path, or when it is not the regular file listed any more. For a link (``listing_link``), the status
        of the regular file it points to. What it says is only as good as any ``stat``: whoever opens the
        file checks again what they opened."""
        listed = self._listed
        if listed is None or listed[0] != real_path:
            return self._link_status(real_path)
        if self._listed_status is None:
            _, folder_fd, name_at, inode = listed
            try:
                st: os.stat_result | None = os.stat(real_path[name_at:], dir_fd=folder_fd, follow_symlinks=False)
            except OSError:
                st = None
            self._listed_status = (self._as_listed(st, inode),)
        return self._listed_status[0]

    @staticmethod
    def _as_listed(st: os.stat_result | None, inode: int) -> os.stat_result | None:
        return st if st is not None and stat.S_ISREG(st.st_mode) and st.st_ino == inode else None

    def _link_status(self, real_path: str) -> os.stat_result | None:
        linked = self._linked
        if linked is None or linked[0] != real_path:
            return None
        if self._listed_status is None:
            try:
                st: os.stat_result | None = linked[1]()
            except OSError:
                st = None
            self._listed_status = (st if st is not None and stat.S_ISREG(st.st_mode) else None,)
        return self._listed_status[0]

    def inside(self, real_path: str) -> str:
        """The path as seen from inside the root, raw (for matching, not for showing)."""
        rest = real_path if self.root == os.sep else real_path[len(self.root) :]
        if self.windows_paths:
            rest = "/" + rest.replace("\\", "/").strip("/")
            return rest if rest == "/" else rest.rstrip("/")
        return rest if rest else os.sep

    def to_display(self, real_path: str) -> str:
        """The path as seen from inside the root (``/home/alice``), printable, for reports."""
        return encodable(self.inside(real_path))

    def to_real(self, display_path: str) -> str:
        """The path on disk for a path seen from inside the root."""
        if self.windows_paths:
            native = display_path.replace("/", "\\").lstrip("\\")
            if self.root == os.sep:  # the drive is the first folder: /C:/Users -> C:\\Users, /C: -> C:\\
                return native + "\\" if native.endswith(":") else native
            return self.root + ("\\" + native if native else "")
        if self.root == os.sep:
            return display_path
        return self.root + (display_path if display_path != os.sep else "")

    def resolve(self, real_path: str) -> str:
        """Resolve symlinks like the scanned machine would, never leaving the root."""
        return self._resolve(real_path)[0]

    def _resolve(self, real_path: str) -> tuple[str, dict[int, int]]:
        """The resolved path, and the owners (uid -> gid) of the links followed other than root and us."""
        parts = self.inside(real_path).split("/")
        resolved: list[str] = []
        pending = [p for p in parts if p]
        owners: dict[int, int] = {}
        links = 0
        while pending:
            part = pending.pop(0)
            if part == ".":
                continue
            if part == "..":
                if resolved:
                    resolved.pop()
                continue
            candidate = self.to_real("/" + "/".join([*resolved, part]))
            try:
                st = os.lstat(candidate)
            except FileNotFoundError:
                resolved.append(part)
                continue
            if not stat.S_ISLNK(st.st_mode):
                resolved.append(part)
                continue
            links += 1
            if links > _MAX_SYMLINKS:
                raise FileRefused("too many levels of symbolic links")
            if st.st_uid not in (0, self._euid):
                owners.setdefault(st.st_uid, st.st_gid)
            target = os.readlink(candidate)
            if self.windows_paths:
                target = target.removeprefix("\\\\?\\").replace("\\", "/")  # C:\\x, \\x or \\\\?\\C:\\x
                target = "/" + target if _DRIVE.match(target) else target
            target_parts = [p for p in target.split("/") if p]
            if target.startswith("/"):
                resolved = []
            pending = target_parts + pending
        return self.to_real("/" + "/".join(resolved)), owners

    def _parts(self, real_path: str) -> list[str]:
        return [p for p in self.inside(real_path).split("/") if p]

    def open_dir(self, real_path: str) -> int:
        """A descriptor to list the folder at ``real_path`` (beneath the root, no link on the way); the caller closes it."""
        parts = self._parts(real_path)
        if not parts:
            return os.open(self.root, DIR_OPEN_FLAGS)
        return _open_beneath(self._root_fd(), parts, DIR_OPEN_FLAGS)

    def _root_fd(self) -> int:
        """The root, opened once (every open starts from it) and closed with this object."""
        if self._root < 0:
            self._root = os.open(self.root, PATH_FLAGS)
            weakref.finalize(self, os.close, self._root)
        return self._root

    def open_regular(self, real_path: str) -> BinaryIO:
        """Open a regular file for bounded reading and seeking (format parsers read headers with it).

        Links on the way are resolved inside the root (a user's link only to what that user may read).
        Raises ``FileRefused`` for anything but a regular file of a real filesystem (a FIFO, socket or
        device is never opened) and ``OSError`` when it cannot be read.
        """
        try:
            return self._open_file(real_path)
        except _ThroughLink:
            pass
        except OSError as error:
            if error.errno not in (errno.ELOOP, errno.ENOTDIR):
                raise
        resolved, owners = self._resolve(real_path)
        for uid, gid in owners.items():
            if not self._may_read(uid, gid, resolved):
                raise NotReadThrough(f"a link of user {uid} to a file that user may not read")
        try:
            return self._open_file(resolved)
        except _ThroughLink:
            raise FileRefused("a link appeared while the file was being opened") from None
        except FileNotFoundError:
            if not os.path.islink(real_path):
                raise  # a file missing below a linked folder
            raise SpecialFile("a link to nothing") from None  # a build's stale ``result`` link

    def open_unlinked(self, real_path: str) -> BinaryIO:
        """Like ``open_regular``, but never through a link on any component: ``NotReadThrough`` for a link."""
        try:
            return self._open_file(real_path)
        except _ThroughLink:
            raise NotReadThrough("a symbolic link (not followed)") from None
        except OSError as error:
            if error.errno in (errno.ELOOP, errno.ENOTDIR):
                raise NotReadThrough("a symbolic link on the way (not followed)") from None
            raise

    def _open_listed(self, listed: tuple[str, int, int, int]) -> BinaryIO | None:
        """The file the walk is handing over, opened below its listed folder; ``None`` when it is not the
        regular file listed any more. The listing said regular, and nobody but root can put a device in
        its place: a FIFO swapped in opens without blocking (``O_NONBLOCK``) and is refused by ``fstat``."""
        real_path, folder_fd, name_at, inode = listed
        try:
            fd = os.open(real_path[name_at:], _OPEN_FLAGS, dir_fd=folder_fd)
        except OSError as error:
            if error.errno in (errno.ELOOP, errno.ENOENT):
                return None  # became a link, or went: the careful way says which
            raise
        return self._opened(fd, inode)

    def _opened(self, fd: int, inode: int, device: int | None = None) -> BinaryIO | None:
        """``fd`` as a reader bounded by its size, when it is still the regular file expected (``None``, and
        ``fd`` closed, when it is not); ``NotReadThrough`` for a file of a pseudo filesystem."""
        try:
            opened = os.fstat(fd)
            if not stat.S_ISREG(opened.st_mode) or opened.st_ino != inode or device not in (None, opened.st_dev):
                os.close(fd)
                return None
            pseudo = self._pseudo_filesystems().get(opened.st_dev)
            if pseudo is not None:
                raise NotReadThrough(f"a file of a pseudo filesystem ({pseudo})")
        except BaseException:
            os.close(fd)
            raise
        return _SizedFile(fd, opened.st_size)

    def _open_file(self, real_path: str) -> BinaryIO:
        """Open with no link on any component; ``_ThroughLink`` when the last one is a link."""
        listed = self._listed
        if listed is not None and listed[0] == real_path:
            handle = self._open_listed(listed)
            if handle is not None:
                return handle
        parts = self._parts(real_path)
        if not parts:
            raise SpecialFile("not a regular file (directory)")
        if not BY_DESCRIPTOR:
            return self._open_by_path(real_path)
        root_fd = self._root_fd()
        dir_fd = _open_beneath(root_fd, parts[:-1], PATH_FLAGS) if len(parts) > 1 else root_fd
        name = parts[-1]
        try:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode):
                if os.readlink(name, dir_fd=dir_fd) == NULL_DEVICE:
                    return io.BytesIO(b"")  # a masked unit: empty by design, not a gap
                raise _ThroughLink
            if not stat.S_ISREG(st.st_mode):
                raise SpecialFile(f"not a regular file ({_file_type(st.st_mode)})")
            _refuse_placeholder(st)
            fd = os.open(name, _OPEN_FLAGS, dir_fd=dir_fd)
        finally:
            if dir_fd != root_fd:
                os.close(dir_fd)
        handle = self._opened(fd, st.st_ino, st.st_dev)
        if handle is None:
            raise FileRefused("file changed while being opened")
        return handle

    def _open_by_path(self, real_path: str) -> BinaryIO:
        folder = os.path.dirname(real_path)
        if self._resolve(folder)[0] != folder:  # a link on the way: only ``resolve`` may follow it
            raise _ThroughLink
        st = os.lstat(real_path)
        if stat.S_ISLNK(st.st_mode):
            if os.readlink(real_path) == NULL_DEVICE:
                return io.BytesIO(b"")
            raise _ThroughLink
        if not stat.S_ISREG(st.st_mode):
            raise SpecialFile(f"not a regular file ({_file_type(st.st_mode)})")
        _refuse_placeholder(st)
        fd = os.open(real_path, _OPEN_FLAGS)
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode):
            os.close(fd)
            raise FileRefused("file changed while being opened")
        return _SizedFile(fd, opened.st_size)

    def _mounted(self) -> dict[int, str]:
        """Device number -> type of every mounted filesystem the mount table names by its device."""
        if self._fstypes is None:
            self._fstypes = {}
            for mount in read_mount_table():
                major, _, minor = mount.device.partition(":")
                if major.isdigit() and minor.isdigit():
                    self._fstypes[os.makedev(int(major), int(minor))] = mount.fstype
        return self._fstypes

    def _pseudo_filesystems(self) -> dict[int, str]:
        """Device number -> type of every mounted pseudo filesystem (``/proc``, ``/sys``...): never read."""
        if self._pseudo is None:
            self._pseudo = {device: kind for device, kind in self._mounted().items() if kind in PSEUDO_FSTYPES}
        return self._pseudo

    def change_shows(self, st: os.stat_result) -> bool:
        """Whether any later change to this file will show in its status (size, times), so that what was
        learnt from it may be kept while they are unchanged: not for a file changed in the last
        ``SETTLING_NS`` (a same-size rewrite within one tick of the clock keeps its times), nor on a
        filesystem whose change time is not the kernel's own record (``NO_CHANGE_TIME``, FUSE), nor on a
        network filesystem (walked only when asked), whose client shows times it cached a while ago."""
        if time.time_ns() - max(st.st_mtime_ns, st.st_ctime_ns) < SETTLING_NS:
            return False
        kind = self._mounted().get(st.st_dev, "")
        return kind not in NO_CHANGE_TIME and kind not in NETWORK_FSTYPES and not kind.startswith("fuse")

    def _may_read(self, uid: int, gid: int, real_path: str) -> bool:
        """Could this user read the file: search on every folder from the root down, read on the file (mode
        bits only: an ACL granting more is not honoured, and the link is refused)."""
        groups = _groups(uid, gid) if self.is_live else frozenset({gid})
        parts = self._parts(real_path)
        probe = self.root
        try:
            for i in range(len(parts) + 1):
                st = os.stat(probe, follow_symlinks=False)
                if not _permits(st, uid, groups, 4 if i == len(parts) else 1):
                    return False
                if i < len(parts):
                    probe = os.path.join(probe, parts[i])
        except OSError:
            return False
        return True

    def read_bytes(self, real_path: str, cap: int) -> tuple[bytes, bool]:
        """Read at most ``cap`` bytes of a regular file; returns ``(data, truncated)``.

        Raises ``FileRefused`` for anything but a regular file and ``OSError`` when it cannot be read.
        """
        data, truncated, _ = self.read_with_status(real_path, cap)
        return data, truncated

    def read_with_status(self, real_path: str, cap: int) -> tuple[bytes, bool, os.stat_result | None]:
        """``read_bytes``, and the status of the very file read (``fstat`` of its handle; ``None`` for a unit
        masked by a link to ``/dev/null``, read as empty): what facts kept for the next scan are keyed by,
        never a ``stat`` of its path taken apart from the read."""
        with self.open_regular(real_path) as handle:
            status = None if isinstance(handle, io.BytesIO) else os.fstat(handle.fileno())
            chunks: list[bytes] = []
            remaining = cap + 1
            while remaining > 0:
                chunk = handle.read(min(remaining, 1 << 16))
                if not chunk:
                    break
                chunks.append(chunk)
                remaining -= len(chunk)
        data = b"".join(chunks)
        return data[:cap], len(data) > cap, status

    def read_text(self, real_path: str, cap: int) -> tuple[str, bool]:
        """Like ``read_bytes``, decoded as UTF-8 with undecodable bytes replaced."""
        data, truncated = self.read_bytes(real_path, cap)
        return data.decode("utf-8", errors="replace"), truncated

    def exists(self, real_path: str) -> bool:
        """True when the path exists (without following a final symlink)."""
        try:
            os.lstat(real_path)
        except OSError:
            return False
        return True


class _ThroughLink(Exception):
    """The last component is a link: only ``resolve`` may follow it."""


class _SizedFile(io.FileIO):
    """A regular file read no further than the size it had when opened: a file that grows while it is read
    cannot keep a reader (or ``--hash``) going."""

    def __init__(self, fd: int, size: int) -> None:
        super().__init__(fd, "rb", closefd=True)
        self.size = size
        self._pos = 0

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._pos, os.SEEK_END: self.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def read(self, size: int | None = -1) -> bytes:
        remaining = max(0, self.size - self._pos)
        n = remaining if size is None or size < 0 else min(size, remaining)
        if n == 0:
            return b""
        if BY_DESCRIPTOR:
            data = os.pread(self.fileno(), n, self._pos)
        else:
            os.lseek(self.fileno(), self._pos, os.SEEK_SET)
            data = os.read(self.fileno(), n)
        self._pos += len(data)
        return data

    def readall(self) -> bytes:
        return self.read()

    def readinto(self, buffer: Any) -> int:  # any writable buffer
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)


def _permits(st: os.stat_result, uid: int, groups: frozenset[int], want: int) -> bool:
    """Do the mode bits grant ``want`` (4 read, 1 search) to this user?"""
    if st.st_uid == uid:
        return bool((st.st_mode >> 6) & want)
    if st.st_gid in groups:
        return bool((st.st_mode >> 3) & want)
    return bool(st.st_mode & want)


@functools.cache
def _groups(uid: int, gid: int) -> frozenset[int]:
    """The groups of a user of this machine, and the group of the link it made."""
    try:
        import pwd  # POSIX only: a Windows link has no owner to ask about
    except ImportError:
        return frozenset({gid})
    try:
        entry = pwd.getpwuid(uid)
    except KeyError:
        return frozenset({gid})
    return frozenset({gid, *os.getgrouplist(entry.pw_name, entry.pw_gid)})


def _refuse_placeholder(st: os.stat_result) -> None:
    reason = placeholder_reason(st)
    if reason is not None:
        raise CloudPlaceholder(reason)


def _file_type(mode: int) -> str:
    for check, name in (
        (stat.S_ISDIR, "directory"),
        (stat.S_ISFIFO, "FIFO"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
    ):
        if check(mode):
            return name
    return "special file"
