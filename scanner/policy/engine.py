"""The policy engine: records in, findings out. It never touches the filesystem.

One judge per record kind runs its matchers, drops hits the policy marks as false positives,
keeps one finding per record and provider (the strongest rule, with the other hits' evidence
added), and in allow-list mode reports AI packages that are not approved.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import replace
from typing import Any, ClassVar

from scanner.findings import CONFIDENCE_RANK, SEVERITY_RANK, Finding, MatchDetail, Severity
from scanner.policy.matchers import PACKAGE_MATCHERS, Hit, source_phrase
from scanner.policy.rules import PACKAGE_NOT_ALLOWED
from scanner.policy.schema import Policy, Provider
from scanner.records import PackageRecord, normalize_package_name

_ENVIRONMENT_WORDS = {
    "venv": "virtual environment",
    "pipx": "pipx environment",
    "conda": "conda environment",
    "user-site": "user site-packages",
    "pyenv": "pyenv interpreter",
    "system": "system Python",
    "unknown": "Python environment",
}


class Judge(ABC):
    """Judges records of one kind."""

    kind: ClassVar[str]

    def __init__(self, policy: Policy) -> None:
        self.policy = policy

    @abstractmethod
    def judge(self, record: Any) -> list[Finding]: ...


def provider_sentence(policy: Policy, provider: Provider) -> str:
    """Why the provider matters, with the first sources cited."""
    cited = [policy.sources[s] for s in provider.sources]
    titles = "; ".join(f"{s.title} ({s.date})" for s in cited[:3])
    more = f"; and {len(cited) - 3} more" if len(cited) > 3 else ""
    rating = f"{provider.name} is rated {provider.severity} by this policy"
    return f"{rating}: {provider.reason.strip()} Sources: {titles}{more}."


class PackageJudge(Judge):
    kind = "package"

    def __init__(self, policy: Policy) -> None:
        super().__init__(policy)
        self.matchers = [cls(policy) for cls in PACKAGE_MATCHERS]
        self._false_positives = {
            (provider.id, normalize_package_name(fact.name)): fact
            for provider in policy.providers.values()
            for fact in provider.package_false_positives
        }
        self._ai_packages = {normalize_package_name(f.name): f for f in policy.ai_packages}
        self._allowed_packages = {normalize_package_name(n) for n in policy.allow.packages}
        self._allowed_providers = set(policy.allow.providers)

    def judge(self, record: PackageRecord) -> list[Finding]:
        hits = [
            hit
            for matcher in self.matchers
            for hit in matcher.match(record)
            if (hit.provider.id, record.normalized_name) not in self._false_positives
        ]
        by_provider: dict[str, list[Hit]] = {}
        for hit in hits:
            by_provider.setdefault(hit.provider.id, []).append(hit)
        findings = [
            self._finding(record, group) for group in by_provider.values() if group[0].provider.severity is not None
        ]
        if self.policy.mode == "allowlist":
            if not findings:
                return self._allowlist(record, [group[0].provider for group in by_provider.values()])
            return [self._at_least_allowlist_severity(record, f) for f in findings]
        return findings

    def _approved(self, record: PackageRecord, provider_ids: Iterable[str]) -> bool:
        return record.normalized_name in self._allowed_packages or any(
            p in self._allowed_providers for p in provider_ids
        )

    def _at_least_allowlist_severity(self, record: PackageRecord, finding: Finding) -> Finding:
        """In allow-list mode an unapproved provider is never rated milder than anything unapproved."""
        allow = self.policy.allow
        if self._approved(record, [finding.provider or ""]):
            return finding
        if SEVERITY_RANK[allow.severity] <= SEVERITY_RANK[finding.severity]:
            return finding
        why = (
            f"This policy is an allow-list and {finding.provider} is not an approved provider ({allow.where}), "
            f"so this is rated {allow.severity}."
        )
        return replace(finding, severity=allow.severity, evidence=(*finding.evidence, why))

    def _subject(self, record: PackageRecord) -> str:
        return f"{record.normalized_name} {record.version}" if record.version else record.normalized_name

    def _record_sentence(self, record: PackageRecord) -> str:
        env = record.environment
        version = f" {record.version}" if record.version else ""
        where = f"{_ENVIRONMENT_WORDS[env.kind]} {env.path}"
        return f"package `{record.name}`{version} is installed in the {where} ({record.locations[0].path})."

    def _finding(self, record: PackageRecord, group: list[Hit]) -> Finding:
        group = sorted(group, key=lambda h: -CONFIDENCE_RANK[h.rule.confidence])
        best = group[0]
        provider = best.provider
        severity: Severity = provider.severity or "info"
        if best.severity_cap and SEVERITY_RANK[best.severity_cap] < SEVERITY_RANK[severity]:
            severity = best.severity_cap
        sentences = list(dict.fromkeys(h.sentence for h in group))
        return Finding(
            rule_id=best.rule.id,
            severity=severity,
            confidence=best.rule.confidence,
            provider=provider.id,
            kind=record.kind,
            subject=self._subject(record),
            location=record.locations[0],
            evidence=(
                self._record_sentence(record),
                *sentences,
                provider_sentence(self.policy, provider),
            ),
            record_id=record.id,
            record_identity=record.identity,
            matches=tuple(h.detail for h in group),
            sources=provider.sources,
        )

    def _allowlist(self, record: PackageRecord, providers: list[Provider]) -> list[Finding]:
        name = record.normalized_name
        ai_fact = self._ai_packages.get(name)
        if not providers and ai_fact is None:
            return []  # not known to be AI software: the allow-list does not speak about it
        if self._approved(record, (p.id for p in providers)):
            return []
        allow = self.policy.allow
        if providers:
            why = f"it is a package of {', '.join(p.name for p in providers)}, which is not an approved provider"
            detail = MatchDetail("allowlist", "normalized_name", name, "allow.providers", str(allow.where))
        else:
            assert ai_fact is not None
            why = f"{ai_fact.where} lists it as AI software ({source_phrase(self.policy, ai_fact)})"
            detail = MatchDetail("allowlist", "normalized_name", name, "allow.packages", str(allow.where))
        return [
            Finding(
                rule_id=PACKAGE_NOT_ALLOWED.id,
                severity=allow.severity,
                confidence=PACKAGE_NOT_ALLOWED.confidence,
                provider=providers[0].id if providers else None,
                kind=record.kind,
                subject=self._subject(record),
                location=record.locations[0],
                evidence=(
                    self._record_sentence(record),
                    f"{why}, and it is not in allow.packages ({allow.where}).",
                    "This policy is an allow-list: AI software that is not approved is reported.",
                ),
                record_id=record.id,
                record_identity=record.identity,
                matches=(detail,),
            )
        ]


JUDGES: dict[str, type[Judge]] = {PackageJudge.kind: PackageJudge}


def evaluate(records: Iterable[Any], policy: Policy) -> list[Finding]:
    """Judge every record; findings come sorted most severe first."""
    judges = {kind: cls(policy) for kind, cls in JUDGES.items()}
    findings = [f for record in records for f in judges[record.kind].judge(record)]
    return sorted(
        findings,
        key=lambda f: (-SEVERITY_RANK[f.severity], f.provider or "~", f.kind, f.subject, f.location.path),
    )
