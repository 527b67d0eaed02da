"""Matchers: small, single-purpose tests of one record against the policy's facts.

Each matcher builds its index once per scan and returns ``Hit``s: the provider, the rule, the
structured detail and one plain sentence of evidence. Judges (``policy.engine``) combine hits
into findings. Matchers never touch the filesystem.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar
from urllib.parse import urlsplit

from scanner.findings import MatchDetail, Severity
from scanner.policy.hosts import HostIndex, url_host
from scanner.policy.rules import PACKAGE_LISTED, PACKAGE_NAME_PATTERN, PACKAGE_PUBLISHER, Rule
from scanner.policy.schema import Fact, NamedFact, PatternFact, Policy, Provider
from scanner.records import PackageRecord, normalize_package_name


@dataclass(frozen=True)
class Hit:
    """One matcher's positive answer."""

    rule: Rule
    provider: Provider
    detail: MatchDetail
    sentence: str
    severity_cap: Severity | None = None
    """A weak heuristic is reported at most at this severity."""


def source_phrase(policy: Policy, fact: Fact) -> str:
    source = policy.sources[fact.source]
    return f"source: {source.title}, {source.date} ({policy.fact_confidence(fact)})"


class PackageMatcher(ABC):
    """Tests an installed package against the policy."""

    id: ClassVar[str]

    def __init__(self, policy: Policy) -> None:
        self.policy = policy

    @abstractmethod
    def match(self, record: PackageRecord) -> list[Hit]: ...


class PackageNameMatcher(PackageMatcher):
    """The package's normalised name is listed under a provider."""

    id = "package-name-exact"

    def __init__(self, policy: Policy) -> None:
        super().__init__(policy)
        self._index: dict[str, list[tuple[Provider, NamedFact]]] = {}
        for provider in policy.providers.values():
            for fact in provider.packages:
                self._index.setdefault(normalize_package_name(fact.name), []).append((provider, fact))

    def match(self, record: PackageRecord) -> list[Hit]:
        hits = []
        for provider, fact in self._index.get(record.normalized_name, []):
            note = f" ({fact.note})" if fact.note else ""
            hits.append(
                Hit(
                    rule=PACKAGE_LISTED,
                    provider=provider,
                    detail=MatchDetail(
                        self.id,
                        "normalized_name",
                        record.normalized_name,
                        f"providers[{provider.id}].packages: {fact.name}",
                        str(fact.where),
                    ),
                    sentence=(
                        f"{fact.where} lists `{fact.name}` as a package of {provider.name}{note}; "
                        f"{source_phrase(self.policy, fact)}."
                    ),
                )
            )
        return hits


class PackagePublisherMatcher(PackageMatcher):
    """The package's author e-mail domain, home page or project URLs belong to a provider."""

    id = "package-publisher"

    def __init__(self, policy: Policy) -> None:
        super().__init__(policy)
        self._hosts: HostIndex[tuple[Provider, Fact, str]] = HostIndex()
        self._orgs: dict[str, list[tuple[Provider, NamedFact]]] = {}
        for provider in policy.providers.values():
            for fact in provider.web_hosts:
                self._hosts.add(fact.host, (provider, fact, fact.host))
            for endpoint in provider.endpoints:
                self._hosts.add(endpoint.host, (provider, endpoint, endpoint.host))
            for org in provider.github_orgs:
                self._orgs.setdefault(org.name.lower(), []).append((provider, org))

    def match(self, record: PackageRecord) -> list[Hit]:
        hits: list[Hit] = []
        for domain in record.author_email_domains:
            for _, (provider, fact, host) in self._hosts.lookup(domain)[:1]:
                sentence = f"its author e-mail domain `{domain}` is a {provider.name} domain ({host}, {fact.where})"
                hits.append(self._hit(provider, fact, "web_hosts", host, "author_email_domains", domain, sentence))
        for url in record.urls:
            url_hostname = url_host(url)
            if not url_hostname:
                continue
            for _, (provider, fact, known) in self._hosts.lookup(url_hostname)[:1]:
                sentence = f"its project URL {url} is on {provider.name}'s host {known} ({fact.where})"
                hits.append(self._hit(provider, fact, "web_hosts", known, "project_urls", url, sentence))
            org = _github_org(url)
            for provider, org_fact in self._orgs.get(org or "", []):
                sentence = (
                    f"its project URL {url} is in {provider.name}'s GitHub organisation "
                    f"`{org_fact.name}` ({org_fact.where})"
                )
                hits.append(self._hit(provider, org_fact, "github_orgs", org_fact.name, "project_urls", url, sentence))
        return hits

    def _hit(
        self, provider: Provider, fact: Fact, group: str, entry: str, field: str, value: str, sentence: str
    ) -> Hit:
        return Hit(
            rule=PACKAGE_PUBLISHER,
            provider=provider,
            detail=MatchDetail(self.id, field, value, f"providers[{provider.id}].{group}: {entry}", str(fact.where)),
            sentence=f"{sentence}; {source_phrase(self.policy, fact)}.",
        )


class PackageNamePatternMatcher(PackageMatcher):
    """Heuristic: the name looks like a provider's (``deepseek-foo``). Reported at most as a warning."""

    id = "package-name-pattern"

    def __init__(self, policy: Policy) -> None:
        super().__init__(policy)
        self._patterns: list[tuple[Provider, PatternFact, re.Pattern[str]]] = [
            (provider, fact, re.compile(fact.pattern, re.IGNORECASE))
            for provider in policy.providers.values()
            for fact in provider.package_name_patterns
        ]

    def match(self, record: PackageRecord) -> list[Hit]:
        return [
            Hit(
                rule=PACKAGE_NAME_PATTERN,
                provider=provider,
                detail=MatchDetail(
                    self.id,
                    "normalized_name",
                    record.normalized_name,
                    f"providers[{provider.id}].package_name_patterns: {fact.pattern}",
                    str(fact.where),
                ),
                sentence=(
                    f"its name matches `{fact.pattern}`, a naming pattern {fact.where} gives for "
                    f"{provider.name} packages (a heuristic, so at most a warning)."
                ),
                severity_cap="warning",
            )
            for provider, fact, pattern in self._patterns
            if pattern.search(record.normalized_name)
        ]


PACKAGE_MATCHERS: tuple[type[PackageMatcher], ...] = (
    PackageNameMatcher,
    PackagePublisherMatcher,
    PackageNamePatternMatcher,
)


def _github_org(url: str) -> str | None:
    """``https://github.com/deepseek-ai/x`` and ``https://deepseek-ai.github.io`` -> ``deepseek-ai``."""
    host = url_host(url)
    if host == "github.com":
        first = urlsplit(url.strip()).path.strip("/").split("/")[0]
        return first.lower() or None
    if host and host.endswith(".github.io"):
        return host[: -len(".github.io")]
    return None
