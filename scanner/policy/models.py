"""Models: matchers for models against the policy, and the model judge.

A model's leads (its own names and, through its and other local models' metadata, the names it
descends from) are compared with the policy's lineages, provider organisations and Ollama names
(``confirmed``) and name patterns (``weak``); its own tokenizer, chat template, architecture and
config are compared with the policy's fingerprints (``strong`` or ``weak``); its files' digests with
published ones (``confirmed``). Each hit carries the lineage chain an official reads: the model, each
step its files declare, each step the policy knows, and the provider.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from scanner.findings import Finding, MatchDetail
from scanner.names import contains_name, name_keys, normalize, strip_packaging
from scanner.policy.judge import Hit, Judge, Matcher, source_phrase
from scanner.policy.schema import Digest, Fingerprint, Lineage, Policy, Provider
from scanner.policy.wording import RELATION_WORDS
from scanner.records import Lead, ModelRecord
from scanner.vocabulary import RULES, STORE_WORDS, ModelStore, RecordKind, RuleId, Severity

_MIN_CONTAINED = 3
"""A lineage name is also found inside a longer name (``...-7b-q4-k-m``) only when it has at least
this many words, so that short names never match by accident."""


_GIVEN_NAMES = ("file name", "folder name")


def lead_rank(lead: Lead) -> int:
    """Among equally confident hits, the evidence to show first: declared lineage (0), names read from
    metadata (1), names people gave files and folders (2)."""
    first = lead.steps[0]
    if first.relation != "named":
        return 0
    return 2 if first.evidence.startswith(_GIVEN_NAMES) else 1


def lead_hit(
    rule: RuleId, provider: Provider, detail: MatchDetail, sentence: str, chain: tuple[str, ...], lead: Lead
) -> Hit:
    """A hit on a lead's name; a file or folder name alone is what someone called it here, not what it
    is, so such a hit is weak and at most a warning."""
    given = lead_rank(lead) == 2
    cap = Severity.WARNING if given else None
    return Hit(rule, provider, detail, sentence, cap, weak=given, chain=chain, rank=lead_rank(lead))


def lead_chain(model: ModelRecord, lead: Lead) -> list[str]:
    """The model, then each link of the lead as its files declare it."""
    lines = [f"`{model.name}` ({model.locations[0].path})"]
    for step in lead.steps:
        if step.relation == "named" and step.name == model.name:
            continue
        words = "also named" if step.relation == "named" else RELATION_WORDS.get(step.relation, step.relation)
        lines.append(f"→ {words} `{step.name}` ({step.evidence})")
    return lines


class LineageMatcher(Matcher[ModelRecord]):
    """A lead is a model or dataset the policy knows to carry a provider's lineage."""

    id = "model-lineage"

    def __init__(self, policy: Policy) -> None:
        super().__init__(policy)
        self._by_id = {lineage.id: lineage for lineage in policy.lineages}
        self._exact: dict[str, list[Lineage]] = {}
        self._contained: list[tuple[str, Lineage]] = []
        for lineage in policy.lineages:
            for written in lineage.names:
                for key in name_keys(written):
                    self._exact.setdefault(key.full, []).append(lineage)
                bare = normalize(written.split("/")[-1])
                if bare.count("-") + 1 >= _MIN_CONTAINED:
                    self._contained.append((bare, lineage))
            for ollama in lineage.ollama:  # `deepseek-r1:7b` is the distill; plain `deepseek-r1` is not
                self._exact.setdefault(name_keys(ollama)[0].full, []).append(lineage)

    def lineages_of(self, name: str) -> list[Lineage]:
        """Exact names first (also with packaging words such as ``-GGUF`` or ``-Q4_K_M`` taken off),
        else the longest known name found inside it (``Light-R1-32B-DS-...`` is Light-R1-*-DS)."""
        found: list[Lineage] = []
        for key in name_keys(name):
            for variant in dict.fromkeys((key.full, strip_packaging(key.full))):
                found += self._exact.get(variant, [])
        if not found:
            bare = strip_packaging(normalize(name.replace("\\", "/").split("/")[-1]))
            contained = [(len(text), line) for text, line in self._contained if contains_name(bare, text)]
            longest = max((n for n, _ in contained), default=0)
            found = [line for n, line in contained if n == longest]
        return list(dict.fromkeys(found))

    def policy_chain(self, lineage: Lineage, seen: frozenset[str] = frozenset()) -> list[str]:
        """The links the policy knows, from a lineage to the provider's own models, through parent lineages."""
        words = RELATION_WORDS.get(lineage.relation, lineage.relation)
        parents = ", ".join(f"`{p}`" for p in lineage.parents) or "its sources"
        lines = [f"→ {words} {parents} (policy lineage {lineage.id}, {lineage.where})"]
        for parent in lineage.parents:
            nested = self._by_id.get(parent)
            if nested is not None and nested.id not in seen:
                lines += self.policy_chain(nested, seen | {lineage.id})
        return lines

    def match(self, record: ModelRecord) -> list[Hit]:
        model = record
        hits: list[Hit] = []
        for lead in model.leads:
            for lineage in self.lineages_of(lead.name):
                for provider_id in lineage.providers:
                    provider = self.policy.providers[provider_id]
                    chain = (
                        *lead_chain(model, lead),
                        *self.policy_chain(lineage),
                        f"→ provider {provider.id} ({provider.name})",
                    )
                    sentence = (
                        f"`{lead.name}` is {lineage.id}, which {lineage.where} lists as carrying {provider.name}'s "
                        f"lineage ({lineage.relation}); {source_phrase(self.policy, lineage)}."
                    )
                    detail = MatchDetail(self.id, "leads", lead.name, f"lineages[{lineage.id}]", str(lineage.where))
                    hits.append(lead_hit(RuleId.MODEL_LINEAGE, provider, detail, sentence, chain, lead))
        return hits


