"""Packages: matchers for installed packages against the policy, and the package judge.

A package is banned by name (``package-listed``), by who published it — its author e-mail domain,
home page, project URLs or GitHub organisation (``package-publisher``) — or, as a heuristic that is at
most a warning, by a name that looks like a provider's (``package-name-pattern``). In allow-list mode
an AI package that is not approved is reported too (``package-not-allowed``).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from typing import Generic, TypeVar
from urllib.parse import urlsplit

from scanner.ecosystems import ECOSYSTEMS, ENVIRONMENT_WORDS, Ecosystem, EnvironmentKind
from scanner.findings import Finding, MatchDetail
from scanner.names import normalize_package_name
from scanner.policy.judge import Hit, Judge, Matcher, source_phrase
from scanner.policy.schema import Fact, NamedFact, PackageFact, PatternFact, Policy, ProductNameFact, Provider
from scanner.records import PackageRecord
from scanner.urls import HostIndex, url_host
from scanner.vocabulary import RULES, RecordKind, RuleId, Severity

V = TypeVar("V")


class PackageMatcher(Matcher[PackageRecord]):
    """Tests an installed package against the policy."""

    def hit(
        self,
        rule: RuleId,
        provider: Provider,
        fact: Fact,
        entry: str,
        field: str,
        value: str,
        sentence: str,
        cap: Severity | None = None,
    ) -> Hit:
        """A hit whose detail names the record field, the policy entry (``group: item``) and its line."""
        detail = MatchDetail(self.id, field, value, f"providers[{provider.id}].{entry}", str(fact.where))
        return Hit(rule, provider, detail, sentence, cap)


class PackageIndex(Generic[V]):
    """Policy package entries by ecosystem and normalised name, looked up by a record: a record finds the
    entries of every ecosystem it answers to (a conda package finds PyPI entries of its name)."""

    def __init__(self) -> None:
        self._entries: dict[tuple[Ecosystem, str], list[V]] = {}

    def add(self, fact: PackageFact, value: V) -> None:
        key = (fact.ecosystem, ECOSYSTEMS[fact.ecosystem].normalize(fact.name))
        self._entries.setdefault(key, []).append(value)

    def lookup(self, record: PackageRecord) -> list[V]:
        rules = ECOSYSTEMS[record.ecosystem]
        return [v for eco in sorted(rules.answers_to) for v in self._entries.get((eco, record.normalized_name), [])]


class PackageNameMatcher(PackageMatcher):
    """The package's normalised name is listed under a provider."""

    id = "package-name-exact"

    def __init__(self, policy: Policy) -> None:
        super().__init__(policy)
        self._index: PackageIndex[tuple[Provider, PackageFact]] = PackageIndex()
        for provider in policy.providers.values():
            for fact in provider.packages:
                self._index.add(fact, (provider, fact))

    def match(self, record: PackageRecord) -> list[Hit]:
        hits = []
        for provider, fact in self._index.lookup(record):
            note = f" ({fact.note})" if fact.note else ""
            sentence = (
                f"{fact.where} lists `{fact.name}` as a package of {provider.name}{note}; "
                f"{source_phrase(self.policy, fact)}."
            )
            entry = f"packages: {fact.name}"
            hits.append(
                self.hit(
                    RuleId.PACKAGE_LISTED, provider, fact, entry, "normalized_name", record.normalized_name, sentence
                )
            )
        return hits


