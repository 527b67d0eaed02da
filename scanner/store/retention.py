"""Retention: which recorded scans may go, and the space they held given back.

A nightly agent runs for years; without retention its store only grows. What is kept whatever the
limits say: the latest scan of each scope (host, root and paths), and both sides of every change in
what was found (the scan before and the scan after), so ``history`` and ``diff`` still say between
which two scans a finding appeared or was resolved. A scan that goes is therefore always one whose
findings equal both its neighbours': removing it changes no answer the history gives except how many
identical nights it lists.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from itertools import pairwise

from scanner.store.database import ScanOutline, Store, StoredScan, StoreSize


@dataclass(frozen=True)
class Retention:
    """How much history to keep; a limit left ``None`` does not apply, and with both ``None`` nothing goes."""

    keep_last: int | None = None
    """Keep at least this many of the latest scans of each scope."""
    older_than_days: int | None = None
    """Remove only scans that finished more than this many days ago."""

    def describe(self) -> str:
        kept = []
        if self.older_than_days is not None:
            kept.append(f"{self.older_than_days} days")
        if self.keep_last is not None:
            kept.append(f"at least the last {self.keep_last} scans")
        return "keep " + ", and ".join(kept) if kept else "keep everything"


DEFAULT_RETENTION = Retention(keep_last=10, older_than_days=90)
"""What a scheduled agent keeps unless its configuration says otherwise (the README says why)."""


@dataclass(frozen=True)
class Pruned:
    """What ``prune`` removed, or would remove with ``dry_run``."""

    scans: tuple[StoredScan, ...]
    before: StoreSize
    after: StoreSize
    dry_run: bool


def expired(scans: list[ScanOutline], retention: Retention, now: datetime) -> list[str]:
    """The ids of the scans ``retention`` lets go, oldest first."""
    if retention.keep_last is None and retention.older_than_days is None:
        return []
    cutoff = now - timedelta(days=retention.older_than_days or 0)
    scopes: dict[str, list[ScanOutline]] = defaultdict(list)
    for scan in sorted(scans, key=lambda s: s.number):
        scopes[scan.scope].append(scan)
    kept: set[str] = set()
    for chain in scopes.values():
        kept.update(s.id for s in chain[-max(retention.keep_last or 1, 1) :])
        for before, after in pairwise(chain):
            if before.fingerprints != after.fingerprints:
                kept.update((before.id, after.id))
    return [
        s.id
        for s in sorted(scans, key=lambda s: s.number)
        if s.id not in kept and (retention.older_than_days is None or _finished(s) < cutoff)
    ]


def _finished(scan: ScanOutline) -> datetime:
    return datetime.fromisoformat(scan.finished.replace("Z", "+00:00"))


def prune(store: Store, retention: Retention, dry_run: bool = False, now: datetime | None = None) -> Pruned:
    """Remove the scans ``retention`` lets go, then give their space back to the filesystem."""
    going = expired(store.outline(), retention, now or datetime.now(timezone.utc))
    before = store.size()
    ids = frozenset(going)
    removed = tuple(s for s in store.history() if s.id in ids)
    if dry_run or not going:
        return Pruned(removed, before, before, dry_run)
    store.remove(going)
    return Pruned(removed, before, store.size(), dry_run)