class PublisherMatcher(Matcher[ModelRecord]):
    """A lead is published under a provider's Hugging Face or ModelScope organisation, or is one of its Ollama models."""

    id = "model-publisher"

    def __init__(self, policy: Policy) -> None:
        super().__init__(policy)
        self._orgs: dict[str, list[tuple[Provider, str, str]]] = {}
        self._ollama: dict[str, list[tuple[Provider, str]]] = {}
        for provider in policy.providers.values():
            for group, facts in (("hf_orgs", provider.hf_orgs), ("modelscope_orgs", provider.modelscope_orgs)):
                for fact in facts:
                    self._orgs.setdefault(normalize(fact.name), []).append((provider, group, str(fact.where)))
            for fact in provider.ollama_names:
                self._ollama.setdefault(normalize(fact.name), []).append((provider, str(fact.where)))

    def match(self, record: ModelRecord) -> list[Hit]:
        model = record
        hits: list[Hit] = []
        for lead in model.leads:
            for key in name_keys(lead.name):
                for provider, group, where in self._orgs.get(key.org or "", []):
                    sentence = (
                        f"`{lead.name}` is published by `{key.org}`, {provider.name}'s organisation ({group}, {where})."
                    )
                    hits.append(self._hit(model, provider, lead, f"{group}: {key.org}", where, sentence))
                for provider, where in self._ollama.get(key.model, []) if key.org is None else []:
                    sentence = f"`{lead.name}` is {provider.name}'s Ollama model `{key.model}` (ollama_names, {where})."
                    hits.append(self._hit(model, provider, lead, f"ollama_names: {key.model}", where, sentence))
        return hits

    def _hit(self, model: ModelRecord, provider: Provider, lead: Lead, entry: str, where: str, sentence: str) -> Hit:
        chain = (*lead_chain(model, lead), f"→ provider {provider.id} ({provider.name})")
        detail = MatchDetail(self.id, "leads", lead.name, f"providers[{provider.id}].{entry}", where)
        return lead_hit(RuleId.MODEL_PUBLISHER, provider, detail, sentence, chain, lead)


