"""Endpoints: matchers for endpoint records against the policy, and the endpoint judge.

A host matches a provider's endpoint host or web host exactly or as a dot-bounded suffix
(``deepseek-alerts.example.gov`` does not match ``deepseek.com``). A tool's ``provider`` field
matches the provider's id or aliases; a model id matches its model-name patterns (for models routed
through gateways such as OpenRouter); a provider's own variable set with no endpoint is a warning.
Settings inside installed packages are library code, not use: at most info.
"""

from __future__ import annotations

import re
from dataclasses import replace

from scanner.findings import MatchDetail
from scanner.names import normalize
from scanner.policy.judge import Hit, Judge, Matcher, source_phrase
from scanner.policy.schema import Fact, NamedFact, Policy, Provider
from scanner.records import EndpointRecord, LogClient, OtherClients
from scanner.urls import HostIndex
from scanner.vocabulary import SOURCE_WORDS, EndpointSource, RecordKind, RuleId, Severity

_NAMES_ONLY = frozenset(
    {EndpointSource.DNS_LOG, EndpointSource.PROXY_LOG, EndpointSource.HOSTS_FILE, EndpointSource.SHELL_HISTORY}
)
"""Sources that name a host without configuring it."""


class EndpointMatcher(Matcher[EndpointRecord]):
    """All endpoint tests (host, provider setting, model id, provider variable), sharing indexes built once
    per scan; each names its own test in the match detail."""

    id = "endpoint"

    def __init__(self, policy: Policy) -> None:
        super().__init__(policy)
        self._hosts: HostIndex[tuple[Provider, Fact, str]] = HostIndex()
        self._aliases: dict[str, list[tuple[Provider, str]]] = {}
        self._variables: dict[str, list[tuple[Provider, Fact]]] = {}
        self._patterns: list[tuple[Provider, Fact, re.Pattern[str], str]] = []
        self._sdk: dict[str, list[tuple[Provider, NamedFact]]] = {}
        for provider in policy.providers.values():
            for sdk in (*provider.sdk_names, *provider.packages):  # `pip install`, `uvx`, `npx` name packages
                self._sdk.setdefault(sdk.name.lower(), []).append((provider, sdk))
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

    def match(self, record: EndpointRecord) -> list[Hit]:
        hits = [*self._host(record), *self._provider(record), *self._model(record), *self._variable(record)]
        hits += self._sdk_name(record)
        if record.mention:  # named in a comment or a block rule: not use, so at most info
            words = f"; it is only mentioned there ({record.context}), so it is at most info"
            return [replace(h, severity_cap=Severity.INFO, sentence=h.sentence[:-1] + words + ".") for h in hits]
        if record.source in HISTORIES:  # what someone did, not a setting in force: the policy weighs it
            cap = self.policy.history_severity
            words = f"; a history is evidence of past use, so at most {cap} (the policy's history_severity)"
            return [
                replace(h, severity_cap=min(cap, h.severity_cap or cap), sentence=h.sentence[:-1] + words + ".")
                for h in hits
            ]
        return hits

    def _sdk_name(self, record: EndpointRecord) -> list[Hit]:
        if not record.sdk:
            return []
        hits = []
        for provider, fact in self._sdk.get(record.sdk.lower(), []):
            note = f" ({fact.note})" if fact.note else ""
            what = "a package" if fact in provider.packages else "an SDK name that selects the client"
            sentence = (
                f"`{record.sdk}` is {what} of {provider.name}{note} ({fact.where}; {source_phrase(self.policy, fact)})."
            )
            detail = MatchDetail(
                "endpoint-sdk", "sdk", record.sdk, f"providers[{provider.id}].sdk_names: {fact.name}", str(fact.where)
            )
            hits.append(Hit(RuleId.ENDPOINT_SDK, provider, detail, sentence, _library_cap(record)))
        return hits

    def _host(self, record: EndpointRecord) -> list[Hit]:
        if not record.host:
            return []
        hits = []
        for suffix, (provider, fact, entry) in self._hosts.lookup(record.host)[:1]:
            contacted = record.source in (EndpointSource.DNS_LOG, EndpointSource.PROXY_LOG)
            rule = RuleId.ENDPOINT_CONTACTED if contacted else RuleId.ENDPOINT_HOST
            seen = dict(record.seen)
            cap = _library_cap(record)
            if contacted:
                what = contact_sentence(record)
            elif record.source == EndpointSource.CONNECTION:
                rule, cap = RuleId.ENDPOINT_CONNECTION, Severity.WARNING
                what = (
                    f"a TCP connection ({seen.get('state')}) goes to {seen.get('address')}, an address `{record.host}` "
                    "resolves to now; addresses can be shared (CDNs), so this is at most a warning"
                )
            elif record.source == EndpointSource.HOSTS_FILE:
                blocked = seen.get("blocked") == "yes"
                cap = Severity.INFO if blocked else cap
                what = f"/etc/hosts {'blocks' if blocked else 'pins'} `{record.host}` ({seen.get('address')})"
            else:
                what = f"`{record.url or record.host}` is on {provider.name}'s host `{suffix}`"
            sentence = f"{what} ({entry}, {fact.where}; {source_phrase(self.policy, fact)})."
            detail = MatchDetail(
                "endpoint-host", "host", record.host, f"providers[{provider.id}].{entry}", str(fact.where)
            )
            hits.append(Hit(rule, provider, detail, sentence, cap))
        return hits

    def _provider(self, record: EndpointRecord) -> list[Hit]:
        if not record.provider_hint:
            return []
        hits = []
        for provider, where in self._aliases.get(normalize(record.provider_hint), []):
            sentence = f"its provider setting `{record.provider_hint}` names {provider.name} (id or aliases, {where})."
            detail = MatchDetail(
                "endpoint-provider", "provider_hint", record.provider_hint, f"providers[{provider.id}]", where
            )
            hits.append(Hit(RuleId.ENDPOINT_PROVIDER, provider, detail, sentence, _library_cap(record)))
        return hits

    def _model(self, record: EndpointRecord) -> list[Hit]:
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
                hits.append(Hit(RuleId.ENDPOINT_MODEL, provider, detail, sentence, _library_cap(record)))
                break
        return hits

    def _variable(self, record: EndpointRecord) -> list[Hit]:
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
            cap = _library_cap(record) or Severity.WARNING
            hits.append(Hit(RuleId.ENDPOINT_VARIABLE, provider, detail, sentence, cap))
        return hits


