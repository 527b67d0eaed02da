"""Hosts file entries for watched hosts: pinned to an address, or blocked (``0.0.0.0``, loopback).

The hosts file is ``/etc/hosts`` on Linux, ``/private/etc/hosts`` on macOS and
``C:\\Windows\\System32\\drivers\\etc\\hosts`` on Windows (``scanner.syspaths``)."""

from __future__ import annotations

from scanner.collectors.interface import CollectOptions, Collector, CollectorResult
from scanner.fsview import FileRefused, RootFS, describe_refusal, refusal_kind
from scanner.records import EndpointRecord, Location, Record, Skipped
from scanner.syspaths import is_hosts_file
from scanner.visitors import Entry, Interest
from scanner.vocabulary import EndpointSource

HOSTS_CAP = 1 << 20
BLOCKING = frozenset({"0.0.0.0", "127.0.0.1", "::", "::1"})


class HostsFileCollector(Collector):
    id = "hosts-file-collector"
    interest = Interest(file_names=frozenset({"hosts"}))

    def __init__(self, fs: RootFS, options: CollectOptions | None = None) -> None:
        super().__init__(fs, options)
        self._result = CollectorResult()

    def visit(self, entry: Entry) -> None:
        if not is_hosts_file(entry.path):
            return
        try:
            text, _ = self.fs.read_text(entry.real_path, HOSTS_CAP)
        except (OSError, FileRefused) as error:
            self._result.skipped.append(
                Skipped(entry.path, f"unreadable: {describe_refusal(error)}", refusal_kind(error))
            )
            return
        records: list[Record] = []
        for number, line in enumerate(text.splitlines(), start=1):
            fields = line.split("#", 1)[0].split()
            for name in fields[1:]:
                if self.options.watch.host_is_watched(name):
                    blocked = "yes" if fields[0] in BLOCKING or fields[0].startswith("127.") else "no"
                    records.append(
                        EndpointRecord(
                            name=name.lower(),
                            source=EndpointSource.HOSTS_FILE,
                            locations=(Location(entry.path, number),),
                            found_by=self.id,
                            host=name.lower(),
                            seen=(("address", fields[0]), ("blocked", blocked)),
                        )
                    )
        self._result.records += records

    def finish(self) -> CollectorResult:
        return self._result
