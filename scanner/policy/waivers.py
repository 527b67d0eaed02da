"""Waivers: approved, dated exceptions, applied to the engine's findings.

A research lab may keep DeepSeek weights for red-teaming until a date. A waived finding is still
reported, marked waived with who approved it, why and until when, but does not fail the run. On
the day after its expiry a waiver stops waiving, and says so with a ``waiver-expired`` finding; a
waiver that matches nothing is reported as ``waiver-stale`` so the list does not rot.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from datetime import date
from fnmatch import fnmatchcase

from scanner.findings import Finding, WaiverNote, finding_order
from scanner.policy.dates import read_date
from scanner.policy.schema import Waiver
from scanner.records import Location, Record, stable_id
from scanner.vocabulary import Confidence, RecordKind, RuleId, Severity


def _note(waiver: Waiver) -> WaiverNote:
    return WaiverNote(waiver.reference, waiver.approved_by, waiver.reason, waiver.expires, str(waiver.where))


def _last_day(waiver: Waiver) -> date:
    day = read_date(waiver.expires, "%Y-%m-%d")
    if day is None:  # checked when the waiver was loaded; one made in code is refused as strptime would
        raise ValueError(f"time data {waiver.expires!r} does not match format '%Y-%m-%d'")
    return day


def _host_under(host: str | None, domain: str) -> bool:
    if not host:
        return False
    host, domain = host.lower().rstrip("."), domain.lower().rstrip(".")
    return host == domain or host.endswith("." + domain)


def matches(waiver: Waiver, finding: Finding, host: str | None) -> bool:
    """Every criterion the waiver gives must hold for the finding (and, for ``host``, its endpoint)."""
    return (
        (waiver.rule is None or waiver.rule == finding.rule_id)
        and (waiver.provider is None or waiver.provider == finding.provider)
        and (waiver.path is None or fnmatchcase(finding.location.path, waiver.path))
        and (waiver.host is None or _host_under(host, waiver.host))
    )


def _criteria(waiver: Waiver) -> str:
    given = [("rule", waiver.rule), ("provider", waiver.provider), ("path", waiver.path), ("host", waiver.host)]
    return ", ".join(f"{key} {value}" for key, value in given if value is not None)


def _about_waiver(
    waiver: Waiver, rule_id: RuleId, severity: Severity, subject: str, evidence: tuple[str, ...]
) -> Finding:
    return Finding(
        rule_id=rule_id,
        severity=severity,
        confidence=Confidence.CONFIRMED,
        provider=waiver.provider,
        kind=RecordKind.WAIVER,
        subject=subject,
        location=Location(waiver.where.file, waiver.where.line or None),
        evidence=evidence,
        record_id=stable_id("waiver", waiver.where.file, str(waiver.where.line)),
        record_identity=f"waiver:{waiver.reference}:{_criteria(waiver)}",
        waiver=_note(waiver),
    )


def apply_waivers(
    findings: Sequence[Finding], records: Iterable[Record], waivers: Sequence[Waiver], today: date
) -> list[Finding]:
    """Mark what the waivers in force cover; add a finding for each expired and each unused waiver."""
    if not waivers:
        return list(findings)
    hosts = {r.id: getattr(r, "host", None) for r in records if r.kind == RecordKind.ENDPOINT}
    expired = [w for w in waivers if _last_day(w) < today]
    in_force = [w for w in waivers if _last_day(w) >= today]
    used: set[int] = set()
    result: list[Finding] = []
    for finding in findings:
        waiver = next((w for w in in_force if matches(w, finding, hosts.get(finding.record_id))), None)
        if waiver is not None:
            used.add(id(waiver))
            finding = dataclasses.replace(finding, waived=True, waiver=_note(waiver))
        result.append(finding)
    for waiver in expired:
        covered = sum(1 for f in findings if matches(waiver, f, hosts.get(f.record_id)))
        result.append(
            _about_waiver(
                waiver,
                RuleId.WAIVER_EXPIRED,
                Severity.WARNING,
                f"waiver {waiver.reference} expired on {waiver.expires}",
                (
                    f"Waiver {waiver.reference} ({_criteria(waiver)}), approved by {waiver.approved_by} "
                    f"because {waiver.reason!r}, applied up to {waiver.expires}.",
                    f"It has expired, so the {covered} finding(s) it would cover count again.",
                    "Renew it with a new expiry date, or remove it and the use it allowed.",
                ),
            )
        )
    for waiver in in_force:
        if id(waiver) not in used:
            result.append(
                _about_waiver(
                    waiver,
                    RuleId.WAIVER_STALE,
                    Severity.INFO,
                    f"waiver {waiver.reference} matches nothing",
                    (
                        f"Waiver {waiver.reference} ({_criteria(waiver)}), approved by {waiver.approved_by}, "
                        f"valid up to {waiver.expires}, matched no finding in this scan.",
                        "What it allowed is gone or has moved; remove the waiver or correct its criteria.",
                    ),
                )
            )
    return sorted(result, key=finding_order)
