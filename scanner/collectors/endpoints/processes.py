"""Environment variables of the scanner itself and of every running process.

Only on the live machine (never under ``--root``), and only what the scanner may read: as root
every process, otherwise the user's own. On Linux they come from ``/proc/*/environ``; on Windows and
macOS through ``psutil`` (a dependency there only). Processes that could not be read are counted in
one coverage entry rather than dropped, and a system where they cannot be read at all says so: a
process started with a provider's key is use, so not looking is a gap. Process environments are not
files on disk, so this collector asks nothing of the walk and reads them when the walk is done.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

from scanner.collectors.endpoints.base import record_of
from scanner.collectors.endpoints.settings import classify_all
from scanner.collectors.interface import Collector, CollectorResult
from scanner.platforms import has_proc, user_name
from scanner.records import Record, Skipped
from scanner.visitors import Entry, Interest
from scanner.vocabulary import EndpointSource, SkipKind

ENVIRON_CAP = 1 << 20
PROC = "/proc"
NOT_AVAILABLE = "not available on this system"
"""How a coverage entry says a kind of place cannot be read here (psutil missing on Windows or macOS)."""


def read_proc(path: str, cap: int) -> bytes:
    with open(path, "rb", buffering=0) as handle:  # a /proc file: no FIFO can stand here
        return handle.read(cap)


@dataclass(frozen=True)
class ProcessEnvironment:
    """One running process's environment, as the system gives it."""

    pid: str
    name: str
    user: str
    where: str
    """What a finding names as its location: ``/proc/PID/environ``, or ``process PID`` without ``/proc``."""
    variables: tuple[tuple[str, str], ...]


@dataclass
class Unreadable:
    """Processes the scanner was not allowed to read, counted while the readers run."""

    count: int = 0


def proc_environments(unreadable: Unreadable, proc: str = PROC) -> Iterator[ProcessEnvironment]:
    """Every other process's environment from Linux's ``/proc``."""
    me = os.getpid()
    try:
        pids = [p for p in os.listdir(proc) if p.isdigit() and int(p) != me]
    except OSError:
        return
    for pid in pids:
        base = f"{proc}/{pid}"
        try:
            environ = read_proc(f"{base}/environ", ENVIRON_CAP)
            comm = read_proc(f"{base}/comm", 256).decode("utf-8", "replace").strip()
            uid = os.stat(base).st_uid
        except PermissionError:
            unreadable.count += 1
            continue
        except OSError:
            continue  # the process ended while we looked
        pairs = (item.decode("utf-8", "replace").partition("=") for item in environ.split(b"\0"))
        variables = tuple((name, value) for name, equals, value in pairs if equals)
        yield ProcessEnvironment(pid, comm, user_name(uid), f"{base}/environ", variables)


def psutil_environments(unreadable: Unreadable) -> Iterator[ProcessEnvironment]:
    """Every other process's environment through ``psutil`` (Windows, macOS). Raises ``ImportError``
    when it is not installed."""
    import psutil  # only where there is no /proc

    me = os.getpid()
    for process in psutil.process_iter(["pid", "name", "username"]):
        if process.pid == me:
            continue
        try:
            environ = process.environ()
        except psutil.AccessDenied:
            unreadable.count += 1
            continue
        except psutil.Error:  # ended while we looked, or a zombie
            continue
        info = process.info
        variables = tuple((str(k), str(v)[:ENVIRON_CAP]) for k, v in list(environ.items())[:10_000])
        yield ProcessEnvironment(
            str(info["pid"]), info["name"] or "", info["username"] or "", f"process {info['pid']}", variables
        )


class ProcessCollector(Collector):
    """Endpoint settings in the environments of running processes."""

    id = "process-environment-collector"
    interest = Interest()

    def visit(self, entry: Entry) -> None:
        """Never called: the interest is empty."""

    def finish(self) -> CollectorResult:
        if not (self.fs.is_live and self.options.whole_machine):
            return CollectorResult()
        me = str(os.getpid())
        own = ProcessEnvironment(me, "scanner", user_name(), f"{PROC}/{me}/environ", tuple(os.environ.items()))
        records = self._records(own, EndpointSource.ENVIRONMENT)
        unreadable = Unreadable()
        skipped: list[Skipped] = []
        try:
            others = proc_environments(unreadable) if has_proc() else psutil_environments(unreadable)
            for process in others:
                records += self._records(process, EndpointSource.PROCESS)
        except ImportError:
            reason = f"{NOT_AVAILABLE}: reading other processes' environments needs psutil (pip install psutil)"
            skipped.append(Skipped("running processes", reason, SkipKind.UNSUPPORTED))
        if unreadable.count:
            reason = (
                f"{unreadable.count} process environment(s) unreadable (permission denied; run as root to see them)"
            )
            where = f"{PROC}/*/environ" if has_proc() else "running processes"
            skipped.append(Skipped(where, reason, SkipKind.UNREADABLE))
        return CollectorResult(records=records, skipped=skipped)

    def _records(self, process: ProcessEnvironment, source: EndpointSource) -> list[Record]:
        records: list[Record] = []
        identity = (("pid", process.pid), ("name", process.name), ("user", process.user))
        for name, value in process.variables:
            settings = classify_all(name, value, self.options.watch)
            if settings:
                records += record_of(
                    settings,
                    name=name,
                    source=source,
                    path=process.where,
                    line=None,
                    found_by=self.id,
                    process=identity,
                )
        return records