class PackagePublisherMatcher(PackageMatcher):
    """The package's author e-mail domain, home page or project URLs belong to a provider."""

    id = "package-publisher"

    def __init__(self, policy: Policy) -> None:
        super().__init__(policy)
        self._hosts: HostIndex[tuple[Provider, Fact, str]] = HostIndex()
        self._domains: HostIndex[tuple[Provider, Fact, str]] = HostIndex()
        self._orgs: dict[str, list[tuple[Provider, NamedFact]]] = {}
        for provider in policy.providers.values():
            for fact in provider.web_hosts:
                self._hosts.add(fact.host, (provider, fact, fact.host))
            for endpoint in provider.endpoints:
                self._hosts.add(endpoint.host, (provider, endpoint, endpoint.host))
            for endpoint in provider.endpoints:
                # The company's mail is on its API host's domain (zhengyu@minimax.chat, api.minimax.chat).
                labels = endpoint.host.split(".")
                if len(labels) >= 3:
                    self._domains.add(".".join(labels[1:]), (provider, endpoint, endpoint.host))
            for org in provider.github_orgs:
                self._orgs.setdefault(org.name.lower(), []).append((provider, org))

    def match(self, record: PackageRecord) -> list[Hit]:
        hits: list[Hit] = []
        for domain in record.author_email_domains:
            for _, (provider, fact, host) in (self._hosts.lookup(domain) or self._domains.lookup(domain))[:1]:
                sentence = f"its author e-mail domain `{domain}` is a {provider.name} domain ({host}, {fact.where})"
                hits.append(
                    self._publisher(provider, fact, f"web_hosts: {host}", "author_email_domains", domain, sentence)
                )
        for url in record.urls:
            url_hostname = url_host(url)
            if not url_hostname:
                continue
            for _, (provider, fact, known) in self._hosts.lookup(url_hostname)[:1]:
                sentence = f"its project URL {url} is on {provider.name}'s host {known} ({fact.where})"
                hits.append(self._publisher(provider, fact, f"web_hosts: {known}", "project_urls", url, sentence))
            org = _github_org(url)
            for provider, org_fact in self._orgs.get(org or "", []):
                sentence = (
                    f"its project URL {url} is in {provider.name}'s GitHub organisation "
                    f"`{org_fact.name}` ({org_fact.where})"
                )
                entry = f"github_orgs: {org_fact.name}"
                hits.append(self._publisher(provider, org_fact, entry, "project_urls", url, sentence))
        return hits

    def _publisher(self, provider: Provider, fact: Fact, entry: str, field: str, value: str, sentence: str) -> Hit:
        sentence = f"{sentence}; {source_phrase(self.policy, fact)}."
        return self.hit(RuleId.PACKAGE_PUBLISHER, provider, fact, entry, field, value, sentence)


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
        if Ecosystem.PYPI not in ECOSYSTEMS[record.ecosystem].answers_to:
            return []  # the patterns were drawn from PyPI's names; npm's kimi is a tweening library
        name = record.normalized_name
        return [
            self.hit(
                RuleId.PACKAGE_NAME_PATTERN,
                provider,
                fact,
                f"package_name_patterns: {fact.pattern}",
                "normalized_name",
                name,
                f"its name matches `{fact.pattern}`, a naming pattern {fact.where} gives for "
                f"{provider.name} packages (a heuristic, so at most a warning).",
                Severity.WARNING,
            )
            for provider, fact, pattern in self._patterns
            if pattern.search(name)
        ]


def _github_org(url: str) -> str | None:
    """``https://github.com/deepseek-ai/x`` and ``https://deepseek-ai.github.io`` -> ``deepseek-ai``."""
    host = url_host(url)
    if host == "github.com":
        first = urlsplit(url.strip()).path.strip("/").split("/")[0]
        return first.lower() or None
    if host and host.endswith(".github.io"):
        return host[: -len(".github.io")]
    return None


_AI_WORDS = re.compile(
    r"\b(?:AI|LLMs?|model|models|chat|chatbot|agent|agents|assistant|MCP|Model Context Protocol|coding|"
    r"completions?|embeddings?|inference|reasoning)\b",
    re.IGNORECASE,
)


_NEIGHBOUR_AI = frozenset(
    {"ai", "llm", "llms", "api", "sdk", "cli", "mcp", "chat", "chatbot", "agent", "agents", "assistant", "coding",
     "code", "model", "models"}
)  # fmt: skip


def _beside_ai(summary: str, start: int, end: int) -> bool:
    """The word right before or after the name is an AI word (``MiniMax API``, ``Moonshot AI (Kimi) LLM``)."""
    before = summary[max(0, start - 60) : start].replace("(", " ").replace(")", " ").split()
    after = summary[end : end + 60].replace("(", " ").replace(")", " ").split()
    return any(word.strip(",.;:!?").lower() in _NEIGHBOUR_AI for word in before[-1:] + after[:1])


