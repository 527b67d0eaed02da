"""The policy engine: records in, findings out. It never touches the filesystem.

One judge per record kind runs its matchers, drops hits the policy marks as false positives,
keeps one finding per record and provider (the strongest rule, with the other hits' evidence
added), and in allow-list mode reports AI packages that are not approved.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any, ClassVar

from scanner.findings import CONFIDENCE_RANK, SEVERITY_RANK, Finding, MatchDetail, Severity, finding_order
from scanner.policy.endpoint_matchers import EndpointHit, EndpointMatchers
from scanner.policy.matchers import PACKAGE_MATCHERS, Hit, source_phrase
from scanner.policy.model_matchers import MODEL_MATCHERS, ModelHit
from scanner.policy.rules import (
    ENDPOINT_MODEL,
    ENDPOINT_NOT_ALLOWED,
    ENDPOINT_PROVIDER,
    MODEL_NOT_ALLOWED,
    PACKAGE_NOT_ALLOWED,
    Rule,
)
from scanner.policy.schema import Policy, Provider
from scanner.records import EndpointRecord, ModelRecord, PackageRecord, normalize_package_name

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

    def rate(
        self, provider: Provider, rule: Rule, cap: Severity | None, unapproved: bool, not_allowed: Rule
    ) -> tuple[str, Severity]:
        """A finding's rule and severity: the provider's severity, raised to ``allow.severity`` for an
        unapproved provider, then capped for a weak hint (in that order: a weak hint stays a warning).
        A catalogue provider (no severity) is only reported, under ``not_allowed``, by an allow-list."""
        allow_severity = self.policy.allow_severity
        if provider.severity is None:
            rule_id, severity = not_allowed.id, allow_severity
        else:
            rule_id, severity = rule.id, provider.severity
            if unapproved and SEVERITY_RANK[allow_severity] > SEVERITY_RANK[severity]:
                severity = allow_severity
        if cap and SEVERITY_RANK[cap] < SEVERITY_RANK[severity]:
            severity = cap
        return rule_id, severity


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
        allowlist = self.policy.mode == "allowlist"
        findings = []
        for group in by_provider.values():
            unapproved = allowlist and not self._approved(record, group[0].provider.id)
            if group[0].provider.severity is not None or unapproved:
                findings.append(self._finding(record, group, unapproved))
        if allowlist and not by_provider and record.normalized_name in self._ai_packages:
            findings += self._unapproved_ai_package(record)
        return findings

    def _approved(self, record: PackageRecord, provider_id: str | None) -> bool:
        return record.normalized_name in self._allowed_packages or provider_id in self._allowed_providers

    def _subject(self, record: PackageRecord) -> str:
        return f"{record.normalized_name} {record.version}" if record.version else record.normalized_name

    def _record_sentence(self, record: PackageRecord) -> str:
        env = record.environment
        version = f" {record.version}" if record.version else ""
        where = f"{_ENVIRONMENT_WORDS[env.kind]} {env.path}"
        return f"package `{record.name}`{version} is installed in the {where} ({record.locations[0].path})."

    def _allowlist_sentence(self, record: PackageRecord, provider: Provider | None) -> str:
        name = record.normalized_name
        what = f"neither {provider.name} nor `{name}` is" if provider else f"`{name}` is not"
        where = self.policy.allow.where
        return f"This policy is an allow-list ({where}): AI software that is not approved is reported, and {what} approved."

    def _allowlist_detail(self, record: PackageRecord) -> MatchDetail:
        where = str(self.policy.allow.where)
        return MatchDetail(
            "allowlist", "normalized_name", record.normalized_name, "allow.packages, allow.providers", where
        )

    def _finding(self, record: PackageRecord, group: list[Hit], unapproved: bool) -> Finding:
        """One finding for one provider: the strongest rule and every rule's evidence."""
        group = sorted(group, key=lambda h: -CONFIDENCE_RANK[h.rule.confidence])
        best = group[0]
        provider = best.provider
        rule_id, severity = self.rate(provider, best.rule, best.severity_cap, unapproved, PACKAGE_NOT_ALLOWED)
        evidence = [self._record_sentence(record), *dict.fromkeys(h.sentence for h in group)]
        if provider.severity is not None:
            evidence.append(provider_sentence(self.policy, provider))
        matches = [h.detail for h in group]
        if unapproved:
            evidence.append(self._allowlist_sentence(record, provider))
            matches.append(self._allowlist_detail(record))
        return Finding(
            rule_id=rule_id,
            severity=severity,
            confidence=best.rule.confidence,
            provider=provider.id,
            kind=record.kind,
            subject=self._subject(record),
            location=record.locations[0],
            evidence=tuple(evidence),
            record_id=record.id,
            record_identity=record.identity,
            matches=tuple(matches),
            sources=provider.sources,
        )

    def _unapproved_ai_package(self, record: PackageRecord) -> list[Finding]:
        if self._approved(record, None):
            return []
        fact = self._ai_packages[record.normalized_name]
        listed = MatchDetail(
            "package-name-exact",
            "normalized_name",
            record.normalized_name,
            f"ai_packages: {fact.name}",
            str(fact.where),
        )
        return [
            Finding(
                rule_id=PACKAGE_NOT_ALLOWED.id,
                severity=self.policy.allow_severity,
                confidence=PACKAGE_NOT_ALLOWED.confidence,
                provider=None,
                kind=record.kind,
                subject=self._subject(record),
                location=record.locations[0],
                evidence=(
                    self._record_sentence(record),
                    f"{fact.where} lists `{fact.name}` as AI software; {source_phrase(self.policy, fact)}.",
                    self._allowlist_sentence(record, None),
                ),
                record_id=record.id,
                record_identity=record.identity,
                matches=(listed, self._allowlist_detail(record)),
            )
        ]


