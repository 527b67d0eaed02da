"""The report document: the JSON contract that every output format, the store and the collector share.

Its JSON Schema is ``scanner/schemas/report.schema.json`` (tests validate every report against
it). ``schema_version`` follows semantic versioning: a new optional field is a minor change, a
removed or renamed field a major one. Reporters render this document rather than live objects,
so a scan read back from the store (``scanner show``) renders exactly like a fresh one.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from scanner.limits import bounded
from scanner.result import ScanResult
from scanner.vocabulary import SkipKind

SCHEMA_VERSION = "1.6.0"
"""1.1.0: findings carry ``waiver``; an optional ``changes`` section compares with the previous scan.
1.2.0: an optional ``agent`` section carries the agent's tags.
1.3.0: the coverage kind ``special-file``; new values in free-form attributes (endpoint ``sdk``,
``context``, ``mention``; package ``requires``; model store ``named`` and format ``dataset``; the
``npm`` ecosystem and Node environment kinds; the ``config-file`` endpoint source).
1.4.0: DNS and proxy log records say who: endpoint attributes ``clients`` (address, count, first, last,
users) and ``other_clients``; their ``seen.first``/``seen.last`` are ISO 8601 UTC (were as the log wrote
them). An optional ``sources`` object: each source the findings cite, by id, with its title, date, kind and
URLs. New values in free-form attributes: the ``maven``, ``go`` and ``cargo`` ecosystems and the ``manifest`` environment kind,
package ``described_api_hosts``.
1.5.0: new values in free-form attributes: the ``app``, ``vscode``, ``chrome`` and ``firefox`` ecosystems and
the environment kinds of apps and extensions; package ``display_name`` and ``reaches``.
1.6.0: an optional ``scan.resources``: the scanning process's peak memory and CPU seconds."""

Report = dict[str, Any]
FleetSummary = dict[str, Any]
"""The fleet summary document: made by the collector from its hosts' latest reports
(``scanner.fleet.collector.summary``), written as JSON or rendered by the fleet reporters."""


def utc_now() -> str:
    """A report timestamp: UTC, seconds, ``Z`` (``2026-11-29T12:35:22Z``)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def report_dict(result: ScanResult, texts: dict[int, str] | None = None) -> Report:
    """The report document of a scan, within ``scanner.limits``: what every format, the store and the fleet get
    (``texts``: see ``limits.bounded``)."""
    scan = result.scan
    coverage = result.coverage
    return bounded(
        {
            "schema_version": SCHEMA_VERSION,
            "scan": {
                "id": scan.id,
                "host": scan.host,
                "started": scan.started,
                "finished": scan.finished,
                "scanner_version": scan.scanner_version,
                "root": scan.root,
                "roots": list(scan.roots),
                "excludes": list(scan.excludes),
                "policy_mode": scan.policy_mode,
                "policy": list(scan.policy_files),
                "coverage": {
                    "dirs": coverage.dirs,
                    "files": coverage.files,
                    "skipped": [s.to_dict() for s in coverage.skipped],
                    "complete": coverage.complete,
                },
                **({"resources": scan.resources.to_dict()} if scan.resources is not None else {}),
            },
            "inventory": [
                {
                    "id": record.id,
                    "kind": record.kind,
                    "name": record.name,
                    "version": record.version,
                    "location": {"path": record.locations[0].path, "line": record.locations[0].line},
                    "attributes": record.attributes(),
                }
                for record in result.records
            ],
            "findings": [finding.to_dict() for finding in result.findings],
            "sources": {source.id: source.to_dict() for source in result.sources},
            "summary": result.summary.to_dict(),
        },
        texts,
    )


def verdict(report: Report) -> str:
    """``COMPLIANT``, ``NOT COMPLIANT`` or ``INCOMPLETE SCAN``: what an official reads first.

    A scan that could not read part of the disk cannot vouch for it, so an incomplete scan with no
    violation is not called compliant; one with violations is not compliant whatever it missed.
    """
    return verdict_of(report["summary"]["compliant"], report["summary"]["complete"])


def verdict_of(compliant: bool, complete: bool) -> str:
    """The verdict rule, for a report or a stored scan's counts."""
    if not compliant:
        return "NOT COMPLIANT"
    return "COMPLIANT" if complete else "INCOMPLETE SCAN"


def is_gap(skipped: dict[str, Any]) -> bool:
    """A coverage entry for what the scan could not see, as opposed to what it chose not to look at."""
    return not SkipKind(skipped["kind"]).chosen


def location_text(location: dict[str, Any]) -> str:
    return str(location["path"]) + (f":{location['line']}" if location.get("line") else "")


def policy_text(report: Report) -> str:
    return ", ".join(f"{p['id']} {p['version']}" for p in report["scan"]["policy"])