def product_name_patterns(policy: Policy) -> list[tuple[Provider, ProductNameFact, re.Pattern[str]]]:
    """Each provider's product names as whole words, compared as written (``MiniMax``, not ``minimax``)."""
    return [
        (provider, fact, re.compile(rf"(?<![\w-]){re.escape(fact.name)}(?![\w-])"))
        for provider in policy.providers.values()
        for fact in provider.product_names
    ]


_EXTENSIONS = frozenset({Ecosystem.VSCODE, Ecosystem.CHROME, Ecosystem.FIREFOX})


class PackageDescriptionMatcher(PackageMatcher):
    """Heuristic: the package's summary names the provider or one of its products beside an AI word
    (``Moonshot AI (Kimi) LLM client``): a republished or rebranded client says what it is even when
    its name does not. Product names are compared as written (``MiniMax``, not the ``minimax``
    algorithm), the AI word must be another word than the name itself, and a name that is also an
    ordinary word (``common_word``: "the MiniMax algorithm", "Kimi Antonelli") counts only right
    beside one. At most a warning."""

    id = "package-description"

    def __init__(self, policy: Policy) -> None:
        super().__init__(policy)
        self._names = product_name_patterns(policy)
        self._api_hosts: HostIndex[tuple[Provider, Fact]] = HostIndex()
        for provider in policy.providers.values():
            for endpoint in provider.endpoints:
                self._api_hosts.add(endpoint.host, (provider, endpoint))

    def match(self, record: PackageRecord) -> list[Hit]:
        summary = record.summary or ""
        hits = []
        for provider, fact, pattern in self._names:
            named = pattern.search(summary)
            if named is None:
                continue
            if fact.common_word:
                if not any(_beside_ai(summary, m.start(), m.end()) for m in pattern.finditer(summary[:4096])):
                    continue
            elif not _AI_WORDS.search(pattern.sub(" ", summary)):
                continue
            sentence = (
                f"its summary {summary!r} names {fact.name} as an AI product ({fact.where}; "
                f"{source_phrase(self.policy, fact)}): a hint, so at most a warning."
            )
            entry = f"product_names: {fact.name}"
            hits.append(
                self.hit(
                    RuleId.PACKAGE_DESCRIBED, provider, fact, entry, "summary", summary, sentence, Severity.WARNING
                )
            )
        return hits + self._calls(record)

    def _calls(self, record: PackageRecord) -> list[Hit]:
        """Its long description's examples call one provider's API and nobody else's: a client of it
        (kosong's README configures ``base_url="https://api.moonshot.ai/v1"``). A description that calls
        several vendors' APIs (a gateway's) says nothing about any one of them."""
        known = {host: self._api_hosts.lookup(host)[:1] for host in record.described_api_hosts}
        providers = {found[0][1][0].id for found in known.values() if found}
        if len(providers) != 1 or not all(known.values()):
            return []
        host, ((_, (provider, fact)),) = next((h, f) for h, f in known.items() if f)
        where = "its main script names" if record.ecosystem in _EXTENSIONS else "the examples of its description call"
        sentence = (
            f"{where} `{host}`, {provider.name}'s API ({fact.where}), and no other "
            "vendor's: a client of it, a hint, so at most a warning."
        )
        entry = f"endpoints: {host}"
        return [
            self.hit(
                RuleId.PACKAGE_DESCRIBED, provider, fact, entry, "described_api_hosts", host, sentence, Severity.WARNING
            )
        ]


