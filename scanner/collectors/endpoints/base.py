"""Shared by the endpoint collectors: turning classified settings into records, and package folders."""

from __future__ import annotations

from collections.abc import Iterable

from scanner.collectors.endpoints.settings import Setting
from scanner.records import EndpointRecord, EndpointSource, Location

PACKAGE_DIRS = frozenset({"site-packages", "dist-packages", "node_modules"})


def in_package(path: str) -> bool:
    """Library code installed on the machine, not configuration or code people wrote."""
    return any(part in PACKAGE_DIRS for part in path.split("/"))


def record_of(
    settings: Iterable[Setting],
    *,
    name: str,
    source: EndpointSource,
    path: str,
    line: int | None,
    found_by: str,
    tool: str | None = None,
    process: tuple[tuple[str, str], ...] = (),
    library: bool | None = None,
) -> list[EndpointRecord]:
    """One record per URL among settings read together (one config object, one variable); the
    provider, model and key beside them go with each, or make a record of their own when no URL does.

    ``library``: whether this is installed library code; ``None`` decides by the path (``in_package``).
    """
    settings = list(settings)
    urls = [s for s in settings if s.host]
    provider = next((s.provider for s in settings if s.provider), None)
    model = next((s.model for s in settings if s.model), None)
    secret = next((s.secret for s in settings if s.secret), None)
    variable = next((s.name for s in settings if s.host), None) or (settings[0].name if len(settings) == 1 else None)
    base = {
        "source": source,
        "locations": (Location(path, line),),
        "found_by": found_by,
        "provider_hint": provider,
        "model": model,
        "secret": secret,
        "tool": tool,
        "in_package": in_package(path) if library is None else library,
        "process": process,
    }
    if urls:
        return [EndpointRecord(name=name, url=u.url, host=u.host, variable=u.name, **base) for u in urls]  # type: ignore[arg-type]
    if provider or model or secret or variable:
        return [EndpointRecord(name=name, variable=variable, **base)]  # type: ignore[arg-type]
    return []
