"""What every judge shares: the hit a matcher returns, and how hits become one finding per provider.

A judge runs its matchers over one record, drops what the policy marks as false positives, groups
the hits by provider and makes one finding per provider: the strongest rule decides, every hit adds
its evidence, the provider's reason and sources follow, and in allow-list mode an unapproved provider
is raised to ``allow.severity``. Packages, models and endpoints differ only in their matchers and in
the sentences that say what the record is (``packages.py``, ``models.py``, ``endpoints.py``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Generic, TypeVar

from scanner.findings import Finding, MatchDetail
from scanner.policy.schema import Fact, Policy, Provider
from scanner.records import Record
from scanner.vocabulary import RULES, Confidence, RecordKind, RuleId, Severity

R = TypeVar("R", bound=Record)


@dataclass(frozen=True)
class Hit:
    """One matcher's positive answer about one record."""

    rule: RuleId
    provider: Provider
    detail: MatchDetail
    sentence: str
    """One plain sentence of evidence: what matched, against which policy line and source."""
    severity_cap: Severity | None = None
    """A heuristic, or library code rather than use, is reported at most at this severity."""
    weak: bool = False
    """The evidence alone proves nothing (an architecture, a name someone gave a file): confidence ``weak``."""
    chain: tuple[str, ...] = ()
    """For models: the lineage chain, one line per link, from the model to the provider."""
    rank: int = 1
    """Among equally confident hits, lower is shown first (declared lineage before given names)."""

    @property
    def confidence(self) -> Confidence:
        return Confidence.WEAK if self.weak else RULES[self.rule].confidence


def source_phrase(policy: Policy, fact: Fact) -> str:
    source = policy.sources[fact.source]
    return f"source: {source.title}, {source.date} ({policy.fact_confidence(fact)})"


def provider_sentence(policy: Policy, provider: Provider) -> str:
    """Why the provider matters, with the first sources cited."""
    cited = [policy.sources[s] for s in provider.sources]
    titles = "; ".join(f"{s.title} ({s.date})" for s in cited[:3])
    more = f"; and {len(cited) - 3} more" if len(cited) > 3 else ""
    rating = f"{provider.name} is rated {provider.severity} by this policy"
    return f"{rating}: {provider.reason.strip()} Sources: {titles}{more}."


class Matcher(ABC, Generic[R]):
    """One small test of a record against the policy's facts; its indexes are built once per scan."""

    id: ClassVar[str]
    """Kebab-case id shown in each hit's match detail."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy

    @abstractmethod
    def match(self, record: R) -> list[Hit]: ...


class Judge(ABC, Generic[R]):
    """Judges records of one kind: its matchers find hits, the shared rules make findings."""

    kind: ClassVar[RecordKind]
    matchers: ClassVar[tuple[type[Matcher[R]], ...]]
    not_allowed: ClassVar[RuleId]
    """The rule of allow-list findings (a provider or item that is not approved)."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.allowlist = policy.mode == "allowlist"
        self.allowed_providers = frozenset(policy.allow.providers)
        self._matchers = [cls(policy) for cls in self.matchers]

    # -- what each kind says ----------------------------------------------------------------------
    def hits(self, record: R) -> Iterable[Hit]:
        """Every matcher's hits."""
        return [hit for matcher in self._matchers for hit in matcher.match(record)]

    @abstractmethod
    def record_sentence(self, record: R) -> str:
        """The first line of evidence: what the record is and where."""

    def subject(self, record: R, best: Hit | None) -> str:
        """What the finding is about, for humans."""
        return record.name

    def approved(self, record: R, provider: Provider | None) -> bool:
        """Allow-list mode: the provider (or the item itself) is approved."""
        return provider is not None and provider.id in self.allowed_providers

    def allowlist_sentence(self, record: R, provider: Provider | None) -> str:
        where = self.policy.allow.where
        return f"This policy is an allow-list ({where}) and {provider.name if provider else 'it'} is not approved."

    def allowlist_detail(self, record: R) -> MatchDetail | None:
        """The match detail an allow-list finding adds, when the kind has one."""
        return None

    def evidence_of(self, hits: Sequence[Hit]) -> list[str]:
        """The hits' sentences, strongest first, each once."""
        return list(dict.fromkeys(h.sentence for h in hits))

    def unlisted(self, record: R) -> list[Finding]:
        """Allow-list findings about a record no provider claims (an unapproved AI package or model)."""
        return []

    # -- the shared rules -------------------------------------------------------------------------
    def judge(self, record: R) -> list[Finding]:
        by_provider: dict[str, list[Hit]] = {}
        for hit in self.hits(record):
            by_provider.setdefault(hit.provider.id, []).append(hit)
        findings = []
        for hits in by_provider.values():
            provider = hits[0].provider
            unapproved = self.allowlist and not self.approved(record, provider)
            if provider.severity is not None or unapproved:
                findings.append(self._finding(record, hits, unapproved))
        if self.allowlist and not by_provider:
            findings += self.unlisted(record)
        return findings

    def rate(self, provider: Provider, best: Hit, unapproved: bool) -> tuple[RuleId, Severity]:
        """A finding's rule and severity: the provider's severity, raised to ``allow.severity`` for an
        unapproved provider, then capped for a weak hint (in that order: a weak hint stays a warning).
        A catalogue provider (no severity) is only reported, under ``not_allowed``, by an allow-list."""
        allow_severity = self.policy.allow_severity
        if provider.severity is None:
            rule_id, severity = self.not_allowed, allow_severity
        else:
            rule_id, severity = best.rule, provider.severity
            if unapproved and allow_severity > severity:
                severity = allow_severity
        if best.severity_cap is not None and best.severity_cap < severity:
            severity = best.severity_cap
        return rule_id, severity

    def _finding(self, record: R, hits: list[Hit], unapproved: bool) -> Finding:
        """One finding for one provider: the strongest rule and every rule's evidence."""
        hits = sorted(hits, key=lambda h: (-h.confidence.rank, h.rank))
        best = hits[0]
        provider = best.provider
        rule_id, severity = self.rate(provider, best, unapproved)
        evidence = [self.record_sentence(record), *self.evidence_of(hits)]
        if provider.severity is not None:
            evidence.append(provider_sentence(self.policy, provider))
        matches = [h.detail for h in hits]
        if unapproved:
            evidence.append(self.allowlist_sentence(record, provider))
            extra = self.allowlist_detail(record)
            matches += [extra] if extra else []
        return self.finding(
            record,
            rule_id,
            severity,
            best.confidence,
            provider,
            evidence,
            matches,
            subject=self.subject(record, best),
            lineage=best.chain,
        )

    def finding(
        self,
        record: R,
        rule_id: RuleId,
        severity: Severity,
        confidence: Confidence,
        provider: Provider | None,
        evidence: Sequence[str],
        matches: Sequence[MatchDetail],
        *,
        subject: str | None = None,
        lineage: tuple[str, ...] = (),
    ) -> Finding:
        """The one way every judge builds a finding."""
        return Finding(
            rule_id=rule_id,
            severity=severity,
            confidence=confidence,
            provider=provider.id if provider else None,
            kind=self.kind,
            subject=subject if subject is not None else self.subject(record, None),
            location=record.locations[0],
            evidence=tuple(evidence),
            record_id=record.id,
            record_identity=record.identity,
            matches=tuple(matches),
            lineage=lineage,
            sources=provider.sources if provider else (),
        )
