"""The result of one scan, as the orchestrator fills it and the report document reads it.

It lives below ``audit`` (which fills it) and ``report`` (which turns it into the JSON contract), so
neither needs the other. ``summarize`` is the one place the counts behind the verdict are made.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from scanner.findings import Finding
from scanner.records import ModelRecord, Record, Skipped
from scanner.vocabulary import Severity
from scanner.walk import Coverage


@dataclass(frozen=True)
class Resources:
    """What the scanning process cost the machine, so an admin can see the agent's touch in each report."""

    peak_memory_bytes: int
    """The process's peak resident memory (``ru_maxrss``)."""
    cpu_seconds: float
    """User and system CPU time of the process so far."""

    def to_dict(self) -> dict[str, Any]:
        return {"peak_memory_bytes": self.peak_memory_bytes, "cpu_seconds": self.cpu_seconds}


@dataclass(frozen=True)
class ScanInfo:
    id: str
    host: str
    started: str
    finished: str
    scanner_version: str
    root: str | None
    roots: tuple[str, ...]
    policy_mode: str
    policy_files: tuple[dict[str, str], ...]
    excludes: tuple[str, ...]
    resources: Resources | None = None
    """``None`` where the platform cannot say (Windows has no ``resource`` module)."""


@dataclass(frozen=True)
class Summary:
    violations: int
    warnings: int
    infos: int
    compliant: bool
    """No violation was found (warnings and infos are for review)."""
    complete: bool
    """Everything in scope could be read."""
    by_provider: dict[str, int] = field(default_factory=dict)
    records: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "violations": self.violations,
            "warnings": self.warnings,
            "infos": self.infos,
            "compliant": self.compliant,
            "complete": self.complete,
            "by_provider": self.by_provider,
            "records": self.records,
        }


@dataclass(frozen=True)
class CitedSource:
    """A policy source a finding cites, as the pages name it: an id means nothing to an official."""

    id: str
    title: str
    date: str
    """As the policy gives it: ``2026-04-24``, ``2025-03`` or ``2025``."""
    kind: str
    """``ban``, ``legislation``, ``vendor-docs``... (the policy's ``SourceKind``)."""
    urls: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "date": self.date, "kind": self.kind, "urls": list(self.urls)}


@dataclass(frozen=True)
class ScanResult:
    scan: ScanInfo
    coverage: Coverage
    records: tuple[Record, ...]
    findings: tuple[Finding, ...]
    summary: Summary
    sources: tuple[CitedSource, ...] = ()
    """Every source the findings cite, in the order they are first cited."""


def summarize(findings: tuple[Finding, ...], records: tuple[Record, ...], coverage: Coverage) -> Summary:
    active = [f for f in findings if not f.waived]
    counts = Counter(f.severity for f in active)
    return Summary(
        violations=counts[Severity.VIOLATION],
        warnings=counts[Severity.WARNING],
        infos=counts[Severity.INFO],
        compliant=counts[Severity.VIOLATION] == 0,
        complete=coverage.complete,
        by_provider=dict(sorted(Counter(f.provider or "(none)" for f in active).items())),
        records=dict(sorted(Counter(r.kind for r in records).items())),
    )


@dataclass(frozen=True)
class Explanation:
    """What ``scanner lineage`` found about one model file, folder or name."""

    target: str
    models: tuple[ModelRecord, ...]
    findings: tuple[Finding, ...]
    skipped: tuple[Skipped, ...]
