"""Which watched hosts were actually looked up or fetched: DNS and proxy logs named on the command line.

Formats: dnsmasq (``query[A] host from client``), the BIND query log (``query: host IN A``), Zeek
``dns.log`` (tab-separated with a ``#fields`` header, or one JSON object per line) and the squid
native ``access.log``. Lines in none of them are counted and skipped, never fatal. Only watched hosts
are kept, each with how often it appears and when it was first and last seen.
"""

from __future__ import annotations

import errno
import gzip
import io
import json
import os
import re
import stat
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone

from scanner.collectors.interface import Collector, CollectorResult, WatchList
from scanner.records import EndpointRecord, Location, Record, Skipped
from scanner.urls import url_host
from scanner.vocabulary import EndpointSource, SkipKind
from scanner.walk import Entry, Interest

LOG_CAP = 512 << 20
"""A log is streamed line by line; this bounds how much of one is read."""
LINE_CAP = 64 << 10
LOG_LINES_CAP = 50_000_000
"""Lines read at most per log (a busy resolver's day is a few million)."""

_DNSMASQ = re.compile(r"^(?P<ts>\w{3}\s+\d+\s[\d:]{8}).*?dnsmasq(?:\[\d+\])?: query\[\w+\] (?P<host>\S+) from \S+")
_BIND = re.compile(r"^(?P<ts>\d{2}-\w{3}-\d{4} [\d:.]+).*?query: (?P<host>\S+) IN \S+")
_SQUID = re.compile(r"^(?P<ts>\d{9,}\.\d+)\s+\d+\s+\S+\s+\S+/\d{3}\s+\d+\s+(?P<method>[A-Z]+)\s+(?P<url>\S+)")


@dataclass
class _Seen:
    count: int = 0
    first: str = ""
    last: str = ""
    line: int = 0


def _epoch(value: str) -> str:
    """Epoch seconds as a timestamp; ``ValueError`` for anything that is no time (``1e300``, ``inf``, ``nan``)."""
    try:
        moment = datetime.fromtimestamp(float(value), tz=timezone.utc)
    except (OverflowError, OSError) as error:
        raise ValueError(f"not a time: {value[:40]!r}") from error
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass
class LogReader:
    """One log file's parse: hosts seen and lines that were not understood."""

    watch: WatchList
    hosts: dict[str, _Seen] = field(default_factory=dict)
    lines: int = 0
    malformed: int = 0
    truncated: bool = False
    _zeek_fields: list[str] | None = None

    def _see(self, host: str, when: str, number: int) -> None:
        host = host.rstrip(".").lower()
        if not self.watch.host_is_watched(host):
            return
        seen = self.hosts.setdefault(host, _Seen(first=when, line=number))
        seen.count += 1
        seen.last = when

    def feed(self, number: int, line: str) -> None:
        self.lines += 1
        if line.startswith("#"):
            if line.startswith("#fields"):
                self._zeek_fields = line.split("\t")[1:]
            return
        for parse in self._parsers():
            if parse(number, line):
                return
        self.malformed += 1

    def _parsers(self) -> list[Callable[[int, str], bool]]:
        return [self._dnsmasq, self._bind, self._zeek_tsv, self._zeek_json, self._squid]

    def _dnsmasq(self, number: int, line: str) -> bool:
        match = _DNSMASQ.match(line)
        if match:
            self._see(match["host"], match["ts"], number)
        other = ("dnsmasq" in line) and any(
            word in line for word in (": reply ", ": forwarded ", ": cached ", ": config ")
        )
        return bool(match) or other

    def _bind(self, number: int, line: str) -> bool:
        match = _BIND.match(line)
        if match:
            self._see(match["host"], match["ts"], number)
        return bool(match)

    def _zeek_tsv(self, number: int, line: str) -> bool:
        if not self._zeek_fields or "\t" not in line:
            return False
        values = line.split("\t")
        if len(values) != len(self._zeek_fields) or "query" not in self._zeek_fields:
            return False
        row = dict(zip(self._zeek_fields, values, strict=True))
        try:
            when = _epoch(row.get("ts", "0"))
        except ValueError:
            return False
        if row["query"] not in ("-", ""):
            self._see(row["query"], when, number)
        return True

    def _zeek_json(self, number: int, line: str) -> bool:
        if not line.startswith("{"):
            return False
        try:
            row = json.loads(line)
            when = _epoch(str(row.get("ts", 0))) if isinstance(row.get("ts"), (int, float)) else str(row.get("ts", ""))
        except (ValueError, OverflowError, RecursionError, AttributeError):
            return False
        if not isinstance(row, dict) or not isinstance(row.get("query"), str):
            return False
        self._see(row["query"], when, number)
        return True

    def _squid(self, number: int, line: str) -> bool:
        match = _SQUID.match(line)
        if not match:
            return False
        url = match["url"]
        host = url.rsplit(":", 1)[0] if match["method"] == "CONNECT" else url_host(url)
        try:
            when = _epoch(match["ts"])
        except (ValueError, OverflowError):
            return False
        if host:
            self._see(host, when, number)
        return True


