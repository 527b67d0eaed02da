#!/usr/bin/env python3
"""Fleet load test: thousands of agents submitting to one collector on 127.0.0.1, with restarts.

A simulated fleet (``--hosts``, default 10,000) sends one report each, concurrently (``--agents``
threads), to ``scanner serve`` started as its own process. The reports are real: two templates are
made by running ``scanner audit`` on generated machines (400 installed packages each, one of them
with a DeepSeek endpoint in a ``.env``), then given each host's id, name, times and department.
At 40% of the fleet the collector is stopped (SIGTERM) and started again ``--down`` seconds later;
at 70%, with ``--restart-db COMMAND``, the database is restarted under the running collector (which
answers ``503`` until its connections are back). Agents that cannot deliver keep their reports in the
real on-disk spool (``scanner.fleet.agent.spool``, one store per agent thread) and flush it at the
end, as ``scanner submit --spool`` would. The run then checks that the collector stored exactly as
many reports as were sent, and prints accepted reports per second, latency percentiles of accepted
requests, the CPU each side used, the time ``scanner fleet summary -f json`` takes over the whole
fleet, and the database size per host.

The load generator must not eat the collector's CPU: a body is not serialised and compressed per
host (10 ms each), it is patched from its template's compressed bytes (``Template``: 0.1 ms).

    python bench/bench_fleet.py --hosts 10000 --agents 32
    python bench/bench_fleet.py --hosts 100000 --agents 32 --db postgresql://USER@HOST/EMPTYDB --workers 2 \
        --restart-db 'runuser -u postgres -- pg_ctl -D DATA -m fast -w restart'

No timing is asserted anywhere: this prints numbers for the README.
"""

from __future__ import annotations

import argparse
import contextlib
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
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil
import psycopg
import requests

from scanner import __version__
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


class Template:
    """A report made cheap to send as many hosts: its JSON is the changing head (``scan``, ``agent``)
    followed by the rest, whose raw deflate stream is made once. A fresh deflate stream ended by a full
    flush can be followed by another (neither refers back to the other), so a body is the gzip header,
    the head compressed, the rest as compressed once, and the CRC and length of the whole: what
    ``gzip.decompress`` and the collector read as any agent's body."""

    def __init__(self, report: dict[str, Any]) -> None:
        self.scan = report["scan"]
        rest = {key: value for key, value in report.items() if key not in ("scan", "agent")}
        self.tail = json.dumps(rest, ensure_ascii=False, separators=(",", ":")).encode()[1:]  # after its "{"
        packer = zlib.compressobj(9, zlib.DEFLATED, -15)
        self.packed_tail = packer.compress(self.tail) + packer.flush()

    def body(self, host: str, when: datetime, department: str) -> tuple[str, bytes]:
        """``(report id, gzip body)`` of one host's report."""
        stamp = when.isoformat(timespec="seconds").replace("+00:00", "Z")
        report_id = str(uuid.uuid4())
        scan = {**self.scan, "id": report_id, "host": host, "started": stamp, "finished": stamp}
        head = json.dumps({"scan": scan, "agent": {"tags": {"department": department}}}, separators=(",", ":"))
        text = head.encode()[:-1] + b","  # the head's object stays open: the rest closes it
        packer = zlib.compressobj(9, zlib.DEFLATED, -15)
        packed = packer.compress(text) + packer.flush(zlib.Z_FULL_FLUSH)
        crc = zlib.crc32(self.tail, zlib.crc32(text))
        size = (len(text) + len(self.tail)) & 0xFFFFFFFF
        header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # gzip, deflate, no name, no time
        return report_id, header + packed + self.packed_tail + crc.to_bytes(4, "little") + size.to_bytes(4, "little")