class FingerprintMatcher(Matcher[ModelRecord]):
    """The model's own tokenizer, chat template, architecture or config carries a provider's fingerprint."""

    id = "model-fingerprint"

    def __init__(self, policy: Policy) -> None:
        super().__init__(policy)
        self._architectures: dict[tuple[str, str], list[int]] = {}
        """The architecture fingerprints (most of them) by name and format: looked up, not each tried."""
        self._tried: list[int] = []
        """The others, tried one by one on each model: tokens, template markers, config shapes."""
        for index, fingerprint in enumerate(policy.fingerprints):
            if fingerprint.kind != "architecture":
                self._tried.append(index)
                continue
            for form in [fingerprint.format] if fingerprint.format else ["gguf", "transformers"]:
                self._architectures.setdefault((fingerprint.value, form), []).append(index)

    def match(self, record: ModelRecord) -> list[Hit]:
        model = record
        pre = {c.value for c in model.clues_of("gguf-pre")}
        specials = set(model.special_tokens)
        own = [c for c in model.clues_of("architecture") if "." not in c.field or c.field.startswith("general.")]
        nested = [c for c in model.clues_of("architecture") if c not in own]
        config = {c.value for c in model.clues_of("config")}
        fingerprints, template = self.policy.fingerprints, model.chat_template or ""
        shown = [i for i in self._tried if self._seen(fingerprints[i], pre, specials, template, set(), config)]
        hits: list[Hit] = []
        # A model is attributed by its own architecture; a nested tower (Kimi-VL's text_config is
        # deepseek_v2) speaks only when the top level says nothing the policy knows.
        for clues in (own, nested):
            architectures = {(c.value, "gguf" if c.field == "general.architecture" else "transformers") for c in clues}
            named = (i for key in architectures for i in self._architectures.get(key, ()))
            for index in sorted({*shown, *named}):  # in the policy's order, as each was tried before
                fingerprint = fingerprints[index]
                seen = self._seen(fingerprint, pre, specials, template, architectures, config)
                if seen is None:
                    continue
                for provider_id in fingerprint.providers:
                    hits.append(self._hit(model, fingerprint, self.policy.providers[provider_id], seen))
            if any(h.rule is RuleId.MODEL_FINGERPRINT and h.detail.field == "architecture" for h in hits):
                break
        return list(dict.fromkeys(hits))

    @staticmethod
    def _seen(
        fingerprint: Fingerprint,
        pre: set[str],
        specials: set[str],
        template: str,
        architectures: set[tuple[str, str]],
        config: set[str],
    ) -> str | None:
        """Where the fingerprint shows in the model, in words, or ``None``."""
        value, kind = fingerprint.value, fingerprint.kind
        if kind == "gguf-pre" and value in pre:
            return f"its GGUF pre-tokenizer is `{value}`"
        if kind == "special-token" and value in specials:
            return f"its vocabulary has the special token `{value}`"
        if kind == "chat-template-marker" and value in template:
            return f"its chat template contains `{value}`"
        if kind == "architecture":
            formats = [fingerprint.format] if fingerprint.format else ["gguf", "transformers"]
            if any((value, fmt) in architectures for fmt in formats):
                return f"its architecture is `{value}`"
        if kind == "config-shape" and all(pair in config for pair in value.split()):
            return f"its config.json has {', '.join(value.split())}"
        return None

    def _hit(self, model: ModelRecord, fingerprint: Fingerprint, provider: Provider, seen: str) -> Hit:
        weak = fingerprint.effective_strength == "weak"
        note = f" ({fingerprint.note})" if fingerprint.note else ""
        sentence = (
            f"{seen}, a {fingerprint.kind} fingerprint of {provider.name} models{note} "
            f"({fingerprint.where}; {source_phrase(self.policy, fingerprint)})"
            + (": on its own this proves nothing, so at most a warning." if weak else ".")
        )
        chain = (
            f"`{model.name}` ({model.locations[0].path})",
            f"→ {seen}",
            f"→ provider {provider.id} ({provider.name})",
        )
        detail = MatchDetail(
            self.id, fingerprint.kind, fingerprint.value, f"fingerprints: {fingerprint.value}", str(fingerprint.where)
        )
        cap = Severity.WARNING if weak else None
        return Hit(RuleId.MODEL_FINGERPRINT, provider, detail, sentence, cap, weak=weak, chain=chain)


class DigestMatcher(Matcher[ModelRecord]):
    """One of the model's files has the sha256 of a file the policy knows was published by a provider."""

    id = "model-digest"

    def __init__(self, policy: Policy) -> None:
        super().__init__(policy)
        self._digests: dict[str, list[Digest]] = {}
        for digest in policy.digests:
            self._digests.setdefault(digest.sha256, []).append(digest)

    def match(self, record: ModelRecord) -> list[Hit]:
        model = record
        hits: list[Hit] = []
        for clue in model.clues_of("digest"):
            for digest in self._digests.get(clue.value, []):
                published = f"`{digest.file}` of `{digest.model}`" if digest.file else f"a file of `{digest.model}`"
                seen = f"{clue.path} has sha256 {clue.value[:16]}…, the digest of {published}"
                for provider_id in digest.providers:
                    provider = self.policy.providers[provider_id]
                    sentence = f"{seen} ({clue.field}; {digest.where}; {source_phrase(self.policy, digest)})."
                    chain = (
                        f"`{model.name}` ({model.locations[0].path})",
                        f"→ {seen} (policy digests, {digest.where})",
                        f"→ provider {provider.id} ({provider.name})",
                    )
                    detail = MatchDetail(self.id, "digest", clue.value, f"digests: {digest.model}", str(digest.where))
                    hits.append(Hit(RuleId.MODEL_DIGEST, provider, detail, sentence, chain=chain, rank=0))
        return hits


