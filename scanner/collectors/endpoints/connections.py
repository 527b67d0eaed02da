"""Open TCP connections to the addresses the policy's hosts resolve to (``--resolve``).

The only collector that uses the network: it asks the system resolver for each watched host, so it
runs only when asked. It then reads the kernel's socket tables (``/proc/net/tcp``, ``tcp6``) for
established or opening connections to those addresses and finds the process owning each socket
through ``/proc/*/fd``. It sees the scanner's own network namespace only (containers with their
own network are not visible), and a socket whose process could not be read (another user's,
without root) is still reported with the user the kernel lists, plus a coverage entry. Where there
is no ``/proc`` (Windows, macOS) the same facts come from ``psutil``, or the report says they were not read.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from scanner.collectors.endpoints.processes import NOT_AVAILABLE, PROC, read_proc
from scanner.collectors.interface import Collector, CollectorResult
from scanner.platforms import has_proc, user_name
from scanner.records import EndpointRecord, Location, Record, Skipped
from scanner.visitors import Entry, Interest
from scanner.vocabulary import EndpointSource, SkipKind

Resolver = Callable[[str], Iterable[str]]
TABLES = ("net/tcp", "net/tcp6")
STATES = {"01": "established", "02": "opening (SYN sent)"}
TABLE_LINE_CAP = 1_000_000
RESOLVE_WORKERS = 16


def system_resolver(host: str) -> list[str]:
    """The addresses the system resolver gives for ``host`` (``/etc/hosts``, DNS...)."""
    import socket  # here, with the threads below: only --resolve uses either (3 ms of every audit's start-up)

    return [str(info[4][0]) for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)]


def resolve_all(hosts: Iterable[str], resolver: Resolver) -> tuple[dict[str, set[str]], list[str]]:
    """``address -> hosts`` for every host that resolves, and the hosts that did not."""
    import socket
    from concurrent.futures import ThreadPoolExecutor

    no_such_host = {socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)}
    hosts = sorted(hosts)
    by_address: dict[str, set[str]] = {}
    failed = []

    def one(host: str) -> list[str] | None:
        try:
            return [_canonical(a) for a in resolver(host)]
        except socket.gaierror as error:
            return [] if error.errno in no_such_host else None  # a name that does not exist has no connections
        except (OSError, UnicodeError, ValueError):
            return None

    with ThreadPoolExecutor(max_workers=RESOLVE_WORKERS) as pool:
        for host, addresses in zip(hosts, pool.map(one, hosts), strict=True):
            if addresses is None:
                failed.append(host)
            for address in addresses or ():
                by_address.setdefault(address, set()).add(host)
    return by_address, failed


def _canonical(address: str) -> str:
    """One spelling per address: IPv4-mapped IPv6 as IPv4, scope ids dropped."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        return str(ip.ipv4_mapped)
    return str(ip)


def _hex_address(text: str) -> str:
    """A ``/proc/net/tcp*`` address (host-order 32-bit words in hex) as an IP string."""
    raw = bytes.fromhex(text)
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return _canonical(str(ipaddress.ip_address(words)))


@dataclass(frozen=True)
class Socket:
    inode: str
    remote: str
    port: int
    state: str
    uid: int


def sockets(proc: str = PROC) -> Iterator[Socket]:
    """Established and opening TCP sockets, as the kernel lists them."""
    for table in TABLES:
        try:
            handle = open(f"{proc}/{table}", encoding="ascii", errors="replace")  # noqa: SIM115 - closed below
        except OSError:
            continue
        with handle:
            next(handle, None)  # the header line
            for number, line in enumerate(handle):
                if number >= TABLE_LINE_CAP:
                    break
                fields = line.split()
                if len(fields) < 10 or fields[3] not in STATES:
                    continue
                address, _, port = fields[2].partition(":")
                try:
                    remote = _hex_address(address)
                    yield Socket(fields[9], remote, int(port, 16), STATES[fields[3]], int(fields[7]))
                except ValueError:
                    continue


def socket_owners(inodes: set[str], proc: str = PROC) -> tuple[dict[str, tuple[str, str]], int]:
    """``inode -> (pid, process name)`` for the sockets asked about, and how many processes could not be read."""
    owners: dict[str, tuple[str, str]] = {}
    unreadable = 0
    wanted = {f"socket:[{inode}]": inode for inode in inodes}
    for pid in (p for p in os.listdir(proc) if p.isdigit()):
        try:
            fds = os.listdir(f"{proc}/{pid}/fd")
        except PermissionError:
            unreadable += 1
            continue
        except OSError:
            continue  # the process ended while we looked
        for fd in fds:
            try:
                inode = wanted.get(os.readlink(f"{proc}/{pid}/fd/{fd}"))
            except OSError:
                continue
            if inode is not None and inode not in owners:
                try:
                    name = read_proc(f"{proc}/{pid}/comm", 256).decode("utf-8", "replace").strip()
                except OSError:
                    name = "?"
                owners[inode] = (pid, name)
    return owners, unreadable


