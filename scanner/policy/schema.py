"""The policy file format (``schema_version: 1``), as dataclasses.

These classes *are* the schema: ``policy.typed_yaml`` converts YAML into them and rejects unknown
keys, wrong types, bad patterns and bad regular expressions with the file, line and field.
``policies/README.md`` documents every key; a test keeps the two in step.

A policy is data: provider lists, package names, hosts, organisations, fingerprints and lineages
live in YAML, and every fact names the source it comes from.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from functools import cache
from typing import Any, Literal, Union, get_args, get_origin

from scanner.ecosystems import Ecosystem
from scanner.vocabulary import Severity

SCHEMA_VERSION = 1

FactConfidence = Literal["verified", "secondary", "unverified"]
SourceKind = Literal[
    "ban",
    "restriction",
    "legislation",
    "diplomatic-warning",
    "export-control",
    "industry-report",
    "vendor-documentation",
    "source-code",
    "package-registry",
    "model-card",
    "research",
]
Mode = Literal["denylist", "allowlist"]
ApiStyle = Literal["openai", "anthropic", "native"]
ArchitectureFormat = Literal["transformers", "gguf"]
FingerprintKind = Literal["gguf-pre", "special-token", "chat-template-marker", "architecture", "config-shape"]
Strength = Literal["strong", "weak"]
DEFAULT_STRENGTH: dict[str, Strength] = {
    "gguf-pre": "strong",
    "special-token": "strong",
    "chat-template-marker": "strong",
    "architecture": "weak",
    "config-shape": "strong",
}
CONFIG_SHAPE_PATTERN = r"[A-Za-z0-9_.]+=\S+(?: [A-Za-z0-9_.]+=\S+)*"
LineageKind = Literal["model", "dataset"]
Relation = Literal["distillation", "finetune", "adapter", "quantized", "merge", "post-train", "teacher-outputs"]

ID_PATTERN = r"[a-z0-9]+(?:[-.][a-z0-9]+)*"


@dataclass(frozen=True)
class Where:
    """Where a policy item was written: for error messages and for evidence."""

    file: str
    line: int
    field: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


NOWHERE = Where("", 0, "")


def _where() -> Any:
    return field(default=NOWHERE, metadata={"internal": True}, compare=False, repr=False)


def _regex() -> Any:
    return field(metadata={"regex": True})


@dataclass(frozen=True, kw_only=True)
class Source:
    """A document that backs facts in the policy (a ban, a vendor's docs, a registry listing)."""

    title: str
    date: str = field(metadata={"date": True})
    urls: tuple[str, ...] = field(metadata={"min_items": 1})
    confidence: FactConfidence
    kind: SourceKind
    note: str = ""
    where: Where = _where()


@dataclass(frozen=True, kw_only=True)
class Fact:
    """Common to every fact: which source says so, and how sure we are."""

    source: str
    """Id of an entry under ``sources``."""
    confidence: FactConfidence | None = None
    """Defaults to the source's confidence."""
    note: str = ""
    where: Where = _where()


@dataclass(frozen=True, kw_only=True)
class NamedFact(Fact):
    """A name: a package, an environment variable, an organisation, an Ollama model."""

    name: str


@dataclass(frozen=True, kw_only=True)
class ProductNameFact(NamedFact):
    """How the provider or a product is written in prose (``DeepSeek``, ``Kimi``)."""

    common_word: bool = False
    """Also an ordinary word or a person's name (``MiniMax``, the game-tree algorithm; ``Kimi``, a given
    name): it counts only right beside an AI word (``MiniMax API``), not anywhere in the sentence."""


@dataclass(frozen=True, kw_only=True)
class PackageFact(NamedFact):
    """A package name in one ecosystem; PyPI entries also cover the conda packages of the same name."""

    ecosystem: Ecosystem = Ecosystem.PYPI


@dataclass(frozen=True, kw_only=True)
class HostFact(Fact):
    """A DNS name; it also covers its sub-domains (``deepseek.com`` covers ``chat.deepseek.com``)."""

    host: str = field(metadata={"pattern": r"[A-Za-z0-9.-]+"})


@dataclass(frozen=True, kw_only=True)
class EndpointFact(Fact):
    """An API endpoint host and the base URLs clients are configured with."""

    host: str = field(metadata={"pattern": r"[A-Za-z0-9.-]+"})
    base_urls: tuple[str, ...] = ()
    api: ApiStyle | None = None
    region: str = ""


@dataclass(frozen=True, kw_only=True)
class PatternFact(Fact):
    """A regular expression (Python syntax, matched case-insensitively)."""

    pattern: str = _regex()


@dataclass(frozen=True, kw_only=True)
class Fingerprint(Fact):
    """Something a model's files say about where it comes from, whatever it is named.

    Tokenizer fingerprints survive renaming and re-quantisation (``strong``); an architecture names
    a family that other vendors reuse (``weak``: never proof of a provider on its own).
    """

    kind: FingerprintKind
    value: str
    """``gguf-pre``: a ``tokenizer.ggml.pre`` name; ``special-token``: a token in the vocabulary's
    special tokens; ``chat-template-marker``: text in the chat template; ``architecture``: a
    transformers ``model_type`` or class, or a GGUF ``general.architecture``; ``config-shape``:
    ``key=value`` pairs that must all hold in ``config.json`` (``model_type=kimi_k2 n_routed_experts=384``)."""
    providers: tuple[str, ...] = field(metadata={"min_items": 1})
    strength: Strength | None = None
    """Defaults by kind: ``weak`` for ``architecture``, ``strong`` otherwise."""
    format: ArchitectureFormat | None = None
    """For ``architecture``: which naming it uses; unset matches either."""

    @property
    def effective_strength(self) -> Strength:
        return self.strength or DEFAULT_STRENGTH[self.kind]


@dataclass(frozen=True, kw_only=True)
class Provider:
    """An AI provider and everything that identifies its products."""

    id: str = field(metadata={"pattern": ID_PATTERN})
    name: str
    country: str = ""
    severity: Severity | None = None
    """Set: the provider is judged (banned or to review). Unset: a catalogue entry, known but not judged."""
    reason: str = ""
    """One plain sentence saying why, shown in every finding. Required with ``severity``."""
    sources: tuple[str, ...] = ()
    """Ids of the sources behind the severity. Required with ``severity``."""
    packages: tuple[PackageFact, ...] = ()
    package_false_positives: tuple[PackageFact, ...] = ()
    package_name_patterns: tuple[PatternFact, ...] = ()
    endpoints: tuple[EndpointFact, ...] = ()
    web_hosts: tuple[HostFact, ...] = ()
    env_vars: tuple[NamedFact, ...] = ()
    aliases: tuple[NamedFact, ...] = ()
    """Names AI tools use for the provider in their settings (``provider: deepseek``, ``minimax-cn``)."""
    product_names: tuple[ProductNameFact, ...] = ()
    """How the provider and its products are written in prose (``DeepSeek``, ``Moonshot AI``, ``Kimi``),
    compared case-sensitively as whole words: a package whose summary names one beside an AI word
    (``Kimi Code CLI is your next CLI agent``) is reported as a weak hint."""
    sdk_names: tuple[NamedFact, ...] = ()
    """Identifiers that select the provider's client in code or configuration: SDK classes and functions
    (``ChatDeepSeek``, ``createDeepSeek``), modules and import paths (``@ai-sdk/deepseek``), configuration
    prefixes (``spring.ai.deepseek``). Compared case-insensitively, as a whole identifier or a dotted or
    slashed part of one."""
    hf_orgs: tuple[NamedFact, ...] = ()
    modelscope_orgs: tuple[NamedFact, ...] = ()
    github_orgs: tuple[NamedFact, ...] = ()
    ollama_names: tuple[NamedFact, ...] = ()
    model_patterns: tuple[PatternFact, ...] = ()
    where: Where = _where()


@dataclass(frozen=True, kw_only=True)
class Digest(Fact):
    """The sha256 of a published weight file: a match is proof whatever the file is now called."""

    sha256: str = field(metadata={"pattern": r"[0-9a-f]{64}"})
    model: str
    """The repo or model the file was published in (``deepseek-ai/DeepSeek-R1``)."""
    file: str = ""
    """Its name there (``model-00001-of-000163.safetensors``)."""
    providers: tuple[str, ...] = field(metadata={"min_items": 1})


@dataclass(frozen=True, kw_only=True)
class Lineage(Fact):
    """A known model or dataset that carries a provider's lineage (a distill, a fine-tune...)."""

    id: str = field(metadata={"pattern": ID_PATTERN})
    kind: LineageKind
    names: tuple[str, ...] = field(metadata={"min_items": 1})
    """Hugging Face ids or model names that identify it."""
    ollama: tuple[str, ...] = ()
    relation: Relation
    parents: tuple[str, ...] = ()
    """What it was made from: model names or ids of other lineages."""
    providers: tuple[str, ...] = field(metadata={"min_items": 1})
    """Providers whose lineage it carries."""


@dataclass(frozen=True, kw_only=True)
class Collect:
    """What the scan may read beyond configuration: people's own histories are a privacy decision."""

    browser_history: bool = True
    """Visits to the providers' hosts in browsers' histories (only those visits, as counts and dates)."""
    shell_history: bool = True
    """Commands in shell histories that fetch, install or call a provider's software or hosts."""
    where: Where = _where()


@dataclass(frozen=True, kw_only=True)
class Allow:
    """Allow-list mode: what is approved; any other AI provider or package is reported."""

    providers: tuple[str, ...] = ()
    packages: tuple[str, ...] = ()
    models: tuple[str, ...] = field(default=(), metadata={"regex": True})
    """Regular expressions of approved model names (used by the model inventory)."""
    severity: Severity | None = None
    """Severity of "not approved" findings; ``violation`` when no composed file sets one."""
    where: Where = _where()


@dataclass(frozen=True, kw_only=True)
class Waiver:
    """An approved, dated exception: the findings it matches are reported as waived and do not fail the run.

    Every criterion given must match; at least one is required (a waiver never covers everything).
    """

    rule: str | None = None
    """A rule id (``model-lineage``)."""
    provider: str | None = None
    """A provider id of the policy (``deepseek``)."""
    path: str | None = None
    """A glob matched against the finding's path inside the root; ``*`` also matches ``/``."""
    host: str | None = None
    """An endpoint host, or a domain covering its sub-domains (``deepseek.com``)."""
    approved_by: str
    reference: str
    """The ticket or decision that approved it (``SEC-1234``)."""
    reason: str
    expires: str = field(metadata={"date": "day"})
    """Last day the waiver applies (``YYYY-MM-DD``, inclusive)."""
    where: Where = _where()


@dataclass(frozen=True, kw_only=True)
class WaiversDocument:
    """A ``--waivers`` file: the same ``waivers`` list a policy may carry, kept apart from it."""

    schema_version: int
    waivers: tuple[Waiver, ...] = ()


@dataclass(frozen=True, kw_only=True)
class PolicyDocument:
    """One policy file."""

    schema_version: int
    id: str = field(metadata={"pattern": ID_PATTERN})
    version: str
    title: str
    description: str = ""
    mode: Mode = "denylist"
    include: tuple[str, ...] = ()
    sources: Mapping[str, Source] = field(default_factory=dict)
    providers: tuple[Provider, ...] = ()
    fingerprints: tuple[Fingerprint, ...] = ()
    lineages: tuple[Lineage, ...] = ()
    digests: tuple[Digest, ...] = ()
    ai_packages: tuple[PackageFact, ...] = ()
    """Packages that are AI software without belonging to one provider (for allow-list mode)."""
    allow: Allow | None = None
    declared_severity: Severity | None = None
    """The most a dependency a project only declares (a manifest or lock file) is reported as; an installed
    package is judged by its provider's severity. ``warning`` when no composed file sets one."""
    history_severity: Severity | None = None
    """The most a visit in a browser's history or a command in a shell's history is reported as: evidence of
    past use, not of a setting in force. ``warning`` when no composed file sets one."""
    collect: Collect | None = None
    waivers: tuple[Waiver, ...] = ()
    where: Where = _where()


@dataclass(frozen=True)
class PolicyFileInfo:
    """Identifies a loaded policy file in a report."""

    id: str
    version: str
    path: str
    sha256: str

    def to_dict(self) -> dict[str, str]:
        return {"id": self.id, "version": self.version, "path": self.path, "sha256": self.sha256}


@dataclass(frozen=True)
class Policy:
    """The composed policy a scan is judged against (``--policy`` files and their includes)."""

    files: tuple[PolicyFileInfo, ...]
    sources: Mapping[str, Source]
    providers: Mapping[str, Provider]
    fingerprints: tuple[Fingerprint, ...]
    lineages: tuple[Lineage, ...]
    digests: tuple[Digest, ...]
    ai_packages: tuple[PackageFact, ...]
    mode: Mode
    allow: Allow
    allow_severity: Severity
    """The highest ``allow.severity`` written in any composed file, else ``violation``."""
    declared_severity: Severity = Severity.WARNING
    """The highest ``declared_severity`` written in any composed file, else ``warning``."""
    history_severity: Severity = Severity.WARNING
    """The highest ``history_severity`` written in any composed file, else ``warning``."""
    collect: Collect = Collect()
    """What may be read: a history is off when any composed file turns it off."""
    waivers: tuple[Waiver, ...] = ()
    """From the policy files' ``waivers`` sections and ``--waivers`` files."""

    def fact_confidence(self, fact: Fact) -> FactConfidence:
        return fact.confidence or self.sources[fact.source].confidence


@cache
def type_shape(tp: Any) -> tuple[str, Any]:
    """What a schema type is (``optional``, ``literal``, ``enum``, ``sequence``, ``mapping``, ``dataclass`` or
    ``scalar``) and its argument, for the YAML reader that builds these classes (``typed_yaml``): worked
    out once per type, not for each of the bundled policy's 3,000 values."""
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        return "optional", next(a for a in get_args(tp) if a is not type(None))
    if origin is Literal:
        return "literal", get_args(tp)
    if isinstance(tp, type) and issubclass(tp, Enum):
        return "enum", tuple(member.value for member in tp)
    if origin is tuple:
        return "sequence", get_args(tp)[0]
    if origin in (dict, Mapping):
        return "mapping", get_args(tp)[1]
    if dataclasses.is_dataclass(tp):
        return "dataclass", None
    return "scalar", None
