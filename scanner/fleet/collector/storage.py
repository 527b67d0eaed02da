"""The collector's storage interface: hosts and their tokens, reports, what the fleet views read, and the
dashboard's users, sessions, API tokens and failed sign-ins.

The collector and ``scanner ingest`` only talk to this interface: SQLite (``sqlite_storage``) for one
collector, PostgreSQL (``postgres_storage``) for several collectors on one database. The per-host limits
on submissions (``HostGate``) are the storage's too, because only it knows whether other collectors share
them; so are the sign-in limits' counts. The dashboard's host listing is filtered and paged in SQL
(``HostFilter``, ``STATE_CONDITIONS``): a page of 50 hosts out of 100,000 never loads the other 99,950.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from scanner.fleet.collector.parts import loads
from scanner.vocabulary import HostState, UserRole


@dataclass(frozen=True)
class HostInfo:
    """One host as the fleet views list it."""

    host: str
    has_token: bool
    revoked: bool
    last_report: str | None
    """Id of the latest report, in the order reports arrived (never by the date a report gives itself)."""
    last_seen: str | None
    """When that scan finished (UTC, ISO 8601), but no later than it arrived: an agent's clock cannot make
    a host look recent."""
    compliant: bool | None
    complete: bool | None
    violations: int
    warnings: int
    reports: int
    lost_reports: int
    """Reports the host's agent had to drop from a full spool, as it told us."""
    tags: dict[str, str] = field(default_factory=dict)
    clock_ahead: int = 0
    """Seconds by which the latest report was dated after it arrived (its host's clock is at least that
    far ahead of the collector's); 0 when it was not. Reports dated further ahead than the intake's
    ``MAX_CLOCK_SKEW`` are refused."""

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> HostInfo:
        """One row of either backend's host listing (the same columns, in the same order)."""
        return cls(
            host=row[0],
            has_token=bool(row[1]),
            revoked=bool(row[2]),
            last_report=row[3],
            last_seen=row[4],
            compliant=None if row[5] is None else bool(row[5]),
            complete=None if row[6] is None else bool(row[6]),
            violations=row[7],
            warnings=row[8],
            reports=row[9],
            lost_reports=row[10],
            tags=loads(row[11])  # a tag may hold a lone surrogate (``json.dumps`` wrote it)
            if row[11]
            else {},
            clock_ahead=row[12],
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "has_token": self.has_token,
            "revoked": self.revoked,
            "last_report": self.last_report,
            "last_seen": self.last_seen,
            "compliant": self.compliant,
            "complete": self.complete,
            "violations": self.violations,
            "warnings": self.warnings,
            "reports": self.reports,
            "lost_reports": self.lost_reports,
            "tags": self.tags,
            "clock_ahead": self.clock_ahead,
        }


@dataclass(frozen=True)
class HostFilter:
    """Which hosts a listing shows: each field given narrows it, ``None`` leaves it open."""

    state: HostState | None = None
    tag: tuple[str, str] | None = None
    """A tag's key and value, both exact, in the host's latest report."""
    provider: str | None = None
    """A provider with an open (unwaived) violation in the host's latest report; any letter case."""
    search: str | None = None
    """Part of the host name; any letter case."""
    name: str | None = None
    """The host name, exactly."""


STATE_CONDITIONS: dict[HostState, str] = {
    HostState.STALE: "({seen} is null or {seen} < {cutoff})",
    HostState.NOT_COMPLIANT: "({seen} >= {cutoff} and r.compliant = 0)",
    HostState.INCOMPLETE: "({seen} >= {cutoff} and r.compliant = 1 and r.complete = 0)",
    HostState.COMPLIANT: "({seen} >= {cutoff} and r.compliant = 1 and r.complete = 1)",
}
"""``summary.host_state`` as SQL on the host listing (``h`` the host, ``r`` its latest report), in either
dialect: ``seen`` is when the latest report was made, ``cutoff`` the placeholder of the time before which
a host is stale. Each uses ``cutoff`` once."""


@dataclass(frozen=True)
class UserInfo:
    """A person who may sign in to the dashboard (never their password hash)."""

    name: str
    role: UserRole
    created: str
    has_api_token: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "role": str(self.role), "created": self.created, "api_token": self.has_api_token}


@dataclass(frozen=True)
class Account:
    """A user as signing in needs them: with the stored password hash."""

    name: str
    role: UserRole
    password_hash: str


