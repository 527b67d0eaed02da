"""Which watched hosts were actually looked up or fetched, by whom and when: DNS and proxy logs named on
the command line.

Formats: dnsmasq (``query[A] host from client``), the BIND query log (``client @0x.. 10.0.0.5#port
(host): query: host IN A``), Zeek ``dns.log`` (tab-separated with a ``#fields`` header, or one JSON
object per line) and the squid native ``access.log``. Lines in none of them are counted and skipped,
never fatal. Only watched hosts are kept: for each, how often and when it was first and last seen
(ISO 8601 UTC, see ``logtimes``) and which clients asked, with the user where the log names one. A log
is hostile input, so what is kept is bounded: hosts per log, clients per log, users per client.
"""

from __future__ import annotations

import errno
import gzip
import io
import ipaddress
import json
import os
import stat
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from scanner.collectors.endpoints.logtimes import (
    BIND_TIME,
    ISO_TIME,
    SYSLOG_TIME,
    SyslogClock,
    bind_time,
    epoch_time,
    iso_time,
)
from scanner.collectors.interface import Collector, CollectorResult, WatchList
from scanner.patterns import LazyPattern
from scanner.records import EndpointRecord, Location, LogClient, OtherClients, Record, Skipped
from scanner.urls import url_host
from scanner.visitors import Entry, Interest
from scanner.vocabulary import EndpointSource, SkipKind

LOG_CAP = 512 << 20
"""A log is streamed line by line; this bounds how much of one is read."""
LINE_CAP = 64 << 10
LOG_LINES_CAP = 50_000_000
"""Lines read at most per log (a busy resolver's day is a few million)."""
HOSTS_CAP = 1_000
"""Watched hosts itemised per log (a real log names a few; a flood of sub-domains is a gap, not a list)."""
CLIENT_SLOTS = 20_000
"""Host and client pairs counted one by one per log; past it, a client seen once makes room for a new one."""
USERS_CAP = 10
"""Users kept per client."""
CLIENTS_KEPT = 50
"""Clients a record lists per host, the busiest; the rest are counted."""
NAME_CAP = 64
"""Characters kept of a client or user name (an IPv6 address with its zone fits)."""
UNKNOWN = "unknown"
"""The client of a line that names none."""

_DNSMASQ = LazyPattern(
    rf"^(?P<ts>{SYSLOG_TIME}|{ISO_TIME}) .*?dnsmasq(?:\[\d+\])?: (?:\d+ \S+ )?"  # log-queries=extra: "7 10.0.0.5/53 "
    r"query\[\w+\] (?P<host>\S+) from (?P<client>\S+)"
)
_BIND = LazyPattern(rf"^(?P<ts>{BIND_TIME}|{ISO_TIME}) .*?query: (?P<host>\S+) IN \S+")
_BIND_CLIENT = LazyPattern(r"\bclient (?:@0x[0-9a-fA-F]+ )?(?P<client>[^\s#]+)#\d+")
_SQUID = LazyPattern(
    r"^(?P<ts>\d{9,}\.\d+)\s+\d+\s+(?P<client>\S+)\s+\S+/\d{3}\s+\d+\s+(?P<method>[A-Z]+)\s+(?P<url>\S+)"
    r"(?:\s+(?P<user>\S+))?"
)


def _cut(value: str) -> str:
    """A name as the log writes it, never longer than ``NAME_CAP``."""
    return value if len(value) <= NAME_CAP else value[: NAME_CAP - 1] + "…"


def _address(value: str) -> str:
    """A client as the log writes it, an IP address normalised (``2001:DB8:0::7`` is ``2001:db8::7``)."""
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return _cut(value)


@dataclass(slots=True)
class Tally:
    """How often and when; the times are ISO 8601 UTC, so they compare as strings."""

    count: int = 0
    first: str = ""
    last: str = ""

    def add(self, when: str) -> None:
        self.count += 1
        if not self.first or when < self.first:
            self.first = when
        if when > self.last:
            self.last = when


@dataclass(slots=True)
class ClientTally(Tally):
    users: dict[str, None] = field(default_factory=dict)
    """An ordered set: first met first."""
    more_users: bool = False


@dataclass(slots=True)
class HostTally(Tally):
    line: int = 0
    """Where the host was first met."""
    clients: dict[str, ClientTally] = field(default_factory=dict)
    dropped: int = 0
    """Clients seen once, dropped from ``clients`` to make room for others (one may come back, and count again)."""
    uncounted: int = 0
    """Lookups by clients met when no room could be made (every counted client was seen more than once)."""

    def busiest(self) -> tuple[tuple[LogClient, ...], OtherClients | None]:
        """The ``CLIENTS_KEPT`` busiest clients (of equals, the earliest), and the others counted."""
        ranked = sorted(self.clients.items(), key=lambda item: (-item[1].count, item[1].first, item[0]))
        kept = tuple(
            LogClient(address, c.count, c.first, c.last, tuple(c.users), c.more_users)
            for address, c in ranked[:CLIENTS_KEPT]
        )
        rest = ranked[CLIENTS_KEPT:]
        if not rest and not self.dropped and not self.uncounted:
            return kept, None
        count = sum(c.count for _, c in rest) + self.dropped
        return kept, OtherClients(len(rest) + self.dropped, count, self.dropped, self.uncounted)


