#!/usr/bin/env python3
"""A year of nightly scans in one store: how large it grows with the default retention.

A generated tree of ``--files`` ``.env`` files (two findings each: 1,000 findings by default) is
audited for real every simulated night (the same walk, collectors and policy as ``scanner audit
--root``). Each night about 1% of the files change: most edits only move lines (the findings stay
the same, their line numbers move), and every ``--change-every`` nights a project moves to a new
folder, so two findings are resolved and two appear (a change retention keeps both sides of). The scan is then recorded with ``Store.save`` under the
simulated night's date (the one liberty taken: an audit stamps the real clock, and a year cannot
pass in ten minutes) and the default retention is applied as the scheduled agent applies it, with
``prune(..., now=night)``. Prints the store's size every 30 nights, the growth of one unchanged
re-scan, and the time the audits and the pruning took.

    python bench/bench_store_year.py --days 365 --out /tmp/year
"""

from __future__ import annotations

import argparse
import random
import shutil
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from scanner.audit import AuditOptions, audit
from scanner.policy.loader import load_policy
from scanner.store.database import Store, open_store
from scanner.store.retention import DEFAULT_RETENTION, prune


def plant(root: Path, files: int) -> list[Path]:
    if root.exists():
        shutil.rmtree(root)
    made = []
    for n in range(files):
        path = root / "home" / f"user{n % 20}" / f"project{n}" / ".env"
        path.parent.mkdir(parents=True)
        path.write_text(f"OPENAI_BASE_URL=https://api.deepseek.com/v1\nDEEPSEEK_API_KEY=sk-{n:032x}\n")
        made.append(path)
    return made


def on_disk(store: Store) -> int:
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return store.size().bytes


def night(store: Store, options: AuditOptions, when: datetime) -> None:
    report = audit(options, load_policy([])).report
    stamp = when.isoformat(timespec="seconds").replace("+00:00", "Z")
    report["scan"] = {**report["scan"], "started": stamp, "finished": stamp}
    store.save(report)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--files", type=int, default=500, help=".env files, two findings each")
    parser.add_argument("--change-every", type=int, default=7, help="nights between edits that change a finding")
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench-store-year"))
    args = parser.parse_args()
    rng = random.Random(18)
    args.out.mkdir(parents=True, exist_ok=True)
    files = plant(args.out / "tree", args.files)
    db = args.out / "scanner.db"
    for stale in args.out.glob("scanner.db*"):
        stale.unlink()
    start = datetime(2026, 1, 1, 2, 0, tzinfo=timezone.utc)
    audit_seconds = prune_seconds = 0.0
    with open_store(db) as store:
        options = AuditOptions(root=str(args.out / "tree"), secret_salt=store.secret_salt())
        night(store, options, start - timedelta(days=1))
        first = on_disk(store)
        night(store, options, start - timedelta(hours=12))
        print(f"an unchanged re-scan of {args.files * 2} findings adds {(on_disk(store) - first) / 1000:.1f} KB")
        for day in range(1, args.days + 1):
            when = start + timedelta(days=day)
            for path in rng.sample(files, max(1, len(files) // 100)):
                path.write_text("# edited\n" + path.read_text())  # the findings move down a line
            if day % args.change_every == 0:
                moved = files.pop(rng.randrange(len(files)))
                files.append(moved.parent.with_name(f"moved{day}") / ".env")
                moved.parent.rename(files[-1].parent)
            began = time.perf_counter()
            night(store, options, when)
            audit_seconds += time.perf_counter() - began
            began = time.perf_counter()
            prune(store, DEFAULT_RETENTION, now=when)
            prune_seconds += time.perf_counter() - began
            if day % 30 == 0 or day == args.days:
                scans = len(store.history())
                findings = store.db.execute("select count(*) from findings").fetchone()[0]
                print(
                    f"day {day:3d}: {on_disk(store) / 1e6:6.2f} MB, {scans} scans kept, {findings} distinct findings",
                    flush=True,
                )
    print(f"audits {audit_seconds:.0f} s ({audit_seconds / args.days:.2f} s a night), pruning {prune_seconds:.0f} s")


if __name__ == "__main__":
    main()
