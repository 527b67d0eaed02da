"""The drives a whole-machine scan of Windows walks.

Windows has no single ``/``: each drive is a root. Every fixed drive (and RAM disk) is walked; network
drives (another machine's disk, scanned by its own agent), removable and optical drives are chosen
skips, listed in the coverage, unless ``--include-fstype network``, ``removable`` or ``cdrom`` asks for
them. The drive list comes from ``os.listdrives`` (Python 3.12) or ``GetLogicalDriveStringsW``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from scanner.records import Skipped
from scanner.vocabulary import SkipKind

DRIVE_TYPES = {0: "unknown", 1: "no root", 2: "removable", 3: "fixed", 4: "network", 5: "cdrom", 6: "ramdisk"}
"""``GetDriveTypeW``'s answers, by name (``DRIVE_FIXED`` is 3)."""
WALKED = frozenset({"fixed", "ramdisk"})


def choose_drives(drives: Iterable[tuple[str, str]], include: frozenset[str]) -> tuple[list[str], list[Skipped]]:
    """The drive roots to walk (``C:\\``), and a chosen skip for each drive that is not walked."""
    roots, skipped = [], []
    for root, kind in drives:
        if kind in WALKED or kind in include:
            roots.append(root)
        elif kind != "no root":
            reason = f"{kind} drive (skipped by default; --include-fstype {kind} walks it)"
            skipped.append(Skipped(root, reason, SkipKind.FILESYSTEM))
    return roots, skipped


def windows_drives() -> list[tuple[str, str]]:
    """``(root, type)`` of every drive of this Windows machine."""
    import ctypes  # Windows only: the kernel32 calls below

    kernel32: Any = ctypes.windll.kernel32  # type: ignore[attr-defined]
    listdrives = getattr(os, "listdrives", None)
    if listdrives is not None:
        roots = list(listdrives())
    else:
        buffer = ctypes.create_unicode_buffer(1024)
        length = kernel32.GetLogicalDriveStringsW(len(buffer), buffer)
        roots = [d for d in ctypes.wstring_at(buffer, length).split("\0") if d]
    return [(root, DRIVE_TYPES.get(kernel32.GetDriveTypeW(root), "unknown")) for root in roots]