@dataclass(frozen=True)
class Entry:
    """What the gate answered a request: whose token it carries, and whether that host may send now."""

    host: str | None
    """``None``: an unknown or revoked token."""
    wait: float = 0.0
    """Seconds before the host may send again (over its rate); 0 when it may."""
    busy: bool = False
    """Another request of the host holds its turn."""
    until: float = 0.0
    """When the turn taken ends by itself; it names the turn, so that only its holder gives it back."""

    @property
    def admitted(self) -> bool:
        """The request holds the host's turn, which ``HostGate.release`` gives back."""
        return self.host is not None and not self.wait and not self.busy


class HostGate(ABC):
    """What one host may send: a burst of reports, then one per ``1/per_second`` seconds, one at a time."""

    @abstractmethod
    def enter(self, token_hash: str) -> Entry:
        """The token's host, the request counted against its rate and, when it may send, its turn taken;
        all in one trip to the database, which every report pays. A turn not released (a collector that
        died) ends by itself after the gate's lease."""

    @abstractmethod
    def release(self, host: str, until: float) -> None:
        """Give back the host's turn taken until ``until``; not a later one (a request that outlived its
        lease must not end the turn of the request admitted after it)."""


@dataclass(frozen=True)
class Turn:
    """A host's turn taken in a gate (``Entry.until`` names it), for ``FleetStorage.store_report`` to give back."""

    gate: HostGate
    host: str
    until: float

    def give_back(self) -> None:
        self.gate.release(self.host, self.until)