def _size(n: int) -> str:
    value, unit = float(n), "bytes"
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            break
        value /= 1024
    return f"{n} bytes" if unit == "bytes" else f"{value:.1f} {unit}"


_STORE_WORDS = {
    "hf-cache": "in a Hugging Face cache",
    "ollama": "in an Ollama store",
    "lmstudio": "in LM Studio's models",
    "modelscope": "in a ModelScope cache",
    "directory": "as a model folder",
    "file": "as a model file",
    "reference": "only as a name given to the scanner",
}


class ModelJudge(Judge):
    """One finding per model and provider: the strongest evidence, with its lineage chain."""

    kind = "model"

    def __init__(self, policy: Policy) -> None:
        super().__init__(policy)
        self.matchers = [cls(policy) for cls in MODEL_MATCHERS]
        self._allowed_models = [re.compile(p, re.IGNORECASE) for p in policy.allow.models]
        self._allowed_providers = set(policy.allow.providers)

    def judge(self, record: ModelRecord) -> list[Finding]:
        by_provider: dict[str, list[ModelHit]] = {}
        for matcher in self.matchers:
            for hit in matcher.match(record):
                by_provider.setdefault(hit.provider.id, []).append(hit)
        allowlist = self.policy.mode == "allowlist"
        findings = []
        for hits in by_provider.values():
            provider = hits[0].provider
            unapproved = allowlist and not self._approved(record, provider.id)
            if provider.severity is not None or unapproved:
                findings.append(self._finding(record, hits, unapproved))
        if allowlist and not by_provider and not self._approved(record, None):
            findings.append(self._unapproved(record))
        return findings

    def _approved(self, record: ModelRecord, provider_id: str | None) -> bool:
        if provider_id in self._allowed_providers:
            return True
        return any(p.search(lead.name) for p in self._allowed_models for lead in record.leads)

    def _record_sentence(self, record: ModelRecord) -> str:
        size = sum(f.size for f in record.files)
        files = f"{len(record.files)} file(s), {_size(size)}"
        return (
            f"model `{record.name}` ({record.format}, {files}) is present {_STORE_WORDS[record.store]} at "
            f"{record.locations[0].path}."
        )

    def _finding(self, record: ModelRecord, hits: list[ModelHit], unapproved: bool) -> Finding:
        hits = sorted(hits, key=lambda h: (-CONFIDENCE_RANK[h.confidence], h.rank))
        best = hits[0]
        provider = best.provider
        rule_id, severity = self.rate(provider, best.rule, best.severity_cap, unapproved, MODEL_NOT_ALLOWED)
        # Every sentence of the deciding rule, then one per other rule that agrees: enough to see the
        # corroboration without one line per name the model goes by.
        first_of_rule: dict[str, str] = {}
        for hit in hits:
            first_of_rule.setdefault(hit.rule.id, hit.sentence)
        deciding = [h.sentence for h in hits if h.rule is best.rule]
        evidence = [self._record_sentence(record), *dict.fromkeys([*deciding, *first_of_rule.values()])]
        if provider.severity is not None:
            evidence.append(provider_sentence(self.policy, provider))
        if unapproved:
            evidence.append(
                f"This policy is an allow-list ({self.policy.allow.where}): neither {provider.name} nor this model "
                "is approved."
            )
        return Finding(
            rule_id=rule_id,
            severity=severity,
            confidence=best.confidence,
            provider=provider.id,
            kind=record.kind,
            subject=record.name,
            location=record.locations[0],
            evidence=tuple(evidence),
            record_id=record.id,
            record_identity=record.identity,
            matches=tuple(h.detail for h in hits),
            lineage=best.chain,
            sources=provider.sources,
        )

    def _unapproved(self, record: ModelRecord) -> Finding:
        where = str(self.policy.allow.where)
        return Finding(
            rule_id=MODEL_NOT_ALLOWED.id,
            severity=self.policy.allow_severity,
            confidence=MODEL_NOT_ALLOWED.confidence,
            provider=None,
            kind=record.kind,
            subject=record.name,
            location=record.locations[0],
            evidence=(
                self._record_sentence(record),
                f"This policy is an allow-list ({where}): no name of this model matches allow.models and it is "
                "from no approved provider.",
            ),
            record_id=record.id,
            record_identity=record.identity,
            matches=(MatchDetail("allowlist", "leads", record.name, "allow.models, allow.providers", where),),
        )


