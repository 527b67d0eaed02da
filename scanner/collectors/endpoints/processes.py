"""Environment variables of the scanner itself and of every running process (``/proc/*/environ``).

Only on the live machine (never under ``--root``), and only what the scanner may read: as root
every process, otherwise the user's own. Processes that could not be read are counted in one
coverage entry rather than dropped. Process environments are not files on disk, so this collector
asks nothing of the walk and reads ``/proc`` when the walk is done.
"""

from __future__ import annotations

import os
import pwd

from scanner.collectors.endpoints.base import record_of
from scanner.collectors.endpoints.settings import classify_all
from scanner.collectors.interface import Collector, CollectorResult
from scanner.records import Record, Skipped
from scanner.vocabulary import EndpointSource, SkipKind
from scanner.walk import Entry, Interest

ENVIRON_CAP = 1 << 20
PROC = "/proc"


def read_proc(path: str, cap: int) -> bytes:
    with open(path, "rb", buffering=0) as handle:  # a /proc file: no FIFO can stand here
        return handle.read(cap)


def user_name(uid: int) -> str:
    """The account name of ``uid`` on this machine, or the number when it has none."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


class ProcessCollector(Collector):
    """Endpoint settings in the environments of running processes (Linux ``/proc``)."""

    id = "process-environment-collector"
    interest = Interest()

    def visit(self, entry: Entry) -> None:
        """Never called: the interest is empty."""

    def finish(self) -> CollectorResult:
        if not (self.fs.is_live and self.options.whole_machine):
            return CollectorResult()
        records: list[Record] = []
        me = os.getpid()
        for name, value in os.environ.items():
            settings = classify_all(name, value, self.options.watch)
            if settings:
                process = (("pid", str(me)), ("name", "scanner"), ("user", user_name(os.getuid())))
                records += record_of(
                    settings,
                    name=name,
                    source=EndpointSource.ENVIRONMENT,
                    path=f"{PROC}/{me}/environ",
                    line=None,
                    found_by=self.id,
                    process=process,
                )
        unreadable = 0
        try:
            pids = [p for p in os.listdir(PROC) if p.isdigit() and int(p) != me]
        except OSError:
            return CollectorResult(records=records)
        for pid in pids:
            base = f"{PROC}/{pid}"
            try:
                environ = read_proc(f"{base}/environ", ENVIRON_CAP)
                comm = read_proc(f"{base}/comm", 256).decode("utf-8", "replace").strip()
                uid = os.stat(base).st_uid
            except PermissionError:
                unreadable += 1
                continue
            except OSError:
                continue  # the process ended while we looked
            process = (("pid", pid), ("name", comm), ("user", user_name(uid)))
            for item in environ.split(b"\0"):
                name, equals, value = item.decode("utf-8", "replace").partition("=")
                settings = classify_all(name, value, self.options.watch) if equals else []
                if settings:
                    records += record_of(
                        settings,
                        name=name,
                        source=EndpointSource.PROCESS,
                        path=f"{base}/environ",
                        line=None,
                        found_by=self.id,
                        process=process,
                    )
        skipped = []
        if unreadable:
            reason = f"{unreadable} process environment(s) unreadable (permission denied; run as root to see them)"
            skipped.append(Skipped(f"{PROC}/*/environ", reason, SkipKind.UNREADABLE))
        return CollectorResult(records=records, skipped=skipped)