class PackageShownNameMatcher(PackageMatcher):
    """Heuristic: the name an app or extension shows people is a provider's product (``DeepSeek``,
    ``Kimi Code``, ``MiniMax Agent``) though its id is not listed. A name that is also an ordinary word
    (``common_word``) counts alone or right beside an AI word, so ``MiniMax Chess`` is not a hint.
    At most a warning."""

    id = "package-shown-name"

    def __init__(self, policy: Policy) -> None:
        super().__init__(policy)
        self._names = product_name_patterns(policy)

    def match(self, record: PackageRecord) -> list[Hit]:
        shown = (record.display_name or "")[:200]
        hits = []
        for provider, fact, pattern in self._names:
            found = list(pattern.finditer(shown))
            if not found:
                continue
            if (
                fact.common_word
                and shown.strip() != fact.name
                and not any(_beside_ai(shown, m.start(), m.end()) for m in found)
            ):
                continue
            noun = ECOSYSTEMS[record.ecosystem].noun
            sentence = (
                f"the {noun} calls itself {shown!r}, a name of {provider.name}'s ({fact.where}; "
                f"{source_phrase(self.policy, fact)}): a hint, so at most a warning."
            )
            entry = f"product_names: {fact.name}"
            hits.append(
                self.hit(
                    RuleId.PACKAGE_NAME_PATTERN,
                    provider,
                    fact,
                    entry,
                    "display_name",
                    shown,
                    sentence,
                    Severity.WARNING,
                )
            )
        return hits


class PackageReachMatcher(PackageMatcher):
    """Heuristic: an extension's manifest says it works with a provider's hosts (its host permissions,
    content scripts or a setting's default URL): a client of that provider, whatever its name. At most
    a warning."""

    id = "package-reaches"

    def __init__(self, policy: Policy) -> None:
        super().__init__(policy)
        self._hosts: HostIndex[tuple[Provider, Fact, str]] = HostIndex()
        for provider in policy.providers.values():
            for endpoint in provider.endpoints:
                self._hosts.add(endpoint.host, (provider, endpoint, f"endpoints: {endpoint.host}"))
            for web in provider.web_hosts:
                self._hosts.add(web.host, (provider, web, f"web_hosts: {web.host}"))

    def match(self, record: PackageRecord) -> list[Hit]:
        hits = []
        seen: set[str] = set()
        for host in record.reaches:
            for _, (provider, fact, entry) in self._hosts.lookup(host)[:1]:
                if provider.id in seen:
                    continue
                seen.add(provider.id)
                sentence = (
                    f"its manifest says it works with `{host}`, {provider.name}'s host ({fact.where}; "
                    f"{source_phrase(self.policy, fact)}): a hint, so at most a warning."
                )
                hits.append(
                    self.hit(
                        RuleId.PACKAGE_DESCRIBED, provider, fact, entry, "reaches", host, sentence, Severity.WARNING
                    )
                )
        return hits


class PackageDependencyMatcher(PackageMatcher):
    """Heuristic: the package needs one of a provider's packages (a wrapper around its SDK, a tool built
    on its client). The needed package, when installed, is a finding of its own; this one says why a
    package with another name brings it in. At most a warning."""

    id = "package-dependency"

    def __init__(self, policy: Policy) -> None:
        super().__init__(policy)
        self._listed: dict[tuple[Ecosystem, str], list[tuple[Provider, PackageFact]]] = {}
        for provider in policy.providers.values():
            for fact in provider.packages:
                key = (fact.ecosystem, ECOSYSTEMS[fact.ecosystem].normalize(fact.name))
                self._listed.setdefault(key, []).append((provider, fact))

    def match(self, record: PackageRecord) -> list[Hit]:
        rules = ECOSYSTEMS[record.ecosystem]
        hits = []
        for needed in record.requires:
            for ecosystem in sorted(rules.answers_to):
                for provider, fact in self._listed.get((ecosystem, ECOSYSTEMS[ecosystem].normalize(needed)), []):
                    sentence = (
                        f"it depends on `{needed}`, which {fact.where} lists as a package of {provider.name}; "
                        f"{source_phrase(self.policy, fact)} (a hint, so at most a warning)."
                    )
                    entry = f"packages: {fact.name}"
                    hits.append(
                        self.hit(
                            RuleId.PACKAGE_DEPENDS,
                            provider,
                            fact,
                            entry,
                            "requires",
                            needed,
                            sentence,
                            Severity.WARNING,
                        )
                    )
        return hits


