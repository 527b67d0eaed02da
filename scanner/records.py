"""Records: the facts collectors find. A record never says whether something is banned.

Every record says where it was found (``locations``, the first one primary) and by which
collector (``found_by``). Source-specific extras go in ``attributes`` until a reporter truly
needs a field of its own.
"""

from __future__ import annotations

import dataclasses
import hashlib
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from functools import cache
from typing import Any, Literal, Protocol, TypeVar

from scanner.ecosystems import Ecosystem, EnvironmentKind
from scanner.vocabulary import EndpointSource, ModelStore, RecordKind, SkipKind

LocationRole = Literal["primary", "supporting"]


@dataclass(frozen=True)
class Location:
    """A place on the scanned machine."""

    path: str
    """Path as seen from inside the scanned root (``/home/alice/.env``), never the host path."""
    line: int | None = None
    """1-based line number when the fact comes from one line of a text file."""
    role: LocationRole = "primary"
    """``primary``: the thing itself; ``supporting``: a file that only tells us about it."""

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line, "role": self.role}


@dataclass(frozen=True)
class Skipped:
    """A path the scan did not (fully) see, and why. Nothing is dropped silently."""

    path: str
    """Path as seen from inside the scanned root."""
    reason: str
    """Plain words, e.g. ``permission denied`` or ``network filesystem (nfs4)``."""
    kind: SkipKind = SkipKind.UNREADABLE
    """``unreadable``/``error``/``unsupported`` make a scan incomplete; the others were chosen."""

    @property
    def makes_incomplete(self) -> bool:
        return not self.kind.chosen

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "reason": self.reason, "kind": self.kind}


@dataclass(frozen=True)
class Environment:
    """The Python environment (prefix) a package is installed in."""

    path: str
    """Prefix as seen inside the root: ``/opt/venvs/agent``, ``/usr``, ``/home/bob/.local``."""
    kind: EnvironmentKind
    """How the prefix was recognised (``pyvenv.cfg`` -> venv, ``conda-meta/`` -> conda, ...)."""
    python: str | None = None
    """``3.11`` when the layout or ``pyvenv.cfg`` says so."""

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "kind": self.kind, "python": self.python}


class Record(Protocol):
    """What every inventory record offers to the policy engine and the reporters."""

    @property
    def kind(self) -> RecordKind: ...

    @property
    def name(self) -> str: ...

    @property
    def version(self) -> str | None: ...

    @property
    def locations(self) -> tuple[Location, ...]: ...

    @property
    def found_by(self) -> str: ...

    @property
    def id(self) -> str: ...

    @property
    def identity(self) -> str: ...

    def attributes(self) -> dict[str, Any]: ...


def stable_id(*parts: str) -> str:
    """A short content hash of stable fields, so the same thing gets the same id in every scan."""
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:16]


@dataclass(frozen=True)
class PackageRecord:
    """An installed package: a ``*.dist-info``/``*.egg-info`` folder, a ``conda-meta`` record, the
    ``package.json`` of a package in a ``node_modules`` tree, a declared dependency, a desktop app or an
    editor or browser extension (each of its ecosystem)."""

    name: str
    """Name as the metadata declares it."""
    normalized_name: str
    """The name by its ecosystem's rules (PEP 503 for Python: lower case, runs of ``-_.`` folded to ``-``);
    what policies match."""
    version: str | None
    ecosystem: Ecosystem
    """``pypi`` for dist-info/egg-info metadata, ``conda`` for a conda-meta record alone."""
    environment: Environment
    locations: tuple[Location, ...]
    found_by: str
    summary: str | None = None
    home_page: str | None = None
    project_urls: tuple[tuple[str, str], ...] = ()
    """``(label, url)`` pairs from ``Project-URL`` headers."""
    author_email_domains: tuple[str, ...] = ()
    """Lower-case domains of the author and maintainer e-mail addresses."""
    installer: str | None = None
    """Contents of the ``INSTALLER`` file (``pip``, ``uv``, ``conda``...)."""
    requires: tuple[str, ...] = ()
    """Names of the packages it depends on (``Requires-Dist``, ``dependencies``), as written."""
    described_api_hosts: tuple[str, ...] = ()
    """API hosts its long description's examples call (``api.moonshot.ai``): whose client it is."""
    display_name: str | None = None
    """The name an app or extension shows people (``Kimi``, ``Kimi Code``) when its id is another."""
    reaches: tuple[str, ...] = ()
    """Hosts an extension's manifest says it works with: its host permissions and content-script matches,
    the URLs its settings default to (``api.deepseek.com``, ``chat.deepseek.com``)."""
    extra: tuple[tuple[str, str], ...] = field(default=())
    """Source-specific facts (conda channel and build, metadata format)."""
    kind: Literal[RecordKind.PACKAGE] = RecordKind.PACKAGE

    @property
    def identity(self) -> str:
        """Stable identity: ecosystem-independent name within one environment."""
        python = self.ecosystem in (Ecosystem.PYPI, Ecosystem.CONDA)  # one record for both, as before npm
        kind = "declared" if self.environment.kind is EnvironmentKind.MANIFEST else "package"
        return f"{kind}:{'' if python else f'{self.ecosystem}:'}{self.normalized_name}@{self.environment.path}"

    @property
    def id(self) -> str:
        """Unique within a scan: a dist-info and an egg-info of one version are two records."""
        return stable_id(self.identity, self.version or "", self.locations[0].path)

    @property
    def urls(self) -> tuple[str, ...]:
        """Every URL the metadata gives: home page first, then project URLs."""
        found = [self.home_page] if self.home_page else []
        return (*found, *(url for _, url in self.project_urls))

    def attributes(self) -> dict[str, Any]:
        return {
            "normalized_name": self.normalized_name,
            "ecosystem": self.ecosystem,
            "summary": self.summary,
            "home_page": self.home_page,
            "project_urls": [{"label": label, "url": url} for label, url in self.project_urls],
            "author_email_domains": list(self.author_email_domains),
            "installer": self.installer,
            "requires": list(self.requires),
            "described_api_hosts": list(self.described_api_hosts),
            "display_name": self.display_name,
            "reaches": list(self.reaches),
            "environment": self.environment.to_dict(),
            "found_by": self.found_by,
            "locations": [loc.to_dict() for loc in self.locations],
            **dict(self.extra),
        }