def _agent(
    work: queue.Queue[tuple[str, str, bytes] | None], url: str, store: Path, back: threading.Event, tally: Tally
) -> None:
    """One agent thread: send each report once; what fails goes to its spool, flushed once the collector
    is back (the report id -> host map gives the per-host token each spooled report needs)."""
    spool = Spool(open_store(store), limit=1_000_000)
    owner: dict[str, str] = {}
    address = urlsplit(url)
    while (item := work.get()) is not None:
        host, report_id, body = item
        started = time.perf_counter()
        try:
            status = _send_once(address.hostname or "", address.port or 80, host, body)
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
    for kept in spool.pending():
        with requests.Session() as session:
            sender = Sender(Destination(url, f"sct_bench_{owner[kept.id]}"), attempts=5, backoff=0.5, session=session)
            status = sender.send(kept.body)
        spool.delivered(kept.id, 0)
        with tally.lock:
            tally.duplicates += status == "duplicate"
            tally.flushed += 1


def _send_once(address: str, port: int, host: str, body: bytes) -> str:
    """One report sent once, as ``scanner submit`` sends it (``Sender``: the same request, headers and
    answers), on the host's own connection as a fleet's agents make (one shared by a thread would keep
    all its reports on the collector worker that accepted it first). Written on a plain socket: the
    load generator shares the collector's cores, and ``requests`` cost it 1.5 ms of CPU a report,
    ``http.client`` about 1 ms (its headers parsed by the email package), which no collector pays."""
    head = (
        f"POST /api/v1/reports HTTP/1.1\r\nHost: {address}:{port}\r\nAuthorization: Bearer sct_bench_{host}\r\n"
        f"Content-Type: application/json\r\nContent-Encoding: gzip\r\nUser-Agent: scanner/{__version__}\r\n"
        f"X-Scanner-Dropped-Reports: 0\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    try:
        with socket.create_connection((address, port), timeout=Destination(url="", token="").timeout) as connection:
            connection.sendall(head.encode() + body)
            status, answer = _response(connection)
    except OSError as error:
        raise SendError(f"cannot reach the collector: {error}", "retry") from error
    if status not in (200, 201):
        raise SendError(f"collector answered {status}", "retry")
    try:
        return str(json.loads(answer).get("status", "stored"))
    except ValueError as error:  # an answer this reader cannot take (chunked): sent again from the spool
        raise SendError(f"unreadable answer from the collector: {error}", "retry") from error


def _response(connection: socket.socket) -> tuple[int, bytes]:
    """The status and body of the one HTTP/1.1 response on a connection the server closes after it."""
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = connection.recv(65536)
        if not chunk:
            raise ConnectionError("the collector closed the connection before its answer")
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = next((int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:")), None)
    while length is None or len(body) < length:
        chunk = connection.recv(65536)
        if not chunk:
            if length is None:
                break
            raise ConnectionError("the collector closed the connection in the middle of its answer")
        body += chunk
    return int(lines[0].split()[1]), body


def _cpu_seconds(process: psutil.Process, children: bool = True) -> float:
    """CPU time of a process, and of its living children (the collector's workers)."""
    total = 0.0
    for each in [process, *(process.children(recursive=True) if children else [])]:
        with contextlib.suppress(psutil.Error):
            times = each.cpu_times()
            total += times.user + times.system
    return total


def _database_cpu() -> float:
    """CPU time of this machine's PostgreSQL processes (``postgres``), with their exited backends."""
    total = 0.0
    for each in psutil.process_iter(["name", "cpu_times"]):
        times = each.info["cpu_times"]
        if each.info["name"] == "postgres" and times is not None:
            total += times.user + times.system + times.children_user + times.children_system
    return total


def _machine_busy() -> float:
    """CPU seconds the whole machine has spent busy since it booted (all cores)."""
    with open("/proc/stat") as stat:
        fields = [int(n) for n in stat.readline().split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")  # less idle and iowait


def _summary_time(scanner: str, db: str) -> tuple[float, int]:
    """Seconds ``scanner fleet summary -f json`` takes over the whole fleet, and the hosts it counted."""
    started = time.perf_counter()
    done = subprocess.run([scanner, "fleet", "summary", "--db", db, "-f", "json"], capture_output=True, check=False)
    took = time.perf_counter() - started
    if done.returncode not in (0, 1):  # 1: the fleet is not compliant
        raise SystemExit(f"fleet summary failed: {done.stderr.decode()[-2000:]}")
    return took, int(json.loads(done.stdout)["hosts"]["total"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=10_000)
    parser.add_argument("--agents", type=int, default=32, help="concurrent submitting threads")
    parser.add_argument("--violating", type=float, default=0.2, help="share of hosts with a violation")
    parser.add_argument("--down", type=float, default=3.0, help="seconds the collector stays down mid-run")
    parser.add_argument("--out", type=Path, default=HERE / "out" / "fleet")
    parser.add_argument("--db", help="an empty PostgreSQL database's URL (default: fleet.db in --out)")
    parser.add_argument("--workers", type=int, default=1, help="collector processes (more than one needs --db URL)")
    parser.add_argument(
        "--restart-db",
        metavar="COMMAND",
        help="a shell command that restarts the database server (e.g. pg_ctl ... restart), run at 70%% of the fleet",
    )
    args = parser.parse_args()
    scanner = shutil.which("scanner", path=os.path.dirname(sys.executable)) or "scanner"
    if args.out.exists():
        shutil.rmtree(args.out)
    args.out.mkdir(parents=True)
    os.environ["SCANNER_CACHE_DIR"] = str(args.out / "cache")
    reports = {banned: _template(args.out, banned, scanner) for banned in (False, True)}
    templates = {banned: Template(report) for banned, report in reports.items()}
    sizes = {k: len(encode(t)) for k, t in reports.items()}
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at the start; "
        f"{args.hosts} hosts, {args.agents} agent threads, "
        f"{args.workers} collector worker(s) on {'PostgreSQL' if args.db else 'SQLite'}"
    )
    print(
        f"report: {len(reports[False]['inventory'])} inventory items, "
        f"{len(json.dumps(reports[True])) // 1024} KiB JSON, {sizes[True] // 1024} KiB gzip as sent"
    )
    db = args.db or str(args.out / "fleet.db")
    hosts = [f"host-{n:06d}" for n in range(args.hosts)]
    with open_fleet_storage(db) as storage:
        for host in hosts:
            storage.add_token(host, token_hash(f"sct_bench_{host}"))
    collector = Collector(scanner, db, args.workers)
    collector.start()
    rng = random.Random(7)
    now = datetime.now(timezone.utc)
    work: queue.Queue[tuple[str, str, bytes] | None] = queue.Queue(maxsize=args.agents * 4)
    tally = Tally()
    back = threading.Event()
    threads = []
    for n in range(args.agents):
        store = args.out / f"agent-{n}.db"
        thread = threading.Thread(target=_agent, args=(work, collector.url, store, back, tally), daemon=True)
        thread.start()
        threads.append(thread)
    bench = psutil.Process()
    assert collector.process is not None
    serving = psutil.Process(collector.process.pid)
    cpu_before = (_cpu_seconds(bench, children=False), _machine_busy(), _cpu_seconds(serving), _database_cpu())
    started = time.perf_counter()
    stop_at, db_restart_at = int(args.hosts * 0.4), int(args.hosts * 0.7)
    first_part = 0.0
    direct_before = 0
    restarted: threading.Timer | None = None
    db_restart: subprocess.CompletedProcess[bytes] | None = None
    spooled_before_db_restart = 0
    db_restart_seconds = 0.0
    for index, host in enumerate(hosts):
        if index == stop_at:
            while work.unfinished_tasks:  # what was queued before the stop is answered first
                time.sleep(0.01)
            first_part = time.perf_counter() - started
            direct_before = len(tally.accepted)
            cpu_first = (
                _cpu_seconds(bench, children=False),
                _cpu_seconds(serving) - cpu_before[2],
                _machine_busy(),
                _database_cpu() - cpu_before[3],
            )
            collector.stop()
            restarted = threading.Timer(args.down, collector.start)
            restarted.start()
        if index == db_restart_at and args.restart_db:
            if restarted:
                restarted.join()
            spooled_before_db_restart = tally.spooled  # the collector's restart is over: what is spooled from
            restarting = time.perf_counter()  # now on was refused or unanswered around the database's restart
            db_restart = subprocess.run(args.restart_db, shell=True, capture_output=True, check=False)
            db_restart_seconds = time.perf_counter() - restarting
        when = now - timedelta(minutes=rng.randrange(0, 24 * 60))
        template = templates[rng.random() < args.violating]
        work.put((host, *template.body(host, when, rng.choice(DEPARTMENTS))))
    for _ in threads:
        work.put(None)
    if restarted:
        restarted.join()
    back.set()  # the collector is back: agents flush their spools (as the next run would)
    for thread in threads:
        thread.join()
    submitted = time.perf_counter() - started
    collector.stop()
    bench_cpu = _cpu_seconds(bench, children=False) - cpu_before[0]
    machine_cpu = _machine_busy() - cpu_before[1]
    with open_fleet_storage(db) as check:
        stored = sum(h.reports for h in check.hosts())
    summary_seconds, summarised = _summary_time(scanner, db)
    if is_postgres(db):
        with psycopg.connect(db) as database:
            (size,) = database.execute("select pg_database_size(current_database())").fetchone() or (0,)
    else:
        size = sum(p.stat().st_size for p in args.out.glob("fleet.db*"))
    latencies = sorted(tally.accepted)

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    print(
        f"\nsubmission: {args.hosts} reports in {submitted:.1f} s (spools flushed), collector down {args.down:.0f} s "
        f"at 40%{', database restarted at 70%' if args.restart_db else ''}; load average {os.getloadavg()[0]:.2f} "
        "at the end"
    )
    busy = cpu_first[2] - cpu_before[1]
    print(
        f"  collector up, first 40%: {direct_before} reports accepted in {first_part:.1f} s = "
        f"{direct_before / first_part:.0f} reports/s; overall {args.hosts / submitted:.0f} reports/s"
    )
    generator = cpu_first[0] - cpu_before[0]
    print(
        f"  CPU in the first 40%: machine {busy / first_part:.2f} of {os.cpu_count()} cores busy; per report: load "
        f"generator {generator / direct_before * 1000:.1f} ms, collector {cpu_first[1] / direct_before * 1000:.1f} ms, "
        f"PostgreSQL {cpu_first[3] / direct_before * 1000:.1f} ms, the rest (other work on the machine, the kernel) "
        f"{(busy - generator - cpu_first[1] - cpu_first[3]) / direct_before * 1000:.1f} ms"
    )
    print(f"  CPU over the whole run: load generator {bench_cpu:.0f} s, machine {machine_cpu:.0f} s")
    print(
        f"  latency of accepted requests: p50 {pct(0.5):.0f} ms, p90 {pct(0.9):.0f} ms, p99 {pct(0.99):.0f} ms, "
        f"mean {statistics.mean(latencies) * 1000:.0f} ms"
    )
    if db_restart is not None:
        print(
            f"  database restart: exit {db_restart.returncode}, {db_restart_seconds:.1f} s; reports refused (503) "
            f"or unanswered around it, spooled: {tally.spooled - spooled_before_db_restart}"
        )
    print(
        f"  spooled while the collector or database was away: {tally.spooled}; delivered from the spools: {tally.flushed}"
    )
    print(f"  duplicates acknowledged (stored before a lost answer): {tally.duplicates}")
    print(f"stored reports: {stored}; sent: {args.hosts}; {'OK: equal' if stored == args.hosts else 'MISMATCH'}")
    print(f"fleet summary over {summarised} hosts (scanner fleet summary -f json): {summary_seconds:.1f} s")
    print(
        f"fleet database: {size / 2**20:.1f} MiB, {size / len(hosts) / 1024:.1f} KiB per host "
        f"({size / stored / 1024:.1f} KiB per report)"
    )
    if stored != args.hosts:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