def _open_log(path: str) -> io.BufferedReader:
    """A regular file, never a FIFO or device (``O_NONBLOCK``, then ``fstat``)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _lines(handle: gzip.GzipFile | io.BufferedReader) -> Iterator[tuple[bytes, int]]:
    """``(line, bytes it took)``; a line is kept up to ``LINE_CAP`` bytes, the rest is read past (and
    counted, so that a log of one endless line still stops at ``LOG_CAP``), never held."""
    while raw := handle.readline(LINE_CAP):
        size = len(raw)
        rest = raw
        while not rest.endswith(b"\n") and (rest := handle.readline(LINE_CAP)):
            size += len(rest)
            if size > LOG_CAP:
                break
        yield raw, size


def read_log(path: str, watch: WatchList) -> LogReader:
    """Stream one log, plain or gzip (raises ``OSError`` when it cannot be read)."""
    reader = LogReader(watch)
    read = 0
    with _open_log(path) as file:
        gzipped = file.peek(2)[:2] == b"\x1f\x8b"  # rotated logs: access.log.1.gz
        handle: gzip.GzipFile | io.BufferedReader = gzip.GzipFile(fileobj=file) if gzipped else file
        try:
            for number, (raw, size) in enumerate(_lines(handle), start=1):
                read += size
                if read > LOG_CAP or number > LOG_LINES_CAP:
                    reader.truncated = True
                    break
                if raw.strip():
                    reader.feed(number, raw[:LINE_CAP].decode("utf-8", "replace").rstrip("\r\n"))
        except (EOFError, gzip.BadGzipFile, zlib.error) as error:
            raise OSError(errno.EIO, f"damaged gzip data after line {reader.lines}: {error}") from error
    return reader


class LogCollector(Collector):
    """Banned hosts actually contacted, from ``--dns-log`` and ``--proxy-log`` files."""

    id = "log-collector"
    interest = Interest()

    def visit(self, entry: Entry) -> None:
        """Never called: the logs are named on the command line."""

    def finish(self) -> CollectorResult:
        result = CollectorResult()
        logs: list[tuple[str, EndpointSource]] = [(p, EndpointSource.DNS_LOG) for p in self.options.dns_logs]
        logs += [(p, EndpointSource.PROXY_LOG) for p in self.options.proxy_logs]
        for path, source in logs:
            try:
                reader = read_log(path, self.options.watch)
            except OSError as error:
                result.skipped.append(Skipped(path, f"log unreadable: {error.strerror or error}", SkipKind.UNREADABLE))
                continue
            if reader.truncated:
                reason = f"only the first {LOG_CAP >> 20} MiB or {LOG_LINES_CAP:,} lines read; the rest was not checked"
                result.skipped.append(Skipped(path, reason, SkipKind.UNSUPPORTED))
            if reader.malformed:
                reason = f"{reader.malformed} of {reader.lines} line(s) in no known log format, skipped"
                result.skipped.append(Skipped(path, reason, SkipKind.UNSUPPORTED))
            records: list[Record] = [
                EndpointRecord(
                    name=host,
                    source=source,
                    locations=(Location(path, seen.line),),
                    found_by=self.id,
                    host=host,
                    seen=(("count", str(seen.count)), ("first", seen.first), ("last", seen.last)),
                )
                for host, seen in sorted(reader.hosts.items())
            ]
            result.records += records
        return result