EVIDENCE_CLIENTS = 10
"""Clients a sentence names; the record lists more, and the rest are counted."""
EVIDENCE_USERS = 3


def _client_words(client: LogClient, alone: bool = False) -> str:
    shown = client.users[:EVIDENCE_USERS]
    users = "/".join(shown) + ("/…" if client.more_users or len(client.users) > len(shown) else "")
    return client.address + ("" if alone else f" ×{client.count:,}") + (f" as {users}" if users else "")


def _how_many(record: EndpointRecord) -> str:
    """How many clients asked: exact, ``up to`` when clients seen once were dropped to make room (one that
    came back counts twice), ``at least`` when some could not be told apart."""
    others = record.other_clients or OtherClients(0, 0)
    total = len(record.clients) + others.clients
    if others.uncounted:
        return f"at least {total - others.dropped:,}"
    return f"up to {total:,}" if others.dropped else f"{total:,}"


def _asked_by(record: EndpointRecord) -> str:
    """Who asked, in short: ``looked up by 3 clients, most often 10.0.0.5`` (the first line of evidence,
    the one the fleet page shows)."""
    verb = "looked up" if record.source == EndpointSource.DNS_LOG else "requested"
    if not record.clients:
        return f"{verb} by clients not told apart"
    busiest = _client_words(record.clients[0], alone=True)
    if len(record.clients) == 1 and not record.other_clients:
        return f"{verb} by {busiest}"
    runner_up = record.clients[1].count if len(record.clients) > 1 else 0
    which = "most often" if record.clients[0].count > runner_up else "among them"
    return f"{verb} by {_how_many(record)} clients, {which} {busiest}"


