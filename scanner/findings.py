"""Findings: the policy engine's judgements about records, each explaining itself.

A finding carries the rule that fired, how sure we are, the provider, the evidence in plain
words, the structured match details (which matcher, which record field, which policy entry),
and a fingerprint of stable fields so that two scans can be compared.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scanner.records import Location, stable_id
from scanner.vocabulary import Confidence, RecordKind, RuleId, Severity


@dataclass(frozen=True)
class MatchDetail:
    """Why a matcher fired: what it looked at and which policy entry it hit."""

    matcher: str
    """Kebab-case matcher id (``package-name-exact``)."""
    field: str
    """The record field searched (``normalized_name``, ``author_email_domains``...)."""
    value: str
    """The record's value that matched."""
    policy_entry: str
    """The policy item hit, as written (``providers[deepseek].packages: langchain-deepseek``)."""
    policy_location: str
    """``file:line`` of that item."""

    def to_dict(self) -> dict[str, str]:
        return {
            "matcher": self.matcher,
            "field": self.field,
            "value": self.value,
            "policy_entry": self.policy_entry,
            "policy_location": self.policy_location,
        }


@dataclass(frozen=True)
class WaiverNote:
    """The approved exception that waived a finding (or that a ``waiver-*`` finding is about)."""

    reference: str
    approved_by: str
    reason: str
    expires: str
    location: str
    """``file:line`` of the waiver."""

    def to_dict(self) -> dict[str, str]:
        return {
            "reference": self.reference,
            "approved_by": self.approved_by,
            "reason": self.reason,
            "expires": self.expires,
            "location": self.location,
        }


@dataclass(frozen=True)
class Finding:
    """One judgement about one record."""

    rule_id: RuleId
    severity: Severity
    confidence: Confidence
    provider: str | None
    """Policy provider id (``deepseek``); ``None`` for allow-list findings with no known provider."""
    kind: RecordKind
    """Kind of the record judged (``waiver`` for findings about a waiver)."""
    subject: str
    """What it is about, for humans: ``langchain-deepseek 1.1.1``."""
    location: Location
    evidence: tuple[str, ...]
    """Plain sentences, in order: what was found, why it matched, why that matters."""
    record_id: str
    record_identity: str
    matches: tuple[MatchDetail, ...] = ()
    lineage: tuple[str, ...] = ()
    waived: bool = False
    sources: tuple[str, ...] = field(default=())
    """Ids of the policy sources behind the provider's severity."""
    waiver: WaiverNote | None = None
    """The waiver that waived this finding, or that a ``waiver-expired``/``waiver-stale`` finding is about."""

    @property
    def fingerprint(self) -> str:
        """Stable across scans: rule, provider, kind and the record's identity (not time, not version)."""
        return stable_id(self.rule_id, self.provider or "", self.kind, self.record_identity)

    @property
    def id(self) -> str:
        """Unique within a scan (two versions of one package in one environment differ)."""
        return stable_id(self.fingerprint, self.record_id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "rule_id": self.rule_id.value,
            "severity": self.severity.value,
            "confidence": self.confidence.value,
            "provider": self.provider,
            "kind": self.kind.value,
            "subject": self.subject,
            "location": {"path": self.location.path, "line": self.location.line},
            "evidence": list(self.evidence),
            "lineage": list(self.lineage),
            "matches": [m.to_dict() for m in self.matches],
            "sources": list(self.sources),
            "record_id": self.record_id,
            "fingerprint": self.fingerprint,
            "waived": self.waived,
            "waiver": self.waiver.to_dict() if self.waiver else None,
        }


def finding_order(finding: Finding) -> tuple[int, str, str, str, str]:
    """Reports list findings most severe first, then by provider, kind, subject and path."""
    return (
        -finding.severity.rank,
        finding.provider or "~",
        finding.kind,
        finding.subject,
        finding.location.path,
    )
