"""The local store (SQLite): scan history for ``history``/``diff``/``show`` and the per-file facts cache."""

from scanner.store.database import Store, StoredScan, default_db_path, open_store

__all__ = ["Store", "StoredScan", "default_db_path", "open_store"]
