"""The local store (SQLite): scan history for ``history``/``diff``/``show``, the per-file facts cache, the spool."""