class NamePatternMatcher(Matcher[ModelRecord]):
    """Heuristic: a lead's name matches a provider's model-name pattern."""

    id = "model-name-pattern"

    def __init__(self, policy: Policy) -> None:
        super().__init__(policy)
        self._patterns = [
            (provider, fact, re.compile(fact.pattern, re.IGNORECASE))
            for provider in policy.providers.values()
            for fact in provider.model_patterns
        ]

    def match(self, record: ModelRecord) -> list[Hit]:
        model = record
        hits: list[Hit] = []
        for lead in model.leads:
            for provider, fact, pattern in self._patterns:
                if not pattern.search(lead.name):
                    continue
                sentence = (
                    f"`{lead.name}` matches `{fact.pattern}`, a model-name pattern {fact.where} gives for {provider.name} "
                    "(a heuristic, so at most a warning)."
                )
                chain = (*lead_chain(model, lead), f"→ provider {provider.id} ({provider.name}), by name pattern")
                detail = MatchDetail(
                    self.id,
                    "leads",
                    lead.name,
                    f"providers[{provider.id}].model_patterns: {fact.pattern}",
                    str(fact.where),
                )
                cap, rank = Severity.WARNING, lead_rank(lead)
                hits.append(Hit(RuleId.MODEL_NAME_PATTERN, provider, detail, sentence, cap, True, chain, rank))
        return hits


def _size(n: int) -> str:
    value, unit = float(n), "bytes"
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            break
        value /= 1024
    return f"{n} bytes" if unit == "bytes" else f"{value:.1f} {unit}"


class ModelJudge(Judge[ModelRecord]):
    """One finding per model and provider: the strongest evidence, with its lineage chain."""

    kind = RecordKind.MODEL
    matchers = (DigestMatcher, LineageMatcher, PublisherMatcher, FingerprintMatcher, NamePatternMatcher)
    not_allowed = RuleId.MODEL_NOT_ALLOWED

    def __init__(self, policy: Policy) -> None:
        super().__init__(policy)
        self._allowed_models = [re.compile(p, re.IGNORECASE) for p in policy.allow.models]

    def approved(self, record: ModelRecord, provider: Provider | None) -> bool:
        if super().approved(record, provider):
            return True
        return any(p.search(lead.name) for p in self._allowed_models for lead in record.leads)

    def record_sentence(self, record: ModelRecord) -> str:
        if record.store is ModelStore.NAMED:
            where = record.locations[0]
            return f"`{record.name}` is named at {where.path}:{where.line}, in code or configuration that uses it."
        size = sum(f.size for f in record.files)
        files = f"{len(record.files)} file(s), {_size(size)}"
        what = "dataset" if record.format == "dataset" else "model"
        return (
            f"{what} `{record.name}` ({record.format}, {files}) is present {STORE_WORDS[record.store]} at "
            f"{record.locations[0].path}."
        )

    def evidence_of(self, hits: Sequence[Hit]) -> list[str]:
        """Every sentence of the deciding rule, then one per other rule that agrees: enough to see the
        corroboration without one line per name the model goes by."""
        first_of_rule: dict[RuleId, str] = {}
        for hit in hits:
            first_of_rule.setdefault(hit.rule, hit.sentence)
        deciding = [h.sentence for h in hits if h.rule is hits[0].rule]
        return list(dict.fromkeys([*deciding, *first_of_rule.values()]))

    def allowlist_sentence(self, record: ModelRecord, provider: Provider | None) -> str:
        what = f"neither {provider.name} nor this model is" if provider else "this model is not"
        return f"This policy is an allow-list ({self.policy.allow.where}): {what} approved."

    def unlisted(self, record: ModelRecord) -> list[Finding]:
        if self.approved(record, None):
            return []
        where = str(self.policy.allow.where)
        evidence = (
            self.record_sentence(record),
            f"This policy is an allow-list ({where}): no name of this model matches allow.models and it is "
            "from no approved provider.",
        )
        detail = MatchDetail("allowlist", "leads", record.name, "allow.models, allow.providers", where)
        rule = RULES[self.not_allowed]
        return [self.finding(record, rule.id, self.policy.allow_severity, rule.confidence, None, evidence, [detail])]