class FleetStorage(ABC):
    """Where the collector keeps hosts, tokens and reports. Implementations must be safe to call from
    several threads and several processes (stateless collectors behind a load balancer)."""

    @abstractmethod
    def add_token(self, host: str, token_hash: str) -> None:
        """Register ``host`` with a new token (replacing an older or revoked one)."""

    @abstractmethod
    def revoke_token(self, host: str) -> bool:
        """Revoke the host's token; ``False`` when the host is unknown."""

    @abstractmethod
    def host_of_token(self, token_hash: str) -> str | None:
        """The host a token (by its hash) belongs to; ``None`` for an unknown or revoked token."""

    @abstractmethod
    def store_report(self, report: dict[str, Any], received: str, dropped: int = 0, turn: Turn | None = None) -> bool:
        """Store a checked report; ``False`` (and nothing changed) when this host already sent a report
        with this id. Ids are per host: another host's report with the same id is a different report.

        ``dropped``: reports the host's agent says it had to drop from a full spool since its last delivery.
        ``turn``: the turn this report's host holds, given back once the report is stored or found a
        duplicate: in the same transaction where its gate keeps its turns in this database (a commit and
        a round trip less a report), else just after. Not given back when storing fails.
        """

    @abstractmethod
    def hosts(self) -> list[HostInfo]: ...

    @abstractmethod
    def find_hosts(
        self, chosen: HostFilter, stale_before: str, limit: int, offset: int = 0, after: str | None = None
    ) -> list[HostInfo]:
        """The hosts ``chosen`` lets through, by name: ``limit`` of them from ``offset``, or after the host
        named ``after`` (to read a long listing in chunks). ``stale_before``: when a host's latest report must
        have been made to count as recent (YYYY-MM-DDTHH:MM:SSZ)."""

    @abstractmethod
    def count_hosts(self, chosen: HostFilter, stale_before: str) -> int:
        """How many hosts ``find_hosts`` would list in all."""

    @abstractmethod
    def reports(self, host: str, limit: int = 20) -> list[dict[str, Any]]:
        """A host's most recent reports, last arrived first: id, received, finished, clock_ahead, verdict counts."""

    @abstractmethod
    def report(self, host: str, report_id: str) -> dict[str, Any] | None:
        """A stored report document of ``host``."""

    @abstractmethod
    def latest_reports_for_summary(self, expiring_by: str) -> Iterator[dict[str, Any]]:
        """Each host's latest report document (the last to arrive), by host, read as they are used: a
        hundred thousand documents are never held at once. Of the sections stored apart (``parts.STORED_APART``)
        only the findings are read, and only when one of them is an open violation or a waiver that expires by
        ``expiring_by`` (YYYY-MM-DD): all the fleet summary reads of them (a report stored before parts existed
        holds them all, in its document)."""

    @abstractmethod
    def compliance_by_day(self, since: str) -> list[tuple[str, int, int]]:
        """For each day since ``since`` (YYYY-MM-DD): hosts reporting that day, and how many were compliant
        in their last report of the day (no open violation, and the whole machine read)."""

    @abstractmethod
    def prune(self, keep_last: int, older_than: str | None, dry_run: bool = False) -> int:
        """Remove each host's reports beyond its ``keep_last`` latest that arrived before ``older_than``
        (YYYY-MM-DDTHH:MM:SSZ; ``None``: any date), never a host's latest; how many were (or would be) removed."""

    @abstractmethod
    def size_bytes(self) -> int:
        """The database's size on disk, as the database counts it."""

    # -- the dashboard's users --------------------------------------------------------------------
    @abstractmethod
    def add_user(self, name: str, role: UserRole, password_hash: str, replace: bool = False) -> bool:
        """Add a user; ``False`` (nothing changed) when the name is taken and ``replace`` is not given. Replacing
        a user sets their role and password and ends their sessions."""

    @abstractmethod
    def users(self) -> list[UserInfo]: ...

    @abstractmethod
    def account(self, name: str) -> Account | None: ...

    @abstractmethod
    def remove_user(self, name: str) -> bool:
        """Remove a user with their sessions and API token; ``False`` when there is no such user."""

    @abstractmethod
    def set_api_token(self, name: str, token_hash: str | None) -> bool:
        """Give the user a read-only API token (replacing theirs), or take it away (``None``); ``False``
        when there is no such user."""

    @abstractmethod
    def user_of_api_token(self, token_hash: str) -> UserInfo | None: ...

    @abstractmethod
    def add_session(self, id_hash: str, name: str, created: str, expires: str) -> None:
        """Open a session for ``name`` (and forget every session that has expired)."""

    @abstractmethod
    def session_user(self, id_hash: str, now: str) -> UserInfo | None:
        """Whose session this is, while it has not expired (and its user still exists)."""

    @abstractmethod
    def end_session(self, id_hash: str) -> None: ...

    @abstractmethod
    def sign_in_failures(self, keys: Sequence[str]) -> dict[str, tuple[int, float]]:
        """Failed sign-ins counted under each of ``keys`` that has some: how many, since when (seconds since
        the epoch)."""

    @abstractmethod
    def count_sign_in_failure(self, key: str, now: float, window: float) -> None:
        """Count a failed sign-in under ``key``; a count older than ``window`` seconds starts again at one."""

    @abstractmethod
    def clear_sign_in_failures(self, key: str) -> None: ...

    @abstractmethod
    def forgive_sign_in_failure(self, key: str) -> None:
        """Take back one failed sign-in counted under ``key``: one counted before its password was checked,
        which then was right, or was not checked at all."""

    @abstractmethod
    def gate(self, burst: int, per_second: float, lease: float) -> HostGate:
        """The per-host limits, shared by every collector that shares them (``lease``: seconds a turn lasts at most)."""

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> FleetStorage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def like_pattern(part: str) -> str:
    """A ``LIKE`` pattern (with ``escape '\\'``) for names containing ``part`` as it is written."""
    return "%" + part.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


SIGN_IN_FAILURE = (
    "insert into sign_in_failures (key, failures, since) values (%s, 1, %s) on conflict (key) do update set "
    "failures = case when sign_in_failures.since < %s then 1 else sign_in_failures.failures + 1 end, "
    "since = case when sign_in_failures.since < %s then excluded.since else sign_in_failures.since end"
)
"""One more failed sign-in under a key, in one statement every collector may run at once (parameters: the
key, now, and twice the start of the window); PostgreSQL's placeholders, ``?`` for SQLite."""

FORGIVE_SIGN_IN_FAILURE = "update sign_in_failures set failures = failures - 1 where key = %s and failures > 0"
"""``FleetStorage.forgive_sign_in_failure`` in PostgreSQL's placeholders, ``?`` for SQLite."""

PRUNABLE = (
    "select r.host, r.id from (select host, id, received, row_number() over (partition by host order by {arrival}) "
    "as n from reports r) r join hosts h on h.host = r.host "
    "where r.n > {keep} and r.id <> coalesce(h.last_report, '') and ({date} is null or r.received < {date})"
)
"""The reports retention removes, in either database's dialect (``arrival``: its newest-first order; ``keep``
and ``date``: its placeholders for the count kept and the cut-off date)."""