ClueKind = Literal["name", "base-model", "dataset", "gguf-pre", "architecture", "config", "digest"]


@dataclass(frozen=True)
class Clue:
    """One thing a model's files say about what it is or where it comes from."""

    kind: ClueKind
    """``name``: a name it goes by; ``base-model``/``dataset``: declared lineage; ``gguf-pre``,
    ``architecture``, ``config`` (``key=value`` from ``config.json``): fingerprints; ``digest``: a
    file's sha256 known without hashing (HF and Ollama blob names, Git LFS pointers)."""
    value: str
    field: str
    """Where in the file it was read: ``general.base_model.0.name``, ``_name_or_path``, ``base_model``."""
    path: str
    """The file (as seen inside the root) that says so."""
    relation: str | None = None
    """For ``base-model``: ``finetune``, ``adapter``, ``quantized``, ``merge``, ``distillation``
    when the file says, ``loaded-from`` for a config's ``_name_or_path``; ``None`` when it only
    names a base model."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "value": self.value,
            "field": self.field,
            "path": self.path,
            "relation": self.relation,
        }


@dataclass(frozen=True)
class ModelFile:
    """One file of a model."""

    path: str
    size: int
    format: str
    """``gguf``, ``safetensors``, ``pytorch-zip``, ``onnx``, ``config``, ``git-lfs-pointer``..."""
    bytes_read: int = 0
    """How much of it the scan read (headers only): the benchmark reports it."""

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "size": self.size, "format": self.format, "bytes_read": self.bytes_read}


@dataclass(frozen=True)
class Step:
    """One link of a lineage chain, read from files on this machine."""

    relation: str
    """``named`` (the model's own name), ``finetune``, ``adapter``, ``quantized``, ``merge``,
    ``distillation``, ``base model`` (declared without a relation) or ``trained on`` (a dataset)."""
    name: str
    evidence: str
    """Where it was read: ``general.base_model.0.name in /srv/x.gguf``."""

    def to_dict(self) -> dict[str, str]:
        return {"relation": self.relation, "name": self.name, "evidence": self.evidence}


@dataclass(frozen=True)
class Lead:
    """A name a model leads to — its own, a declared base model or dataset, or theirs in turn."""

    steps: tuple[Step, ...]

    @property
    def name(self) -> str:
        return self.steps[-1].name

    def to_dict(self) -> list[dict[str, str]]:
        return [step.to_dict() for step in self.steps]


@dataclass(frozen=True)
class ModelRecord:
    """One model: a Hugging Face snapshot, an Ollama tag, a model folder or a single weight file."""

    name: str
    """The best name it goes by (repo id, ``model:tag``, GGUF ``general.name``, file name)."""
    version: str | None
    """Revision, Ollama tag or ``general.version`` when known."""
    store: ModelStore
    format: str
    """Format of its weights (``gguf``, ``safetensors``...), or ``config-only`` when only metadata is present."""
    files: tuple[ModelFile, ...]
    clues: tuple[Clue, ...]
    locations: tuple[Location, ...]
    found_by: str
    special_tokens: tuple[str, ...] = ()
    """Control and added tokens of its vocabulary (GGUF token types 3/4, ``added_tokens_decoder``)."""
    chat_template: str | None = None
    """Its chat template (bounded), where markers of a family show."""
    leads: tuple[Lead, ...] = ()
    """Filled by the lineage stage: every name it leads to through its own and other local models' metadata."""
    kind: Literal[RecordKind.MODEL] = RecordKind.MODEL

    @property
    def identity(self) -> str:
        """Its place; a model only named in a file is that name in that file (a recipe names several)."""
        named = f"#{self.name}" if self.store is ModelStore.NAMED else ""
        return f"model:{self.locations[0].path}{named}"

    @property
    def id(self) -> str:
        return stable_id(self.identity, self.version or "")

    def clues_of(self, kind: ClueKind) -> list[Clue]:
        return [c for c in self.clues if c.kind == kind]

    def attributes(self) -> dict[str, Any]:
        template = self.chat_template
        return {
            "store": self.store,
            "format": self.format,
            "files": [f.to_dict() for f in self.files],
            "size": sum(f.size for f in self.files),
            "clues": [c.to_dict() for c in self.clues],
            "lineage": [lead.to_dict() for lead in self.leads if len(lead.steps) > 1],
            "special_tokens": len(self.special_tokens),
            "chat_template_sha256": hashlib.sha256(template.encode("utf-8", "surrogatepass")).hexdigest()
            if template
            else None,
            "found_by": self.found_by,
            "locations": [loc.to_dict() for loc in self.locations],
        }


@dataclass(frozen=True)
class SecretRef:
    """A credential seen on the machine, kept only as a salted fingerprint and its last four characters.

    The secret itself never enters a record, so it can never reach a report, a log or a store.
    """

    fingerprint: str
    """``hmac-sha256`` of the secret with this installation's salt, first 16 hex digits."""
    last4: str
    length: int

    def to_dict(self) -> dict[str, Any]:
        return {"fingerprint": self.fingerprint, "last4": self.last4, "length": self.length}


@dataclass(frozen=True)
class LogClient:
    """A client that a DNS or proxy log shows asking for a host: who, how often, when."""

    address: str
    """As the log writes it: an IP address (normalised), a name where the proxy logs names, ``unknown``
    when the line has none; at most 64 characters."""
    count: int
    first: str
    """ISO 8601 UTC, like ``last``."""
    last: str
    users: tuple[str, ...] = ()
    """The users the log names for it (a proxy's user field), first met first, at most 10."""
    more_users: bool = False
    """It was seen under more users than ``users`` lists."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "count": self.count,
            "first": self.first,
            "last": self.last,
            "users": list(self.users),
            "more_users": self.more_users,
        }


@dataclass(frozen=True)
class OtherClients:
    """The clients of a log record beyond the listed ones, counted: a flood of addresses stays a number."""

    clients: int
    """Clients not listed; an upper bound when ``dropped``."""
    count: int
    """Their lookups or requests."""
    dropped: int = 0
    """Among them, clients seen once that were dropped to make room for others (a log of more clients than
    the scan counts one by one): one that came back is counted again."""
    uncounted: int = 0
    """Lookups or requests, not in ``count``, by clients met when no room could be made: how many clients
    made them is not known."""

    def to_dict(self) -> dict[str, int]:
        return {"clients": self.clients, "count": self.count, "dropped": self.dropped, "uncounted": self.uncounted}


@dataclass(frozen=True)
class EndpointRecord:
    """A place where the machine is set up to talk to an AI service (or did talk to one)."""

    name: str
    """What to call it: ``OPENAI_BASE_URL``, ``models[0].apiBase``, ``api.deepseek.com``."""
    source: EndpointSource
    locations: tuple[Location, ...]
    found_by: str
    url: str | None = None
    host: str | None = None
    """Lower-case host of ``url`` (or the host a log or hosts file names)."""
    variable: str | None = None
    """The environment variable or configuration key that holds it."""
    provider_hint: str | None = None
    """A provider named by a configuration field (``provider: deepseek``)."""
    model: str | None = None
    """A model id configured next to it (``openrouter/deepseek/deepseek-r1``)."""
    secret: SecretRef | None = None
    tool: str | None = None
    """The tool whose configuration it is (``continue``, ``claude-code``, ``aider``...)."""
    in_package: bool = False
    """Inside an installed package (site-packages, node_modules): library code, not usage."""
    process: tuple[tuple[str, str], ...] = ()
    """For a running process: ``pid``, ``name``, ``user``."""
    seen: tuple[tuple[str, str], ...] = ()
    """For logs: ``count``, ``first``, ``last`` (ISO 8601 UTC); for a connection ``address`` and ``state``;
    for the hosts file ``address`` and ``blocked``."""
    clients: tuple[LogClient, ...] = ()
    """For logs: the busiest clients that asked for the host, busiest first (at most 50)."""
    other_clients: OtherClients | None = None
    """For logs: the clients beyond ``clients``, when there were any."""
    sdk: str | None = None
    """An SDK class, function, module or configuration prefix written in code that selects a provider's
    client (``ChatDeepSeek``, ``spring.ai.deepseek``), or a provider's package a command or a dependency
    list names (``uvx minimax-mcp``)."""
    context: str | None = None
    """How the text writes it, in plain words (``a command line``, ``a string literal``, ``a comment``)."""
    mention: bool = False
    """Only named, not used: in a comment or a block rule. A mention is at most info."""
    version: None = None
    kind: Literal[RecordKind.ENDPOINT] = RecordKind.ENDPOINT

    @property
    def identity(self) -> str:
        """Stable across scans: where, what and which host; not the line (code moves)."""
        what = self.variable or self.name
        about = self.host or self.provider_hint or self.model or self.sdk or ""
        return f"endpoint:{self.source}:{self.locations[0].path}:{what}:{about}"

    @property
    def id(self) -> str:
        return stable_id(self.identity, str(self.locations[0].line or ""))

    def attributes(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "url": self.url,
            "host": self.host,
            "variable": self.variable,
            "provider_hint": self.provider_hint,
            "model": self.model,
            "secret": self.secret.to_dict() if self.secret else None,
            "tool": self.tool,
            "in_package": self.in_package,
            "process": dict(self.process),
            "seen": dict(self.seen),
            "clients": [c.to_dict() for c in self.clients],
            "other_clients": self.other_clients.to_dict() if self.other_clients else None,
            "sdk": self.sdk,
            "context": self.context,
            "mention": self.mention,
            "found_by": self.found_by,
            "locations": [loc.to_dict() for loc in self.locations],
        }


def plain(value: Any) -> Any:
    """A record, a ``Skipped`` or any of their parts as JSON values (enums by value, tuples as lists): what
    the store's file cache keeps of what a file held, for ``rebuilt`` in the next scan."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (tuple, list)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    return value


_T = TypeVar("_T")


def rebuilt(kind: type[_T], data: Any) -> _T:
    """``plain`` undone, following the types ``kind`` declares for its fields; ``ValueError`` (or
    ``TypeError``/``KeyError``) for data that does not fit them."""
    return _builder(kind)(data)  # type: ignore[no-any-return,arg-type]


@cache
def _field_types(kind: type) -> tuple[tuple[str, Any], ...]:
    hints = typing.get_type_hints(kind)
    return tuple((f.name, hints[f.name]) for f in dataclasses.fields(kind) if f.init)


@cache
def _builder(kind: Any) -> Callable[[Any], Any]:
    """How to rebuild a value of ``kind``, worked out once per type: a re-scan rebuilds the records of every
    file it takes from the store (thousands of values), and asking ``typing`` about each one's type was
    most of that. A field's own builder is looked up when first used, so a type may refer to itself."""
    origin = typing.get_origin(kind)
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        fields = _field_types(kind)
        return lambda data: kind(**{name: _builder(hint)(data[name]) for name, hint in fields if name in data})
    if origin in (typing.Union, types.UnionType):
        options = [option for option in typing.get_args(kind) if option is not type(None)]
        return lambda data: None if data is None else _first_fit(kind, options, data)
    if origin is tuple:
        args = typing.get_args(kind)
        if len(args) == 2 and args[1] is Ellipsis:
            return lambda data: tuple(_builder(args[0])(v) for v in data)
        return lambda data: tuple(_builder(a)(v) for a, v in zip(args, data, strict=True))
    if origin in (dict, Mapping):
        return lambda data: _mapping(typing.get_args(kind)[1], data)
    if origin is Literal:
        return lambda data: _literal(kind, data)
    if isinstance(kind, type) and issubclass(kind, Enum):
        return kind
    if kind in (str, int, float, bool):
        return lambda data: _checked(kind, data)
    return lambda data: data


def _first_fit(kind: Any, options: list[Any], data: Any) -> Any:
    for option in options:
        try:
            return _builder(option)(data)
        except (TypeError, ValueError, KeyError):
            continue
    raise ValueError(f"{data!r} is none of {kind}")


def _mapping(item_kind: Any, data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise TypeError(f"{data!r} is not a mapping")
    return {key: _builder(item_kind)(item) for key, item in data.items()}


def _literal(kind: Any, data: Any) -> Any:
    for option in typing.get_args(kind):
        if option == data or (isinstance(option, Enum) and option.value == data):
            return option
    raise ValueError(f"{data!r} is not one of {kind}")


def _checked(kind: type, data: Any) -> Any:
    if not isinstance(data, kind):
        raise TypeError(f"{data!r} is not a {kind.__name__}")
    return data