@dataclass
class LogReader:
    """One log file's parse: hosts seen, by whom, and lines that were not understood."""

    watch: WatchList
    clock: SyslogClock
    """Dates syslog lines, which carry no year, by the log file's time."""
    hosts: dict[str, HostTally] = field(default_factory=dict)
    lines: int = 0
    malformed: int = 0
    truncated: bool = False
    hosts_over: int = 0
    """Lines naming a watched host past ``HOSTS_CAP`` other ones."""
    _slots: int = 0
    _once: deque[tuple[HostTally, str, ClientTally]] = field(default_factory=deque)
    """Counted clients, oldest first, that may still have been seen only once (see ``_room``)."""
    _names: dict[str, str] = field(default_factory=dict)
    """Client names as written, normalised once (up to ``CLIENT_SLOTS``: a flood of addresses is not kept)."""
    _zeek_fields: list[str] | None = None

    def _see(
        self, host: str, time: Callable[[str], str], raw_time: str, number: int, client: str, user: str = ""
    ) -> bool:
        """Count one line that names ``host``; ``False`` when its time is no time (the line is malformed).
        A time is only read for a watched host: most lines of a log are about other hosts."""
        host = host.rstrip(".").lower()
        if not self.watch.host_is_watched(host):
            return True
        try:
            when = time(raw_time)
        except ValueError:
            return False
        tally = self.hosts.get(host)
        if tally is None:
            if len(self.hosts) >= HOSTS_CAP:
                self.hosts_over += 1
                return True
            tally = self.hosts[host] = HostTally(line=number)
        tally.add(when)
        client = self._client(client)
        who = tally.clients.get(client)
        if who is None:
            if not self._room():
                tally.uncounted += 1
                return True
            who = tally.clients[client] = ClientTally()
            self._once.append((tally, client, who))
        who.add(when)
        if user and user != "-" and user not in who.users:
            user = _cut(user)
            if len(who.users) < USERS_CAP:
                who.users[user] = None
            elif user not in who.users:
                who.more_users = True
        return True

    def _room(self) -> bool:
        """Room to count one more client: within ``CLIENT_SLOTS``, or by dropping the oldest client seen
        once. A flood of addresses then costs a bounded table, and a busy client met after it is still
        counted exactly; clients seen more than once are never dropped."""
        if self._slots < CLIENT_SLOTS:
            self._slots += 1
            return True
        while self._once:
            tally, name, who = self._once.popleft()
            if who.count == 1:
                del tally.clients[name]
                tally.dropped += 1
                return True
        return False

    def _client(self, written: str) -> str:
        name = self._names.get(written)
        if name is None:
            name = _address(written) if written else UNKNOWN
            if len(self._names) < CLIENT_SLOTS and len(written) <= NAME_CAP:
                self._names[written] = name
        return name

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
            time = iso_time if match["ts"][:1].isdigit() else self.clock
            return self._see(match["host"], time, match["ts"], number, match["client"])
        return ("dnsmasq" in line) and any(
            word in line for word in (": reply ", ": forwarded ", ": cached ", ": config ")
        )

    def _bind(self, number: int, line: str) -> bool:
        match = _BIND.match(line)
        if not match:
            return False
        client = _BIND_CLIENT.search(line, 0, match.start("host"))
        time = iso_time if "T" in match["ts"] else bind_time
        return self._see(match["host"], time, match["ts"], number, client["client"] if client else "")

    def _zeek_tsv(self, number: int, line: str) -> bool:
        if not self._zeek_fields or "\t" not in line:
            return False
        values = line.split("\t")
        if len(values) != len(self._zeek_fields) or "query" not in self._zeek_fields:
            return False
        row = dict(zip(self._zeek_fields, values, strict=True))
        if row["query"] in ("-", ""):
            return True
        client = row.get("id.orig_h", "")
        return self._see(row["query"], epoch_time, row.get("ts", ""), number, "" if client == "-" else client)

    def _zeek_json(self, number: int, line: str) -> bool:
        if not line.startswith("{"):
            return False
        try:
            row = json.loads(line)
        except (ValueError, RecursionError):
            return False
        if not isinstance(row, dict) or not isinstance(row.get("query"), str):
            return False
        ts = row.get("ts")
        if isinstance(ts, (int, float)) and not isinstance(ts, bool):
            time, raw = epoch_time, repr(ts)
        elif isinstance(ts, str):
            time, raw = iso_time, ts  # Zeek's JSON::TS_ISO8601
        else:
            return False
        nested = row.get("id")  # flattened ("id.orig_h") by default, nested by some exporters
        client = row.get("id.orig_h", nested.get("orig_h") if isinstance(nested, dict) else None)
        return self._see(row["query"], time, raw, number, client if isinstance(client, str) else "")

    def _squid(self, number: int, line: str) -> bool:
        match = _SQUID.match(line)
        if not match:
            return False
        url = match["url"]
        host = url.rsplit(":", 1)[0] if match["method"] == "CONNECT" else url_host(url)
        if not host:
            return True
        return self._see(host, epoch_time, match["ts"], number, match["client"], match["user"] or "")


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
    read = 0
    with _open_log(path) as file:
        reader = LogReader(watch, SyslogClock(os.fstat(file.fileno()).st_mtime))
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
            if reader.hosts_over:
                reason = (
                    f"{reader.hosts_over} line(s) name other watched hosts past the first {HOSTS_CAP:,}: "
                    "counted, not itemised"
                )
                result.skipped.append(Skipped(path, reason, SkipKind.UNSUPPORTED))
            result.records += [self._record(path, source, host, tally) for host, tally in sorted(reader.hosts.items())]
        return result

    def _record(self, path: str, source: EndpointSource, host: str, tally: HostTally) -> Record:
        clients, others = tally.busiest()
        return EndpointRecord(
            name=host,
            source=source,
            locations=(Location(path, tally.line),),
            found_by=self.id,
            host=host,
            seen=(("count", str(tally.count)), ("first", tally.first), ("last", tally.last)),
            clients=clients,
            other_clients=others,
        )
