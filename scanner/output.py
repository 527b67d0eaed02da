"""Writing a report or a token to a path the user named, without ever replacing what is not a file.

Reports and tokens hold sensitive facts, so a file the scanner creates is private (0600) and written
atomically (a temporary file renamed into place), so a reader never sees half a report. Anything else
at that path is written *to*, never replaced: ``-o /dev/null`` discards, ``-o /dev/stdout`` prints and a
FIFO feeds its reader, as with a shell redirection. A block device is refused (a report written onto a
disk destroys it), as are directories, sockets and dangling links.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path``: a new or regular file atomically with mode 0600, anything else in place."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    if st is None or stat.S_ISREG(st.st_mode):
        replace_atomically(path, data)
        return
    if stat.S_ISLNK(st.st_mode):
        try:
            st = os.stat(path)
        except FileNotFoundError:
            raise OSError(errno.ENOENT, "a symbolic link to nothing (refusing to create its target)") from None
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        raise OSError(errno.EISDIR, "is a directory")
    if stat.S_ISBLK(mode):
        raise OSError(errno.EPERM, "is a block device (refusing to write a report onto a disk)")
    if stat.S_ISSOCK(mode):
        raise OSError(errno.EPERM, "is a socket")
    # A character device, a FIFO, or a link to a regular file (/dev/stdout when stdout is a file):
    # written through, as a shell redirection would, never replaced.
    flags = os.O_WRONLY | getattr(os, "O_CLOEXEC", 0) | (os.O_TRUNC if stat.S_ISREG(mode) else 0)
    fd = os.open(path, flags)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def replace_atomically(path: Path, data: bytes) -> None:
    """``path`` holds ``data`` whole or is left as it was (a private temporary file renamed into place)."""
    fd, temporary = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=".scanner-")  # 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
