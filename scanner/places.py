"""Where the scanner keeps its own files by default: the store, the fleet database and the cache.

Every location can be overridden (``$SCANNER_DB``, ``$SCANNER_FLEET_DB``, ``$SCANNER_CACHE_DIR`` or an
option). Root gets system folders (``/var/lib/scanner``, ``/var/cache/scanner``); a user gets the
platform's per-user folders. Nothing here creates anything.
"""

from __future__ import annotations

import os
from pathlib import Path

from scanner.platforms import macos, windows


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def default_db_path() -> Path:
    """``$SCANNER_DB``; else ``/var/lib/scanner/scanner.db`` for root, the user's data directory otherwise."""
    if os.environ.get("SCANNER_DB"):
        return Path(os.environ["SCANNER_DB"])
    if windows():
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
        return base / "scanner" / "scanner.db"
    if _is_root():
        return Path("/var/lib/scanner/scanner.db")
    if macos():
        return Path.home() / "Library" / "Application Support" / "scanner" / "scanner.db"
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "scanner" / "scanner.db"


def default_fleet_db() -> str:
    """``$SCANNER_FLEET_DB`` (a path or a ``postgresql://`` URL), else ``fleet.db`` beside the local
    store's default location."""
    return os.environ.get("SCANNER_FLEET_DB") or str(default_db_path().parent / "fleet.db")


def default_cache_dir() -> Path:
    """``$SCANNER_CACHE_DIR``, else the system's per-user cache (``/var/cache/scanner`` for root on Linux and macOS)."""
    if os.environ.get("SCANNER_CACHE_DIR"):
        return Path(os.environ["SCANNER_CACHE_DIR"])
    if windows():
        return Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local") / "scanner" / "cache"
    if _is_root():
        return Path("/var/cache/scanner")
    if macos():
        return Path.home() / "Library" / "Caches" / "scanner"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "scanner"
