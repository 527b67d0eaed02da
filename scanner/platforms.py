"""Which operating system the scanner runs on, asked in one place.

Code that differs by system asks these functions, never ``os.name`` or ``sys.platform`` itself, so that
one test can run the scanner as Windows or macOS would (``tests/test_portability.py``): modules that
exist on one system only (``pwd``, ``winreg``) are imported where they are used, never at the top.
"""

from __future__ import annotations

import os
import sys


def windows() -> bool:
    return sys.platform == "win32"


def macos() -> bool:
    return sys.platform == "darwin"


def windows_paths() -> bool:
    """Paths on disk are Windows paths (``os.path`` is ``ntpath``): what path handling follows, rather than
    the platform's name, so that the rest of the scanner can be run as Windows on a POSIX filesystem."""
    return os.sep == "\\"


def has_proc() -> bool:
    """Linux's ``/proc``: process environments, sockets and the mount table are read from there."""
    return not windows() and os.path.isdir("/proc/self")


def user_name(uid: int | None = None) -> str:
    """The account name of ``uid`` (this process's user when ``None``), or the number when it has none."""
    try:
        import pwd  # POSIX only
    except ImportError:
        import getpass

        return getpass.getuser() if uid is None else str(uid)
    uid = os.getuid() if uid is None else uid
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def resident_memory() -> int | None:
    """Bytes of memory this process holds now (Linux ``/proc/self/statm``), else its peak so far (POSIX
    ``getrusage``), or ``None`` where neither can be asked (Windows without them)."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        pass
    try:
        import resource  # POSIX only
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if macos() else peak * 1024  # bytes on macOS, KiB elsewhere


IO_REPARSE_TAG_MOUNT_POINT = 0xA0000003


def is_junction(entry: os.DirEntry[str] | object) -> bool:
    """A Windows junction (``Application Data``, ``My Documents`` in every profile): a link to a folder,
    which ``is_dir(follow_symlinks=False)`` reports as a folder. ``is_junction`` from Python 3.12, the
    reparse tag of its ``stat`` before."""
    check = getattr(entry, "is_junction", None)
    if check is not None:
        return bool(check())
    try:
        st = entry.stat(follow_symlinks=False)  # type: ignore[union-attr]
    except OSError:
        return False
    return getattr(st, "st_reparse_tag", 0) == IO_REPARSE_TAG_MOUNT_POINT