class ConnectionCollector(Collector):
    """Live TCP connections to the policy's hosts, by process (``--resolve``)."""

    id = "connection-collector"
    interest = Interest()
    resolver: Resolver = staticmethod(system_resolver)

    def visit(self, entry: Entry) -> None:
        """Never called: connections are not files."""

    def finish(self) -> CollectorResult:
        if not (self.fs.is_live and self.options.resolve):
            return CollectorResult()
        by_address, failed = resolve_all(self.options.watch.hosts, self.resolver)
        skipped = []
        if failed:
            reason = f"--resolve: {len(failed)} host(s) did not resolve, connections to them cannot be seen: {', '.join(failed)}"
            skipped.append(Skipped("--resolve", reason, SkipKind.UNREADABLE))
        try:
            found, unreadable = proc_connections(by_address) if has_proc() else psutil_connections(by_address)
        except ImportError:
            reason = f"{NOT_AVAILABLE}: live connections are read from /proc on Linux, through psutil elsewhere"
            return CollectorResult(skipped=[*skipped, Skipped("--resolve", reason, SkipKind.UNSUPPORTED)])
        records: list[Record] = []
        for connection in found:
            for host in sorted(by_address[connection.remote]):
                records.append(
                    EndpointRecord(
                        name=host,
                        source=EndpointSource.CONNECTION,
                        locations=(Location(connection.where, None),),
                        found_by=self.id,
                        host=host,
                        process=connection.process,
                        seen=(("address", f"{connection.remote}:{connection.port}"), ("state", connection.state)),
                    )
                )
        if unreadable:
            reason = f"{unreadable} process(es) unreadable: some connections are shown by user only (run as root)"
            skipped.append(Skipped(f"{PROC}/*/fd" if has_proc() else "--resolve", reason, SkipKind.UNREADABLE))
        return CollectorResult(records=records, skipped=skipped)


@dataclass(frozen=True)
class Connection:
    """One connection to a watched address, with what is known of the process that holds it."""

    remote: str
    port: int
    state: str
    where: str
    process: tuple[tuple[str, str], ...]


def proc_connections(by_address: dict[str, set[str]]) -> tuple[list[Connection], int]:
    """Connections from Linux's socket tables; the count is of processes that could not be read
    when some socket's owner stayed unknown."""
    found = [s for s in sockets() if s.remote in by_address]
    owners, unreadable = socket_owners({s.inode for s in found}) if found else ({}, 0)
    connections = []
    for sock in found:
        owner = owners.get(sock.inode)
        process: tuple[tuple[str, str], ...] = (("pid", owner[0]), ("name", owner[1])) if owner else ()
        process += (("user", user_name(sock.uid)),)
        where = f"{PROC}/{owner[0]}" if owner else f"{PROC}/net/tcp"
        connections.append(Connection(sock.remote, sock.port, sock.state, where, process))
    known_all = len(owners) == len({s.inode for s in found})
    return connections, 0 if known_all else unreadable


def psutil_connections(by_address: dict[str, set[str]]) -> tuple[list[Connection], int]:
    """Connections through ``psutil`` (Windows, macOS). Raises ``ImportError`` when it is not installed."""
    import psutil  # only where there is no /proc

    states = {psutil.CONN_ESTABLISHED: STATES["01"], psutil.CONN_SYN_SENT: STATES["02"]}
    try:
        table = psutil.net_connections(kind="tcp")
    except psutil.AccessDenied:  # macOS lists other users' sockets to root only
        return [], 1
    connections = []
    unreadable = 0
    for conn in table:
        if not conn.raddr or conn.status not in states:
            continue
        remote = _canonical(conn.raddr.ip)
        if remote not in by_address:
            continue
        process: tuple[tuple[str, str], ...] = ()
        if conn.pid:
            try:
                owner = psutil.Process(conn.pid)
                process = (("pid", str(conn.pid)), ("name", owner.name()), ("user", owner.username()))
            except psutil.Error:
                unreadable += 1
                process = (("pid", str(conn.pid)),)
        connections.append(Connection(remote, conn.raddr.port, states[conn.status], f"process {conn.pid}", process))
    return connections, unreadable
