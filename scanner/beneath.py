"""Opening a path below an open folder with no symbolic link on any component: ``openat2`` with
``RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`` where the kernel has it (one system call for a whole path, in
chunks below ``PATH_MAX``), else one component at a time with ``O_NOFOLLOW``. ``fsview`` opens every file
and folder of a scan this way."""

from __future__ import annotations

import ctypes
import errno
import functools
import os
import platform
from collections.abc import Callable, Iterable, Iterator

NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
PATH_FLAGS = getattr(os, "O_PATH", os.O_RDONLY) | getattr(os, "O_DIRECTORY", 0) | NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
"""A folder only passed through on the way to another (``O_PATH``: no read permission needed, nothing read)."""
_CHUNK_BYTES = 3072
"""The most path bytes resolved in one system call: below ``PATH_MAX`` (4096), so that a folder any depth
down is still reached, a chunk of components at a time."""

# openat2(2), Linux 5.6+: the same number on every architecture that has it (the shared syscall table).
_SYS_OPENAT2 = 437 if platform.system() == "Linux" and platform.machine() in ("x86_64", "aarch64") else None
_RESOLVE_NO_MAGICLINKS = 0x02
_RESOLVE_NO_SYMLINKS = 0x04
_RESOLVE_BENEATH = 0x08


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


@functools.cache
def _syscall() -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    """libc's ``syscall``, or ``None`` where there is no ``openat2`` to call (then folders are walked one by one)."""
    if _SYS_OPENAT2 is None:
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).syscall
    except (OSError, AttributeError):
        return None
    function.restype = ctypes.c_long
    function.argtypes = [ctypes.c_long, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t]
    return function


_openat2_missing = False
"""Set once the kernel (or a seccomp filter) answered that it has no ``openat2``."""


def _openat2(dir_fd: int, path: bytes, flags: int) -> int | None:
    """``openat2`` beneath ``dir_fd`` with no symlink anywhere; ``None`` where the kernel lacks it."""
    global _openat2_missing
    function = _syscall()
    if function is None or _openat2_missing:
        return None
    how = _OpenHow(
        flags | getattr(os, "O_CLOEXEC", 0), 0, _RESOLVE_BENEATH | _RESOLVE_NO_SYMLINKS | _RESOLVE_NO_MAGICLINKS
    )
    fd = int(function(_SYS_OPENAT2, dir_fd, path, ctypes.byref(how), ctypes.sizeof(how)))
    if fd >= 0:
        return fd
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EPERM):  # an old kernel, or a container's seccomp profile
        _openat2_missing = True
        return None
    raise OSError(code, os.strerror(code))


def _chunks(parts: list[str]) -> Iterator[bytes]:
    """Relative paths of consecutive components, each short enough for one system call."""
    whole = os.fsencode("/".join(parts))
    if len(whole) <= _CHUNK_BYTES:  # nearly always: one call
        yield whole
        return
    chunk: list[bytes] = []
    length = 0
    for part in parts:
        raw = os.fsencode(part)
        if chunk and length + len(raw) + 1 > _CHUNK_BYTES:
            yield b"/".join(chunk)
            chunk, length = [], 0
        chunk.append(raw)
        length += len(raw) + 1
    if chunk:
        yield b"/".join(chunk)


def open_beneath(dir_fd: int, parts: list[str], flags: int) -> int:
    """Open the plain path ``parts`` (no empty, ``.`` or ``..`` part: the caller checks) below ``dir_fd`` with
    no symlink on any component (``ELOOP`` or ``ENOTDIR`` when one is a link)."""
    chunks = list(_chunks(parts))
    last = len(chunks) - 1
    steps = [
        functools.partial(_open_chunk, chunk, flags if i == last else PATH_FLAGS) for i, chunk in enumerate(chunks)
    ]
    return _chain(dir_fd, steps)


def _open_chunk(chunk: bytes, flags: int, dir_fd: int) -> int:
    opened = _openat2(dir_fd, chunk, flags & ~NOFOLLOW)
    if opened is None:  # no openat2: one component at a time, never through a link
        return _open_steps(dir_fd, os.fsdecode(chunk).split("/"), flags)
    return opened


def _open_steps(dir_fd: int, parts: list[str], flags: int) -> int:
    last = len(parts) - 1
    return _chain(
        dir_fd,
        [
            functools.partial(_open_name, part, (flags | NOFOLLOW) if i == last else PATH_FLAGS)
            for i, part in enumerate(parts)
        ],
    )


def _open_name(name: str, flags: int, dir_fd: int) -> int:
    return os.open(name, flags, dir_fd=dir_fd)


def _chain(dir_fd: int, steps: Iterable[Callable[[int], int]]) -> int:
    """Each step opened below the one before it, that one closed (never ``dir_fd``, the caller's); on a
    failure nothing opened here stays open."""
    fd = dir_fd
    try:
        for step in steps:
            opened = step(fd)
            if fd != dir_fd:
                os.close(fd)
            fd = opened
    except BaseException:
        if fd != dir_fd:
            os.close(fd)
        raise
    return fd
