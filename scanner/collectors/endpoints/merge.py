"""One record per thing a file configures: a structured reader's record wins over the text scan's.

The text scan reads every file, settings files included, so that what no structured reader knows is
still found (an unknown tool's ``config.json``, a ``Description=`` line of a unit). Where a structured
reader (tool settings, ``.env`` and unit files) recorded something in a file, its records say more
(the key beside it, the tool, the setting's name), so the text scan's record is dropped when it repeats
one of them: the same host, model, provider, SDK or variable (another name on the same line is its own
record: a one-line JSON file holds a whole configuration). A variable a
settings object refers to (``api_key: os.environ/MINIMAX_API_KEY``) is part of the object its reader
recorded, so in a file a structured reader understood, the text scan's variables are dropped too. A
dependency a build file declares is a package record; the text scan's record of the SDK it names goes.
"""

from __future__ import annotations

from collections.abc import Iterable

from scanner.ecosystems import EnvironmentKind
from scanner.records import EndpointRecord, PackageRecord, Record

TEXT_COLLECTOR = "text-collector"


def _keys(record: EndpointRecord) -> set[tuple[str, str]]:
    path = record.locations[0].path
    named = (record.host, record.model, record.provider_hint, record.sdk, record.variable)
    return {(path, value.lower()) for value in named if value}


def prefer_structured(records: Iterable[Record]) -> list[Record]:
    """The records, without text-scan endpoint records that a structured reader's records cover."""
    records = list(records)
    structured: set[tuple[str, str]] = set()
    understood: set[str] = set()
    for record in records:
        if isinstance(record, EndpointRecord) and record.found_by != TEXT_COLLECTOR:
            structured |= _keys(record)
            understood.add(record.locations[0].path)
        elif isinstance(record, PackageRecord) and record.environment.kind == EnvironmentKind.MANIFEST:
            # a dependency a manifest declares is judged as a package: not again as the SDK it names
            name = record.normalized_name
            for where in record.locations:
                structured |= {(where.path, name), (where.path, name.rsplit(":", 1)[-1])}

    def repeated(record: EndpointRecord) -> bool:
        if record.variable and record.locations[0].path in understood:
            return True
        return bool(_keys(record) & structured)

    return [r for r in records if not (isinstance(r, EndpointRecord) and r.found_by == TEXT_COLLECTOR and repeated(r))]