_SOURCE_WORDS = {
    "environment": "the scanner's own environment",
    "process": "a running process's environment",
    "dotenv": "a .env file",
    "shell-profile": "a shell start-up file",
    "systemd-unit": "a systemd unit",
    "tool-config": "an AI tool's settings",
    "source-code": "source code",
    "notebook": "a notebook",
    "hosts-file": "the hosts file",
    "dns-log": "a DNS log",
    "proxy-log": "a proxy log",
    "connection": "a live connection",
}


def endpoint_subject(record: EndpointRecord, rule_id: str | None = None) -> str:
    """What the endpoint is, for humans; a key is shown only by its last four characters.

    A finding made by the model or provider setting names that setting, not the URL beside it (a
    DeepSeek model served from ``localhost`` is about the model).
    """
    if rule_id == ENDPOINT_MODEL.id and record.model:
        return record.model
    if rule_id == ENDPOINT_PROVIDER.id and record.provider_hint:
        return record.provider_hint + (f" ({record.model})" if record.model else "")
    if record.source == "connection":
        who = dict(record.process).get("name", dict(record.process).get("user", "?"))
        return f"{who} → {record.host} ({dict(record.seen).get('address')})"
    what = record.url or record.host or record.model or record.provider_hint
    key = f"key …{record.secret.last4}" if record.secret and record.secret.last4 else "a key" if record.secret else None
    value = what or key or "(set)"
    return f"{record.variable}={value}" if record.variable else value


class EndpointJudge(Judge):
    """One finding per endpoint record and provider."""

    kind = "endpoint"

    def __init__(self, policy: Policy) -> None:
        super().__init__(policy)
        self.matchers = EndpointMatchers(policy)
        self._allowed_providers = set(policy.allow.providers)

    def judge(self, record: EndpointRecord) -> list[Finding]:
        by_provider: dict[str, list[EndpointHit]] = {}
        for hit in self.matchers.match(record):
            by_provider.setdefault(hit.provider.id, []).append(hit)
        allowlist = self.policy.mode == "allowlist"
        findings = []
        for hits in by_provider.values():
            provider = hits[0].provider
            unapproved = allowlist and provider.id not in self._allowed_providers
            if provider.severity is not None or unapproved:
                findings.append(self._finding(record, hits, unapproved))
        return findings

    def _record_sentence(self, record: EndpointRecord) -> str:
        where = record.locations[0].path + (f":{record.locations[0].line}" if record.locations[0].line else "")
        process = dict(record.process)
        if record.source == "connection":
            owner = (
                f"process {process['name']} (pid {process['pid']}, user {process['user']})"
                if "pid" in process
                else f"a process of user {process['user']} that could not be read"
            )
            return f"{owner} has a live TCP connection to `{record.host}` at {dict(record.seen).get('address')}."
        who = f" (process {process['name']}, pid {process['pid']}, user {process['user']})" if process else ""
        tool = f" ({record.tool})" if record.tool else ""
        key = (
            f"; an API key ending …{record.secret.last4} is set beside it"
            if record.secret and record.secret.last4
            else ""
        )
        verb = "names" if record.source in ("dns-log", "proxy-log", "hosts-file") else "sets"
        return f"{_SOURCE_WORDS[record.source]}{tool}{who} at {where} {verb} {endpoint_subject(record)}{key}."

    def _finding(self, record: EndpointRecord, hits: list[EndpointHit], unapproved: bool) -> Finding:
        hits = sorted(hits, key=lambda h: -CONFIDENCE_RANK[h.confidence])
        best = hits[0]
        provider = best.provider
        rule_id, severity = self.rate(provider, best.rule, best.severity_cap, unapproved, ENDPOINT_NOT_ALLOWED)
        evidence = [self._record_sentence(record), *dict.fromkeys(h.sentence for h in hits)]
        if provider.severity is not None:
            evidence.append(provider_sentence(self.policy, provider))
        if unapproved:
            evidence.append(
                f"This policy is an allow-list ({self.policy.allow.where}) and {provider.name} is not approved."
            )
        return Finding(
            rule_id=rule_id,
            severity=severity,
            confidence=best.confidence,
            provider=provider.id,
            kind=record.kind,
            subject=endpoint_subject(record, best.rule.id),
            location=record.locations[0],
            evidence=tuple(evidence),
            record_id=record.id,
            record_identity=record.identity,
            matches=tuple(h.detail for h in hits),
            sources=provider.sources,
        )


JUDGES: dict[str, type[Judge]] = {
    PackageJudge.kind: PackageJudge,
    ModelJudge.kind: ModelJudge,
    EndpointJudge.kind: EndpointJudge,
}


def evaluate(records: Iterable[Any], policy: Policy) -> list[Finding]:
    """Judge every record; findings come sorted most severe first."""
    judges = {kind: cls(policy) for kind, cls in JUDGES.items()}
    findings = [f for record in records for f in judges[record.kind].judge(record)]
    return sorted(findings, key=finding_order)
