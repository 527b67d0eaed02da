"""Shared by the endpoint collectors: turning classified settings into records, and package folders."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from scanner.collectors.endpoints.settings import Setting
from scanner.records import EndpointRecord, Location
from scanner.vocabulary import EndpointSource

PACKAGE_DIRS = frozenset({"site-packages", "dist-packages", "node_modules"})
RECORDS_PER_FILE = 500
"""A real settings file names a few dozen models and endpoints; a file with 20,000 is data or an attack,
and recording them all would make a report of megabytes."""


def in_package(path: str) -> bool:
    """Library code installed on the machine, not configuration or code people wrote."""
    return any(part in PACKAGE_DIRS for part in path.split("/"))


def record_of(
    settings: Iterable[Setting],
    *,
    name: str,
    source: EndpointSource,
    path: str,
    line: int | Callable[[Setting], int | None] | None,
    found_by: str,
    tool: str | None = None,
    process: tuple[tuple[str, str], ...] = (),
    library: bool | None = None,
) -> list[EndpointRecord]:
    """Records for settings read together (one configuration object, one variable, one line).

    When the object is unambiguous — at most one URL, one provider and one model — they make one
    record, with the key beside them (Continue's ``{provider, model, apiKey}``). When it is not (an
    ``env`` block with two base URLs and three models, Cline's act and plan providers), each URL,
    provider and model is a record of its own, so that none is judged by another's company. A
    provider's own variable always stands on its own too (a key with no endpoint is a warning).

    ``line`` is the line they are all on, or gives the line each setting is written on; ``library`` whether this is installed library
    code (``None``: decided by the path).
    """
    settings = list(settings)
    urls = [s for s in settings if s.host]
    providers = [s for s in settings if s.provider]
    models = [s for s in settings if s.model]
    keys = [s for s in settings if s.secret and not s.host]
    base = {
        "source": source,
        "found_by": found_by,
        "tool": tool,
        "in_package": in_package(path) if library is None else library,
        "process": process,
    }

    def record(primary: Setting, **fields: object) -> EndpointRecord:
        where = Location(path, line(primary) if callable(line) else line)
        return EndpointRecord(name=name, locations=(where,), **base, **fields)  # type: ignore[arg-type]

    records: list[EndpointRecord] = []
    used: set[int] = set()
    if len(urls) <= 1 and len(providers) <= 1 and len(models) <= 1:
        candidates = urls or providers or models or keys or settings
        if candidates:
            primary = candidates[0]
            secret = primary.secret or (keys[0].secret if keys else None)
            records.append(
                record(
                    primary,
                    url=primary.url,
                    host=primary.host,
                    variable=primary.name if primary.host or len(settings) == 1 or primary.watched else None,
                    provider_hint=providers[0].provider if providers else None,
                    model=models[0].model if models else None,
                    secret=secret,
                )
            )
            used = {id(s) for s in (*urls, *providers, *models, *keys[:1], primary)}
    else:
        for s in (*urls, *providers, *models):
            records.append(
                record(
                    s, url=s.url, host=s.host, variable=s.name, provider_hint=s.provider, model=s.model, secret=s.secret
                )
            )
            used.add(id(s))
    for s in settings:  # provider variables not already a record's own
        if s.watched and id(s) not in used:
            records.append(record(s, variable=s.name, secret=s.secret))
    return records
