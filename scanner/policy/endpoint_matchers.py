"""Matchers for endpoint records: hosts as hosts, provider fields, model ids, provider variables.

A host matches a provider's endpoint host or web host exactly or as a dot-bounded suffix
(``deepseek-alerts.example.gov`` does not match ``deepseek.com``). A tool's ``provider`` field
matches the provider's id or aliases; a model id matches its model-name patterns (for models routed
through gateways such as OpenRouter); a provider's own variable set with no endpoint is a warning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from scanner.findings import Confidence, MatchDetail, Severity
from scanner.lineage.names import normalize
from scanner.policy.hosts import HostIndex
from scanner.policy.matchers import source_phrase
from scanner.policy.rules import (
    ENDPOINT_CONNECTION,
    ENDPOINT_CONTACTED,
    ENDPOINT_HOST,
    ENDPOINT_MODEL,
    ENDPOINT_PROVIDER,
    ENDPOINT_VARIABLE,
    Rule,
)
from scanner.policy.schema import Fact, Policy, Provider
from scanner.records import EndpointRecord


@dataclass(frozen=True)
class EndpointHit:
    rule: Rule
    provider: Provider
    detail: MatchDetail
    sentence: str
    severity_cap: Severity | None = None

    @property
    def confidence(self) -> Confidence:
        return self.rule.confidence


class EndpointMatchers:
    """All endpoint tests, with their indexes built once per scan."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self._hosts: HostIndex[tuple[Provider, Fact, str]] = HostIndex()
        self._aliases: dict[str, list[tuple[Provider, str]]] = {}
        self._variables: dict[str, list[tuple[Provider, Fact]]] = {}
        self._patterns: list[tuple[Provider, Fact, re.Pattern[str], str]] = []
        for provider in policy.providers.values():
            for endpoint in provider.endpoints:
                self._hosts.add(endpoint.host, (provider, endpoint, f"endpoints: {endpoint.host}"))
            for web in provider.web_hosts:
                self._hosts.add(web.host, (provider, web, f"web_hosts: {web.host}"))
            self._aliases.setdefault(normalize(provider.id), []).append((provider, str(provider.where)))
            for alias in provider.aliases:
                self._aliases.setdefault(normalize(alias.name), []).append((provider, str(alias.where)))
            for variable in provider.env_vars:
                self._variables.setdefault(variable.name.upper(), []).append((provider, variable))
            for fact in provider.model_patterns:
                self._patterns.append((provider, fact, re.compile(fact.pattern, re.IGNORECASE), fact.pattern))

    def match(self, record: EndpointRecord) -> list[EndpointHit]:
        return [*self._host(record), *self._provider(record), *self._model(record), *self._variable(record)]

    def _host(self, record: EndpointRecord) -> list[EndpointHit]:
        if not record.host:
            return []
        hits = []
        for suffix, (provider, fact, entry) in self._hosts.lookup(record.host)[:1]:
            contacted = record.source in ("dns-log", "proxy-log")
            rule = ENDPOINT_CONTACTED if contacted else ENDPOINT_HOST
            seen = dict(record.seen)
            cap: Severity | None = "info" if record.in_package else None
            if contacted:
                what = f"`{record.host}` was contacted {seen.get('count', '?')} time(s), first {seen.get('first')}, last {seen.get('last')}"
            elif record.source == "connection":
                rule, cap = ENDPOINT_CONNECTION, "warning"
                what = (
                    f"a TCP connection ({seen.get('state')}) goes to {seen.get('address')}, an address `{record.host}` "
                    "resolves to now; addresses can be shared (CDNs), so this is at most a warning"
                )
            elif record.source == "hosts-file":
                blocked = seen.get("blocked") == "yes"
                cap = "info" if blocked else cap
                what = f"/etc/hosts {'blocks' if blocked else 'pins'} `{record.host}` ({seen.get('address')})"
            else:
                what = f"`{record.url or record.host}` is on {provider.name}'s host `{suffix}`"
            sentence = f"{what} ({entry}, {fact.where}; {source_phrase(self.policy, fact)})."
            detail = MatchDetail(
                "endpoint-host", "host", record.host, f"providers[{provider.id}].{entry}", str(fact.where)
            )
            hits.append(EndpointHit(rule, provider, detail, sentence, cap))
        return hits

    def _provider(self, record: EndpointRecord) -> list[EndpointHit]:
        if not record.provider_hint:
            return []
        hits = []
        for provider, where in self._aliases.get(normalize(record.provider_hint), []):
            sentence = f"its provider setting `{record.provider_hint}` names {provider.name} (id or aliases, {where})."
            detail = MatchDetail(
                "endpoint-provider", "provider_hint", record.provider_hint, f"providers[{provider.id}]", where
            )
            hits.append(
                EndpointHit(ENDPOINT_PROVIDER, provider, detail, sentence, "info" if record.in_package else None)
            )
        return hits

    def _model(self, record: EndpointRecord) -> list[EndpointHit]:
        if not record.model:
            return []
        hits = []
        for provider, fact, pattern, text in self._patterns:
            if pattern.search(record.model):
                sentence = (
                    f"its model `{record.model}` matches `{text}`, a {provider.name} model-name pattern ({fact.where}; "
                    f"{source_phrase(self.policy, fact)})."
                )
                detail = MatchDetail(
                    "endpoint-model",
                    "model",
                    record.model,
                    f"providers[{provider.id}].model_patterns: {text}",
                    str(fact.where),
                )
                hits.append(
                    EndpointHit(ENDPOINT_MODEL, provider, detail, sentence, "info" if record.in_package else None)
                )
                break
        return hits

    def _variable(self, record: EndpointRecord) -> list[EndpointHit]:
        if not record.variable:
            return []
        hits = []
        for provider, fact in self._variables.get(record.variable.upper(), []):
            sentence = (
                f"`{record.variable}` is a variable {provider.name}'s clients read ({fact.where}; "
                f"{source_phrase(self.policy, fact)}); a key or setting alone, without an endpoint, is a warning."
            )
            detail = MatchDetail(
                "endpoint-variable", "variable", record.variable, f"providers[{provider.id}].env_vars", str(fact.where)
            )
            hits.append(
                EndpointHit(ENDPOINT_VARIABLE, provider, detail, sentence, "info" if record.in_package else "warning")
            )
        return hits
