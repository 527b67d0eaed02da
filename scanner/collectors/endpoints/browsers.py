"""Visits to the providers' hosts in browsers' histories: Chromium's ``History`` (Chrome, Chromium, Edge,
Brave, Vivaldi, Opera and Electron apps) and Firefox's ``places.sqlite``, in every profile of every user.

An agency order reads "do not view or access any DeepSeek-related websites": a visit to chat.deepseek.com
is use. The history is someone's private record, so only visits to the watched hosts are read — the
filter runs inside SQLite, no other address reaches the scanner — and only counts and dates are kept:
"visited chat.deepseek.com 14 times between ... and ...". The database is opened read-only and immutable
through the guarded reader (``sqlitedb``), so a browser's lock is neither taken nor needed, and nothing is
copied. The policy's ``collect: {browser_history: false}`` (or ``--no-browser-history``) turns it off.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from scanner.collectors.endpoints.sqlitedb import matching_rows
from scanner.collectors.endpoints.structured import NotStructured
from scanner.collectors.interface import CollectOptions, Collector, CollectorResult
from scanner.fsview import FileRefused, RootFS, describe_refusal, refusal_kind
from scanner.records import EndpointRecord, Location, Record, Skipped
from scanner.urls import url_host
from scanner.visitors import Entry, Interest
from scanner.vocabulary import EndpointSource, SkipKind

HISTORY_STEPS = 200_000
"""SQLite progress-handler calls (of 1,000 steps each) for one history: a large history is searched in
about a second, and a planted one cannot cost more."""
_CHROMIUM_EPOCH = datetime(1601, 1, 1, tzinfo=timezone.utc)
URL_CAP = 2048
"""Characters of an address read: its host is at its start. Every column is bounded inside SQLite, for a
planted history can make one stored value answer for every row (a column default, or a ``visits`` row
that all ``urls`` rows share through one ``id``): 4 MiB returned 10,000 times would be 40 GB."""


def _integer(column: str) -> str:
    """A column as SQLite gives it when it holds an integer, else NULL (not a planted string or blob)."""
    return f"CASE WHEN typeof({column}) = 'integer' THEN {column} END"


@dataclass(frozen=True)
class _Layout:
    tables: tuple[str, ...]
    urls: str
    first_visit: str
    epoch: datetime


_CHROMIUM = _Layout(
    ("urls", "visits"),
    f"SELECT substr(url, 1, {URL_CAP}), {_integer('visit_count')}, {_integer('last_visit_time')}"
    " FROM urls WHERE {filter}",
    "(SELECT MIN(visit_time) FROM visits WHERE visits.url = urls.id AND typeof(visit_time) = 'integer')",
    _CHROMIUM_EPOCH,
)
_FIREFOX = _Layout(
    ("moz_places", "moz_historyvisits"),
    f"SELECT substr(url, 1, {URL_CAP}), {_integer('visit_count')}, {_integer('last_visit_date')}"
    " FROM moz_places WHERE {filter}",
    "(SELECT MIN(visit_date) FROM moz_historyvisits WHERE place_id = moz_places.id AND typeof(visit_date) = 'integer')",
    datetime(1970, 1, 1, tzinfo=timezone.utc),
)
LAYOUTS = {"History": _CHROMIUM, "places.sqlite": _FIREFOX}


def _time(value: object, epoch: datetime) -> datetime | None:
    if not isinstance(value, int) or value <= 0:
        return None
    try:
        return epoch + timedelta(microseconds=value)
    except OverflowError:
        return None


def _owner(path: str) -> str:
    """The account whose home holds the profile (``/home/alice/...``, ``/Users/alice/...``)."""
    parts = path.split("/")
    for index, part in enumerate(parts[:-1]):
        if part.lower() in ("home", "users") and index + 1 < len(parts) - 1:
            return parts[index + 1]
    return "root" if path.startswith("/root/") else "?"


def browser_name(path: str) -> str:
    """The browser a profile folder belongs to, from its path."""
    lower = path.lower()
    for marker, name in (
        ("firefox", "Firefox"), ("mozilla", "Firefox"), ("microsoft-edge", "Edge"), ("microsoft/edge", "Edge"),
        ("bravesoftware", "Brave"), ("vivaldi", "Vivaldi"), ("opera", "Opera"), ("chromium", "Chromium"),
        ("google-chrome", "Chrome"), ("google/chrome", "Chrome"),
    ):  # fmt: skip
        if marker in lower:
            return name
    return "a Chromium-based application"


@dataclass
class _Visits:
    """Visits to one host, counted while the rows are read."""

    count: int = 0
    first: datetime | None = None
    last: datetime | None = None

    def add(self, count: object, first: datetime | None, last: datetime | None) -> None:
        self.count += count if isinstance(count, int) and count > 0 else 1
        for stamp in (first, last):
            if stamp is not None:
                self.first = stamp if self.first is None else min(self.first, stamp)
                self.last = stamp if self.last is None else max(self.last, stamp)

    def facts(self) -> tuple[tuple[str, str], ...]:
        dates = (("first", self.first), ("last", self.last))
        return (("visits", str(self.count)), *((k, f"{v:%Y-%m-%dT%H:%M:%SZ}") for k, v in dates if v is not None))


class BrowserHistoryCollector(Collector):
    """Visits to the watched hosts in Chromium and Firefox histories, as counts and dates."""

    id = "browser-history-collector"
    interest = Interest(file_names=frozenset(LAYOUTS))

    def __init__(self, fs: RootFS, options: CollectOptions | None = None) -> None:
        super().__init__(fs, options)
        self._records: list[Record] = []
        self._skipped: list[Skipped] = []

    def visit(self, entry: Entry) -> None:
        if not self.options.browser_history:
            return
        layout = LAYOUTS[entry.name]
        hosts = sorted(self.options.watch.hosts)
        if not hosts:
            return
        # instr() on the lower-cased address for each host: a cheap filter SQLite runs, checked exactly below
        where = " OR ".join("instr(lower(url), ?) > 0" for _ in hosts)
        query = layout.urls.format(filter=where).replace(" FROM", f", {layout.first_visit} FROM", 1)
        try:
            rows = matching_rows(self.fs, entry.real_path, layout.tables, query, tuple(hosts), HISTORY_STEPS)
        except NotStructured as error:
            self._skipped.append(Skipped(entry.path, f"browser history unreadable: {error}", SkipKind.UNREADABLE))
            return
        except (OSError, FileRefused) as error:
            reason = f"browser history unreadable: {describe_refusal(error)}"
            self._skipped.append(Skipped(entry.path, reason, refusal_kind(error)))
            return
        visits: dict[str, _Visits] = {}
        for url, count, last, first in rows:
            host = url_host(url) if isinstance(url, str) else None
            if not host or not self.options.watch.host_is_watched(host):
                continue  # a watched name elsewhere in the address (a search for "deepseek"): not a visit
            seen = visits.setdefault(host, _Visits())
            seen.add(count, _time(first, layout.epoch), _time(last, layout.epoch))
        who = (
            ("browser", browser_name(entry.path)),
            ("profile", os.path.basename(os.path.dirname(entry.path))),
            ("user", _owner(entry.path)),
        )
        for host, seen in sorted(visits.items()):
            self._records.append(
                EndpointRecord(
                    name=host,
                    source=EndpointSource.BROWSER_HISTORY,
                    locations=(Location(entry.path),),
                    found_by=self.id,
                    host=host,
                    seen=(*seen.facts(), *who),
                )
            )

    def finish(self) -> CollectorResult:
        return CollectorResult(records=self._records, skipped=self._skipped)
