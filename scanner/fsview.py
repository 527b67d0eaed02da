"""The scanned machine's filesystem, seen from its root.

``--root DIR`` treats DIR as the machine's ``/``: every path shown to users is the path inside
DIR, and symlinks are resolved as they would be on that machine (an absolute link target means
DIR/target, ``..`` stops at DIR), so a link can never lead a scan out of the tree. Reads are
bounded and refuse anything that is not a regular file: a FIFO, socket or device is never opened.
"""

from __future__ import annotations

import errno
import io
import os
import stat
from typing import BinaryIO

_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)  # a FIFO swapped in after lstat must not block us
    | getattr(os, "O_NOFOLLOW", 0)  # nor a symlink swapped in for the last component
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)
_MAX_SYMLINKS = 40


class FileRefused(Exception):
    """A path we will not read, with the reason in plain words."""


class SpecialFile(FileRefused):
    """A FIFO, socket or device, or a link to nothing: never opened, and it holds no text at rest (nothing
    for a scan to miss in it the way a file could hide a setting)."""


NULL_DEVICE = "/dev/null"
"""What a link to it holds is nothing: systemd masks a unit that way, people point ``~/.bash_history`` at it."""


def describe_os_error(error: OSError) -> str:
    """``permission denied`` rather than ``[Errno 13] Permission denied: '/x'``."""
    if error.errno is not None and error.errno in errno.errorcode:
        return os.strerror(error.errno).lower()
    return printable(str(error).lower())


def describe_refusal(error: OSError | FileRefused) -> str:
    """The reason a read failed, for a ``Skipped`` record."""
    return describe_os_error(error) if isinstance(error, OSError) else str(error)


def printable(text: str) -> str:
    """Text safe to put in a report: undecodable file-name bytes become ``\\xNN`` escapes.

    Python keeps such bytes as lone surrogates (U+DC80-U+DCFF) in ``str`` paths, and JSON can carry
    any lone surrogate (``"\\ud800"``); neither can be written as UTF-8.
    """
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "".join(_escape_surrogate(ch) for ch in text)
    return text


def _escape_surrogate(ch: str) -> str:
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code - 0xDC00:02x}"
    return f"\\u{code:04x}" if 0xD800 <= code <= 0xDFFF else ch


class RootFS:
    """Maps between paths on disk and paths as seen from inside the scanned root."""

    def __init__(self, root: str | None = None) -> None:
        self.root = os.path.realpath(root) if root else os.sep
        self.is_live = root is None
        """True when scanning the running machine itself rather than a tree standing in for it."""

    def inside(self, real_path: str) -> str:
        """The path as seen from inside the root, raw (for matching, not for showing)."""
        if self.root == os.sep:
            return real_path
        rest = real_path[len(self.root) :]
        return rest if rest else os.sep

    def to_display(self, real_path: str) -> str:
        """The path as seen from inside the root (``/home/alice``), printable, for reports."""
        return printable(self.inside(real_path))

    def to_real(self, display_path: str) -> str:
        """The path on disk for a path seen from inside the root."""
        if self.root == os.sep:
            return display_path
        return self.root + (display_path if display_path != os.sep else "")

    def resolve(self, real_path: str) -> str:
        """Resolve symlinks like the scanned machine would, never leaving the root."""
        parts = self.inside(real_path).split(os.sep)
        resolved: list[str] = []
        pending = [p for p in parts if p]
        links = 0
        while pending:
            part = pending.pop(0)
            if part == ".":
                continue
            if part == "..":
                if resolved:
                    resolved.pop()
                continue
            candidate = self.to_real(os.sep + os.sep.join([*resolved, part]))
            try:
                is_link = stat.S_ISLNK(os.lstat(candidate).st_mode)
            except FileNotFoundError:
                is_link = False
            if not is_link:
                resolved.append(part)
                continue
            links += 1
            if links > _MAX_SYMLINKS:
                raise FileRefused("too many levels of symbolic links")
            target = os.readlink(candidate)
            target_parts = [p for p in target.split(os.sep) if p]
            if target.startswith(os.sep):
                resolved = []
            pending = target_parts + pending
        return self.to_real(os.sep + os.sep.join(resolved))

    def child(self, base: str, *parts: str) -> str:
        """``base/parts...`` with any symlink among ``base`` and the inner parts resolved inside the root.

        The walker hands over paths free of symlinks in their folders, but a collector reading
        ``EGG-INFO/PKG-INFO`` below a handed-over folder (or below a symlinked package folder)
        must not follow a link out of the root. ``read_bytes`` resolves the last part itself.
        """
        path = self.resolve(base) if os.path.islink(base) else base
        for part in parts[:-1]:
            path = os.path.join(path, part)
            if os.path.islink(path):
                path = self.resolve(path)
        return os.path.join(path, parts[-1]) if parts else path

    def open_regular(self, real_path: str) -> BinaryIO:
        """Open a regular file for bounded reading and seeking (format parsers read headers with it).

        A final symlink is resolved inside the root. Raises ``FileRefused`` for anything but a
        regular file (a FIFO, socket or device is never opened) and ``OSError`` when it cannot be read.
        """
        path = real_path
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            if os.readlink(path) == NULL_DEVICE:
                return io.BytesIO(b"")  # a masked unit: empty by design, not a gap
            path = self.resolve(path)
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                raise SpecialFile("a link to nothing") from None  # a build's stale ``result`` link
        if not stat.S_ISREG(st.st_mode):
            raise SpecialFile(f"not a regular file ({_file_type(st.st_mode)})")
        fd = os.open(path, _OPEN_FLAGS)
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped between lstat and open
            os.close(fd)
            raise FileRefused("file changed type while being opened")
        return os.fdopen(fd, "rb", buffering=0)

    def read_bytes(self, real_path: str, cap: int) -> tuple[bytes, bool]:
        """Read at most ``cap`` bytes of a regular file; returns ``(data, truncated)``.

        Raises ``FileRefused`` for anything but a regular file and ``OSError`` when it cannot be read.
        """
        with self.open_regular(real_path) as handle:
            chunks: list[bytes] = []
            remaining = cap + 1
            while remaining > 0:
                chunk = handle.read(min(remaining, 1 << 16))
                if not chunk:
                    break
                chunks.append(chunk)
                remaining -= len(chunk)
        data = b"".join(chunks)
        return data[:cap], len(data) > cap

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
