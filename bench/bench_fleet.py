#!/usr/bin/env python3
"""Fleet load test: thousands of agents submitting to one collector on 127.0.0.1, with a restart.

A simulated fleet (``--hosts``, default 10,000) sends one report each, concurrently (``--agents``
threads), to ``scanner serve`` started as its own process. The reports are real: two templates are
made by running ``scanner audit`` on generated machines (400 installed packages each, one of them
with a DeepSeek endpoint in a ``.env``), then given each host's id, name, times and department.
Half-way through, the collector is stopped (SIGTERM) and started again a few seconds later; agents
that cannot reach it keep their reports in the real on-disk spool (``scanner.fleet.agent.spool``, one
store per agent thread) and flush it at the end, as ``scanner submit --spool`` would. The run then
checks that the collector stored exactly as many reports as were sent, and prints accepted reports
per second, latency percentiles of accepted requests, and the database size.

    python bench/bench_fleet.py --hosts 10000 --agents 32
    python bench/bench_fleet.py --hosts 3000 --agents 32 --db postgresql://USER@HOST/EMPTYDB --workers 2

No timing is asserted anywhere: this prints numbers for the README.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import psycopg
import requests

from scanner.fleet.agent.spool import Spool
from scanner.fleet.agent.submit import Destination, Sender, SendError, encode
from scanner.fleet.collector.databases import is_postgres, open_fleet_storage
from scanner.fleet.collector.tokens import token_hash
from scanner.store.database import open_store

HERE = Path(__file__).resolve().parent
DEPARTMENTS = ("finance", "health", "education", "transport", "defence", "justice")


def _machine(root: Path, packages: int, banned: bool) -> Path:
    if root.exists():
        shutil.rmtree(root)
    site = root / "opt" / "app" / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    (root / "opt" / "app" / "pyvenv.cfg").write_text("home = /usr/bin\nversion = 3.11.7\n")
    for n in range(packages):
        folder = site / f"pkg{n}-1.{n}.dist-info"
        folder.mkdir()
        (folder / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: pkg{n}\nVersion: 1.{n}\nSummary: package {n}\n"
            f"Home-page: https://example.org/pkg{n}\nAuthor-email: dev{n}@example.org\n"
        )
        (folder / "INSTALLER").write_text("pip\n")
    env = root / "home" / "alice" / "app" / ".env"
    env.parent.mkdir(parents=True)
    env.write_text(
        "OPENAI_BASE_URL=https://api.deepseek.com/v1\n" if banned else "OPENAI_BASE_URL=https://api.openai.com/v1\n"
    )
    return root


def _template(out: Path, banned: bool, scanner: str) -> dict[str, Any]:
    root = _machine(out / ("dirty" if banned else "clean"), 400, banned)
    done = subprocess.run(
        [scanner, "audit", "--root", str(root), "--no-store", "-f", "json", "--fail-on", "never"],
        capture_output=True,
        check=True,
    )
    return dict(json.loads(done.stdout))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Collector:
    def __init__(self, scanner: str, db: str, workers: int) -> None:
        port = str(_free_port())
        self.args = [scanner, "serve", "--db", db, "--port", port, "--burst", "1000", "--workers", str(workers)]
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(self.args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            try:
                requests.get(self.url + "/api/v1/health", timeout=1)
                return
            except requests.RequestException:
                time.sleep(0.05)
        raise SystemExit("collector did not start")

    def stop(self) -> None:
        if self.process:
            self.process.terminate()
            self.process.wait(timeout=60)
            self.process = None


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    accepted: list[float] = field(default_factory=list)
    """Latency (seconds) of each request the collector accepted (stored or duplicate)."""
    spooled: int = 0
    flushed: int = 0
    duplicates: int = 0


def _body(template: dict[str, Any], host: str, when: datetime, department: str) -> tuple[str, bytes]:
    """``(report id, gzip body)`` of one host's report, made from a template as an agent would send it."""
    report = dict(template)
    stamp = when.isoformat(timespec="seconds").replace("+00:00", "Z")
    report["scan"] = {**template["scan"], "id": str(uuid.uuid4()), "host": host, "started": stamp, "finished": stamp}
    report["agent"] = {"tags": {"department": department}}
    return report["scan"]["id"], encode(report)