def contact_sentence(record: EndpointRecord) -> str:
    """Which clients asked for the host, how often and when, for an official: ``looked up 42 times by 3
    clients (10.0.0.5 ×30, 10.0.0.7 ×10, 10.0.0.9 ×2) between ... and ...``, the busiest first."""
    seen = dict(record.seen)
    count = int(seen.get("count") or 0)
    dns = record.source == EndpointSource.DNS_LOG
    verb = "looked up" if dns else "requested through the proxy"
    first, last = seen.get("first"), seen.get("last")
    when = f"at {first}" if first == last else f"between {first} and {last}"
    others = record.other_clients or OtherClients(0, 0)
    named = record.clients[:EVIDENCE_CLIENTS]
    total = len(record.clients) + others.clients
    if total == 1 and not others.uncounted:
        by = f"by {_client_words(named[0], alone=True)}"
    elif not total:
        by = "by clients not told apart (more than the scan counts one by one)"
    else:
        listed = ", ".join(_client_words(c) for c in named)
        listed += f" and {total - len(named):,} more" if total > len(named) else ""
        lookups = "lookup(s)" if dns else "request(s)"
        listed += f"; {others.uncounted:,} more {lookups} by clients not told apart" if others.uncounted else ""
        by = f"by {_how_many(record)} clients ({listed})"
    return f"`{record.host}` was {verb} {'once' if count == 1 else f'{count:,} times'} {by} {when}"


def endpoint_subject(record: EndpointRecord, rule_id: RuleId | None = None) -> str:
    """What the endpoint is, for humans; a key is shown only by its last four characters.

    A finding made by the model or provider setting names that setting, not the URL beside it (a
    DeepSeek model served from ``localhost`` is about the model).
    """
    if rule_id == RuleId.ENDPOINT_MODEL and record.model:
        return record.model
    if rule_id == RuleId.ENDPOINT_SDK and record.sdk:
        return record.sdk
    if rule_id == RuleId.ENDPOINT_PROVIDER and record.provider_hint:
        return record.provider_hint + (f" ({record.model})" if record.model else "")
    if record.source == EndpointSource.CONNECTION:
        who = dict(record.process).get("name", dict(record.process).get("user", "?"))
        return f"{who} → {record.host} ({dict(record.seen).get('address')})"
    what = record.url or record.host or record.model or record.provider_hint or record.sdk
    key = f"key …{record.secret.last4}" if record.secret and record.secret.last4 else "a key" if record.secret else None
    value = what or key or "(set)"
    return f"{record.variable}={value}" if record.variable else value


class EndpointJudge(Judge[EndpointRecord]):
    """One finding per endpoint record and provider."""

    kind = RecordKind.ENDPOINT
    matchers = (EndpointMatcher,)
    not_allowed = RuleId.ENDPOINT_NOT_ALLOWED

    def subject(self, record: EndpointRecord, best: Hit | None) -> str:
        return endpoint_subject(record, best.rule if best else None)

    def record_sentence(self, record: EndpointRecord) -> str:
        where = record.locations[0].path + (f":{record.locations[0].line}" if record.locations[0].line else "")
        process = dict(record.process)
        if record.source == EndpointSource.CONNECTION:
            owner = (
                f"process {process['name']} (pid {process['pid']}, user {process['user']})"
                if "pid" in process
                else f"a process of user {process['user']} that could not be read"
            )
            return f"{owner} has a live TCP connection to `{record.host}` at {dict(record.seen).get('address')}."
        if record.source in (EndpointSource.DNS_LOG, EndpointSource.PROXY_LOG):
            return f"{SOURCE_WORDS[record.source]} at {where} names {record.host}, {_asked_by(record)}."
        if record.source == EndpointSource.BROWSER_HISTORY:
            seen = dict(record.seen)
            between = f" between {seen['first']} and {seen['last']}" if "first" in seen else ""
            whose = f"{seen.get('browser')}'s history (profile {seen.get('profile')} of user {seen.get('user')})"
            return f"{whose} at {where} shows {record.host} visited {seen.get('visits')} times{between}."
        who = f" (process {process['name']}, pid {process['pid']}, user {process['user']})" if process else ""
        tool = f" ({record.tool})" if record.tool else ""
        key = (
            f"; an API key ending …{record.secret.last4} is set beside it"
            if record.secret and record.secret.last4
            else ""
        )
        verb = "names" if record.source in _NAMES_ONLY else "sets"
        return f"{SOURCE_WORDS[record.source]}{tool}{who} at {where} {verb} {endpoint_subject(record)}{key}."


HISTORIES = frozenset({EndpointSource.BROWSER_HISTORY, EndpointSource.SHELL_HISTORY})


def _library_cap(record: EndpointRecord) -> Severity | None:
    return Severity.INFO if record.in_package else None