class PackageJudge(Judge[PackageRecord]):
    kind = RecordKind.PACKAGE
    matchers = (
        PackageNameMatcher,
        PackagePublisherMatcher,
        PackageNamePatternMatcher,
        PackageDescriptionMatcher,
        PackageShownNameMatcher,
        PackageReachMatcher,
        PackageDependencyMatcher,
    )
    not_allowed = RuleId.PACKAGE_NOT_ALLOWED

    def __init__(self, policy: Policy) -> None:
        super().__init__(policy)
        self._false_positives: PackageIndex[str] = PackageIndex()
        for provider in policy.providers.values():
            for fact in provider.package_false_positives:
                self._false_positives.add(fact, provider.id)
        self._ai_packages: PackageIndex[PackageFact] = PackageIndex()
        for fact in policy.ai_packages:
            self._ai_packages.add(fact, fact)
        self._allowed_packages = {normalize_package_name(n) for n in policy.allow.packages}

    def hits(self, record: PackageRecord) -> Iterable[Hit]:
        false_positives = set(self._false_positives.lookup(record))
        hits = [hit for hit in super().hits(record) if hit.provider.id not in false_positives]
        if record.environment.kind is not EnvironmentKind.MANIFEST:
            return hits
        cap = self.policy.declared_severity  # declared, not (necessarily) installed: the policy says what it weighs
        return [
            dataclasses.replace(hit, severity_cap=cap if hit.severity_cap is None else min(cap, hit.severity_cap))
            for hit in hits
        ]

    def approved(self, record: PackageRecord, provider: Provider | None) -> bool:
        return record.normalized_name in self._allowed_packages or super().approved(record, provider)

    def subject(self, record: PackageRecord, best: Hit | None) -> str:
        return f"{record.normalized_name} {record.version}" if record.version else record.normalized_name

    def record_sentence(self, record: PackageRecord) -> str:
        env = record.environment
        version = f" {record.version}" if record.version else ""
        if env.kind is EnvironmentKind.MANIFEST:
            places = ", ".join(f"{at.path}:{at.line}" if at.line else at.path for at in record.locations[:3])
            return (
                f"package `{record.name}`{version} is a dependency the project {env.path} declares ({places}); "
                f"a declaration weighs at most {self.policy.declared_severity} (the policy's declared_severity)."
            )
        where = f"{ENVIRONMENT_WORDS[env.kind]} {env.path}"
        noun = ECOSYSTEMS[record.ecosystem].noun
        shown = f" ({record.display_name})" if record.display_name and record.display_name != record.name else ""
        return f"{noun} `{record.name}`{shown}{version} is installed in the {where} ({record.locations[0].path})."

    def allowlist_sentence(self, record: PackageRecord, provider: Provider | None) -> str:
        name = record.normalized_name
        what = f"neither {provider.name} nor `{name}` is" if provider else f"`{name}` is not"
        where = self.policy.allow.where
        return f"This policy is an allow-list ({where}): AI software that is not approved is reported, and {what} approved."

    def allowlist_detail(self, record: PackageRecord) -> MatchDetail:
        where = str(self.policy.allow.where)
        return MatchDetail(
            "allowlist", "normalized_name", record.normalized_name, "allow.packages, allow.providers", where
        )

    def unlisted(self, record: PackageRecord) -> list[Finding]:
        facts = self._ai_packages.lookup(record)
        if not facts or self.approved(record, None):
            return []
        fact = facts[0]
        listed = MatchDetail(
            "package-name-exact",
            "normalized_name",
            record.normalized_name,
            f"ai_packages: {fact.name}",
            str(fact.where),
        )
        evidence = (
            self.record_sentence(record),
            f"{fact.where} lists `{fact.name}` as AI software; {source_phrase(self.policy, fact)}.",
            self.allowlist_sentence(record, None),
        )
        rule = RULES[self.not_allowed]
        matches = (listed, self.allowlist_detail(record))
        return [self.finding(record, rule.id, self.policy.allow_severity, rule.confidence, None, evidence, matches)]