def _agent(
    work: queue.Queue[tuple[str, str, bytes] | None], url: str, store: Path, back: threading.Event, tally: Tally
) -> None:
    """One agent thread: send each report once; what fails goes to its spool, flushed once the collector
    is back (the report id -> host map gives the per-host token each spooled report needs)."""
    spool = Spool(open_store(store), limit=1_000_000)
    owner: dict[str, str] = {}
    session = requests.Session()
    while (item := work.get()) is not None:
        host, report_id, body = item
        sender = Sender(Destination(url, f"sct_bench_{host}"), attempts=1, session=session)
        started = time.perf_counter()
        try:
            status = sender.send(body)
        except SendError:
            spool.add(report_id, body)
            owner[report_id] = host
            with tally.lock:
                tally.spooled += 1
            work.task_done()
            continue
        with tally.lock:
            tally.accepted.append(time.perf_counter() - started)
            tally.duplicates += status == "duplicate"
        work.task_done()
    back.wait()
    for item in spool.pending():
        sender = Sender(Destination(url, f"sct_bench_{owner[item.id]}"), attempts=5, backoff=0.5, session=session)
        status = sender.send(item.body)
        spool.delivered(item.id, 0)
        with tally.lock:
            tally.duplicates += status == "duplicate"
            tally.flushed += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=10_000)
    parser.add_argument("--agents", type=int, default=32, help="concurrent submitting threads")
    parser.add_argument("--violating", type=float, default=0.2, help="share of hosts with a violation")
    parser.add_argument("--down", type=float, default=3.0, help="seconds the collector stays down mid-run")
    parser.add_argument("--out", type=Path, default=HERE / "out" / "fleet")
    parser.add_argument("--db", help="an empty PostgreSQL database's URL (default: fleet.db in --out)")
    parser.add_argument("--workers", type=int, default=1, help="collector processes (more than one needs --db URL)")
    args = parser.parse_args()
    scanner = shutil.which("scanner", path=os.path.dirname(sys.executable)) or "scanner"
    if args.out.exists():
        shutil.rmtree(args.out)
    args.out.mkdir(parents=True)
    os.environ["SCANNER_CACHE_DIR"] = str(args.out / "cache")
    templates = {banned: _template(args.out, banned, scanner) for banned in (False, True)}
    sizes = {k: len(encode(t)) for k, t in templates.items()}
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} cores; {args.hosts} hosts, {args.agents} agent threads, "
        f"{args.workers} collector worker(s) on {'PostgreSQL' if args.db else 'SQLite'}"
    )
    print(
        f"report: {len(templates[False]['inventory'])} inventory items, "
        f"{len(json.dumps(templates[True])) // 1024} KiB JSON, {sizes[True] // 1024} KiB gzip as sent"
    )
    db = args.db or str(args.out / "fleet.db")
    hosts = [f"host-{n:05d}" for n in range(args.hosts)]
    with open_fleet_storage(db) as storage:
        for host in hosts:
            storage.add_token(host, token_hash(f"sct_bench_{host}"))
    collector = Collector(scanner, db, args.workers)
    collector.start()
    rng = random.Random(7)
    now = datetime.now(timezone.utc)
    made = time.perf_counter()
    bodies = []
    for host in hosts:  # made before the clock starts: the load test times the collector, not this loop
        when = now - timedelta(minutes=rng.randrange(0, 24 * 60))
        bodies.append((host, *_body(templates[rng.random() < args.violating], host, when, rng.choice(DEPARTMENTS))))
    print(f"{len(bodies)} reports made in {time.perf_counter() - made:.1f} s")
    work: queue.Queue[tuple[str, str, bytes] | None] = queue.Queue(maxsize=args.agents * 4)
    tally = Tally()
    back = threading.Event()
    threads = []
    for n in range(args.agents):
        store = args.out / f"agent-{n}.db"
        thread = threading.Thread(target=_agent, args=(work, collector.url, store, back, tally), daemon=True)
        thread.start()
        threads.append(thread)
    started = time.perf_counter()
    restart_at = args.hosts // 2
    first_half = 0.0
    for index, item in enumerate(bodies):
        if index == restart_at:
            while work.unfinished_tasks:  # what was queued before the stop is answered first
                time.sleep(0.01)
            first_half = time.perf_counter() - started
            direct_before = len(tally.accepted)
            collector.stop()
            restarted = threading.Timer(args.down, collector.start)
            restarted.start()
        work.put(item)
    for _ in threads:
        work.put(None)
    restarted.join()
    back.set()  # the collector is back: agents flush their spools (as the next run would)
    for thread in threads:
        thread.join()
    submitted = time.perf_counter() - started
    collector.stop()
    with open_fleet_storage(db) as check:
        stored = sum(h.reports for h in check.hosts())
    if is_postgres(db):
        with psycopg.connect(db) as database:
            (size,) = database.execute("select pg_database_size(current_database())").fetchone() or (0,)
    else:
        size = sum(p.stat().st_size for p in args.out.glob("fleet.db*"))
    latencies = sorted(tally.accepted)

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    print(
        f"\nsubmission: {args.hosts} reports in {submitted:.1f} s (spools flushed), collector down {args.down:.0f} s mid-run"
    )
    print(
        f"  collector up, first half: {direct_before} reports accepted in {first_half:.1f} s = "
        f"{direct_before / first_half:.0f} reports/s; overall {args.hosts / submitted:.0f} reports/s"
    )
    print(
        f"  latency of accepted requests: p50 {pct(0.5):.0f} ms, p90 {pct(0.9):.0f} ms, p99 {pct(0.99):.0f} ms, "
        f"mean {statistics.mean(latencies) * 1000:.0f} ms"
    )
    print(f"  spooled while the collector was down: {tally.spooled}; delivered from the spools: {tally.flushed}")
    print(f"  duplicates acknowledged (stored before a lost answer): {tally.duplicates}")
    print(f"stored reports: {stored}; sent: {args.hosts}; {'OK: equal' if stored == args.hosts else 'MISMATCH'}")
    print(f"fleet database: {size / 2**20:.1f} MiB ({size / stored / 1024:.1f} KiB per report)")
    if stored != args.hosts:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
