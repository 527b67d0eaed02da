"""Finding, reading and composing policy files.

``--policy`` takes a path or the name of a bundled policy (``default``, ``extended``...); a file
may ``include:`` others (paths relative to itself, or ``bundled:NAME``). Included files load
first, each file once; cycles are errors. After composition the references are checked: every
fact's source exists, judged providers say why, ids are unique. Every error names file and line.

A signed policy bundle (``scanner.policy.bundle``) is loaded from the folder it was unpacked into,
its ``home``: there its own copies of the bundled policies answer to their names, its files are named
``bundle:PATH``, and no include may reach outside it (the bundle must carry all it is judged by).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from scanner.ecosystems import ECOSYSTEMS
from scanner.errors import PolicyError
from scanner.fsview import FileRefused, RootFS, describe_refusal
from scanner.policy import compiled
from scanner.policy.schema import (
    CONFIG_SHAPE_PATTERN,
    NOWHERE,
    Allow,
    Collect,
    Digest,
    Fact,
    Fingerprint,
    Lineage,
    PackageFact,
    Policy,
    PolicyDocument,
    PolicyFileInfo,
    Provider,
    Source,
    Waiver,
    WaiversDocument,
    Where,
)
from scanner.vocabulary import RULES, Severity

if TYPE_CHECKING:  # PyYAML is imported where YAML is read (typed_yaml): a composed policy needs none (10 ms)
    import yaml

POLICY_FILE_CAP = 4 * 1024 * 1024
DEFAULT_POLICY = "default"
_BUNDLED_PREFIX = "bundled:"


def bundled_dir() -> Path:
    """Where the bundled policies are: inside the installed package, or ``policies/`` of a checkout."""
    package_dir = Path(__file__).resolve().parent.parent
    for candidate in (package_dir / "_bundled_policies", package_dir.parent / "policies"):
        if (candidate / f"{DEFAULT_POLICY}.yaml").is_file():
            return candidate
    raise PolicyError("policies/", None, None, "bundled policies not found: the installation is incomplete")


def bundled_names() -> list[str]:
    return sorted(p.stem for p in bundled_dir().glob("*.yaml"))


BUNDLE_BUNDLED_DIR = "policies"
"""Where a bundle's home keeps its copies of the bundled policies (as the repository does)."""


@dataclass(frozen=True)
class _Located:
    real: Path
    display: str


@dataclass(frozen=True)
class _Places:
    """Where names lead: the bundled policies, and the home of an unpacked bundle (``None``: this machine)."""

    bundled: Path
    home: Path | None = None

    def known(self) -> str:
        return ", ".join(sorted(p.stem for p in self.bundled.glob("*.yaml")))

    def within(self, located: _Located, spec: str) -> _Located:
        if self.home is None:
            return located
        if not located.real.is_relative_to(self.home):
            raise PolicyError(spec, None, None, "reaches outside the policy bundle (a bundle carries every file)")
        return _Located(located.real, f"bundle:{located.real.relative_to(self.home).as_posix()}")


def _bundled_name(spec: str, relative_to: Path | None = None) -> str | None:
    """The bundled policy a ``--policy`` (or an ``include:`` of the file ``relative_to``) names, or ``None``
    for a file: ``bundled:extended``, and ``extended`` unless a file of that name lies beside the includer."""
    if spec.startswith(_BUNDLED_PREFIX):
        return spec[len(_BUNDLED_PREFIX) :]
    bare = os.sep not in spec and "/" not in spec and not spec.endswith((".yaml", ".yml"))
    if bare and (relative_to is None or not (relative_to.parent / spec).exists()):
        return spec  # `--policy extended` and `include: [default]` mean the bundled one
    return None


def _locate(spec: str, relative_to: Path | None, places: _Places) -> _Located:
    name = _bundled_name(spec, relative_to)
    if name is not None:
        path = places.bundled / f"{name}.yaml"
        if not path.is_file():
            raise PolicyError(spec, None, None, f"no bundled policy named {name!r} (bundled: {places.known()})")
        return places.within(_Located(path.resolve(), f"policies/{name}.yaml"), spec)
    path = Path(spec) if relative_to is None else relative_to.parent / spec
    display = spec if relative_to is None else str(path)
    return places.within(_Located(path.resolve(), display), spec)


def _read_node(located: _Located, what: str) -> tuple[yaml.Node, bytes]:
    """A policy or waivers file as YAML nodes: bounded, UTF-8, not empty, of our schema version."""
    try:
        raw, truncated = RootFS().read_bytes(str(located.real), POLICY_FILE_CAP)
    except (OSError, FileRefused) as error:
        raise PolicyError(located.display, None, None, f"cannot read {what}: {describe_refusal(error)}") from error
    if truncated:
        raise PolicyError(located.display, None, None, f"{what} larger than {POLICY_FILE_CAP} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise PolicyError(located.display, None, None, f"not UTF-8 text: {error}") from error
    from scanner.policy import typed_yaml

    node = typed_yaml.compose(text, located.display)
    if node is None:
        raise PolicyError(located.display, None, None, f"the {what} file is empty")
    typed_yaml.check_schema_version(node, located.display)
    return node, raw


def _read_document(located: _Located) -> tuple[PolicyDocument, bytes, list[int]]:
    from scanner.policy import typed_yaml

    node, raw = _read_node(located, "policy")
    document = typed_yaml.convert(node, PolicyDocument, located.display)
    return document, raw, typed_yaml.include_lines(node)


def load_waivers(paths: Sequence[str], policy: Policy) -> Policy:
    """The policy with the ``--waivers`` files' waivers added, each checked against it."""
    added: list[Waiver] = []
    for path in paths:
        from scanner.policy import typed_yaml  # PyYAML, for a waivers file: every audit calls this, most with none

        located = _Located(Path(path).resolve(), path)
        if not located.real.is_file():
            raise PolicyError(path, None, None, "waivers file does not exist")
        node, _ = _read_node(located, "waivers")
        added.extend(typed_yaml.convert(node, WaiversDocument, located.display).waivers)
    _check_waivers(added, policy)
    return dataclasses.replace(policy, waivers=(*policy.waivers, *added))


def _check_waivers(waivers: Iterable[Waiver], policy: Policy) -> None:
    for waiver in waivers:
        field = waiver.where.field
        if not any((waiver.rule, waiver.provider, waiver.path, waiver.host)):
            _fail(
                waiver.where, "a waiver needs at least one of rule, provider, path or host (it would waive everything)"
            )
        if waiver.rule is not None and waiver.rule not in RULES:
            _fail(waiver.where, f"unknown rule {waiver.rule!r} (see policies/README.md)", f"{field}.rule")
        if waiver.provider is not None and waiver.provider not in policy.providers:
            _fail(waiver.where, f"unknown provider {waiver.provider!r}", f"{field}.provider")
        for key in ("approved_by", "reference", "reason"):
            if not getattr(waiver, key).strip():
                _fail(waiver.where, "must not be empty", f"{field}.{key}")


class _Composer:
    def __init__(self, places: _Places) -> None:
        self.places = places
        self.loaded: dict[Path, tuple[PolicyDocument, PolicyFileInfo, bytes]] = {}
        self.order: list[Path] = []
        self._stack: list[Path] = []

    def load(self, located: _Located, included_from: Where | None = None) -> None:
        if located.real in self._stack:
            chain = " -> ".join([*(str(p.name) for p in self._stack), located.real.name])
            where = included_from or Where(located.display, 0, "include")
            raise PolicyError(where.file, where.line or None, where.field, f"include cycle: {chain}")
        if located.real in self.loaded:
            return
        if included_from is not None and not located.real.exists():
            known = self.places.known()
            message = f"included policy {located.display} does not exist (a bundled one is named bundled:NAME: {known})"
            raise PolicyError(included_from.file, included_from.line, included_from.field, message)
        document, raw, lines = _read_document(located)
        self._stack.append(located.real)
        for index, spec in enumerate(document.include):
            where = Where(
                located.display, lines[index] if index < len(lines) else document.where.line, f"include[{index}]"
            )
            try:
                child = _locate(spec, located.real, self.places)
            except PolicyError as error:
                raise PolicyError(where.file, where.line, where.field, error.message) from error
            self.load(child, where)
        self._stack.pop()
        info = PolicyFileInfo(document.id, document.version, located.display, hashlib.sha256(raw).hexdigest())
        self.loaded[located.real] = (document, info, raw)
        self.order.append(located.real)


@dataclass(frozen=True)
class PolicySources:
    """The files a composed policy was read from, as a bundle carries them."""

    given: tuple[Path, ...]
    """The file each name given to the loader led to, in the order given."""
    files: tuple[tuple[Path, bytes], ...]
    """Every file read, includes first, with the exact bytes that were checked (so a bundle signs those)."""


def load_policy_sources(specs: Sequence[str] = (), home: Path | None = None) -> tuple[Policy, PolicySources]:
    """``load_policy``, with the files it read. ``home``: the folder a policy bundle was unpacked into."""
    places = _Places(bundled_dir()) if home is None else _Places(home.resolve() / BUNDLE_BUNDLED_DIR, home.resolve())
    composer = _Composer(places)
    given = []
    for spec in specs or [DEFAULT_POLICY]:
        located = _locate(spec, None, places)
        given.append(located.real)
        composer.load(located)
    documents = [composer.loaded[path][0] for path in composer.order]
    files = tuple(composer.loaded[path][1] for path in composer.order)
    sources = PolicySources(tuple(given), tuple((path, composer.loaded[path][2]) for path in composer.order))
    return _compose(documents, files), sources


def load_policy(specs: Sequence[str] = (), home: Path | None = None) -> Policy:
    """Load and compose the policies named by ``--policy`` (the bundled default when none). One bundled
    policy comes as the wheel's build composed it, where it shipped one (``policy.compiled``)."""
    names = list(specs or [DEFAULT_POLICY])
    name = _bundled_name(names[0]) if home is None and len(names) == 1 else None
    policy = compiled.load(name, bundled_dir()) if name is not None else None
    return policy if policy is not None else load_policy_sources(specs, home)[0]


def _compose(documents: list[PolicyDocument], files: tuple[PolicyFileInfo, ...]) -> Policy:
    sources: dict[str, Source] = {}
    source_where: dict[str, str] = {}
    providers: dict[str, Provider] = {}
    lineage_where: dict[str, Where] = {}
    lineages = []
    fingerprints: list[Fingerprint] = []
    digests: list[Digest] = []
    ai_packages: list[PackageFact] = []
    allow_docs = [d.allow for d in documents if d.allow is not None]
    for document in documents:
        for source_id, source in document.sources.items():
            if source_id in sources and sources[source_id] != source:  # the same text twice is fine
                _fail(source.where, f"source {source_id!r} is already defined differently at {source_where[source_id]}")
            if source_id in sources:
                continue
            sources[source_id] = source
            source_where[source_id] = str(source.where)
        for provider in document.providers:
            if provider.id in providers:
                _fail(
                    provider.where,
                    f"provider {provider.id!r} is already defined at {providers[provider.id].where}",
                )
            providers[provider.id] = provider
        for lineage in document.lineages:
            if lineage.id in lineage_where:
                _fail(lineage.where, f"lineage {lineage.id!r} is already defined at {lineage_where[lineage.id]}")
            lineage_where[lineage.id] = lineage.where
            lineages.append(lineage)
        ai_packages.extend(document.ai_packages)
        fingerprints.extend(document.fingerprints)
        digests.extend(document.digests)
    allow = Allow(
        providers=tuple(p for a in allow_docs for p in a.providers),
        packages=tuple(p for a in allow_docs for p in a.packages),
        models=tuple(m for a in allow_docs for m in a.models),
        where=allow_docs[-1].where if allow_docs else NOWHERE,
    )
    policy = Policy(
        files=files,
        sources=sources,
        providers=providers,
        fingerprints=tuple(fingerprints),
        digests=tuple(digests),
        lineages=tuple(lineages),
        ai_packages=tuple(ai_packages),
        mode="allowlist" if any(d.mode == "allowlist" for d in documents) else "denylist",
        allow=allow,
        allow_severity=_highest(a.severity for a in allow_docs if a.severity is not None),
        declared_severity=max(
            (d.declared_severity for d in documents if d.declared_severity is not None), default=Severity.WARNING
        ),
        history_severity=max(
            (d.history_severity for d in documents if d.history_severity is not None), default=Severity.WARNING
        ),
        collect=Collect(
            browser_history=all(d.collect.browser_history for d in documents if d.collect is not None),
            shell_history=all(d.collect.shell_history for d in documents if d.collect is not None),
        ),
    )
    _check_references(policy, documents)
    waivers = tuple(w for d in documents for w in d.waivers)
    _check_waivers(waivers, policy)
    return dataclasses.replace(policy, waivers=waivers)


def _highest(severities: Iterable[Severity]) -> Severity:
    return max(severities, default=Severity.VIOLATION)


def _fail(where: Where, message: str, field: str | None = None) -> None:
    raise PolicyError(where.file, where.line or None, field or where.field or None, message)


def _facts(provider: Provider) -> Iterable[Fact]:
    for group in (
        provider.packages,
        provider.package_false_positives,
        provider.package_name_patterns,
        provider.endpoints,
        provider.web_hosts,
        provider.env_vars,
        provider.aliases,
        provider.hf_orgs,
        provider.modelscope_orgs,
        provider.github_orgs,
        provider.ollama_names,
        provider.model_patterns,
    ):
        yield from group


def _check_references(policy: Policy, documents: list[PolicyDocument]) -> None:
    def need_source(source_id: str, where: Where, field: str) -> None:
        if source_id not in policy.sources:
            _fail(where, f"unknown source {source_id!r} (define it under sources:)", field)

    for provider in policy.providers.values():
        if provider.severity is not None:
            if not provider.reason.strip():
                _fail(
                    provider.where,
                    "a provider with a severity needs a reason",
                    f"{provider.where.field}.reason",
                )
            if not provider.sources:
                _fail(
                    provider.where,
                    "a provider with a severity needs sources",
                    f"{provider.where.field}.sources",
                )
        for index, source_id in enumerate(provider.sources):
            need_source(source_id, provider.where, f"{provider.where.field}.sources[{index}]")
        for fact in _facts(provider):
            need_source(fact.source, fact.where, f"{fact.where.field}.source")
        listed = {(p.ecosystem, ECOSYSTEMS[p.ecosystem].normalize(p.name)) for p in provider.packages}
        for fact in provider.package_false_positives:
            if (fact.ecosystem, ECOSYSTEMS[fact.ecosystem].normalize(fact.name)) in listed:
                _fail(fact.where, f"{fact.name!r} is both a package and a false positive of {provider.id!r}")
    carriers: tuple[Lineage | Fingerprint | Digest, ...] = (*policy.lineages, *policy.fingerprints, *policy.digests)
    for fact in carriers:
        need_source(fact.source, fact.where, f"{fact.where.field}.source")
        for index, provider_id in enumerate(fact.providers):
            if provider_id not in policy.providers:
                _fail(fact.where, f"unknown provider {provider_id!r}", f"{fact.where.field}.providers[{index}]")
    for fact in policy.ai_packages:
        need_source(fact.source, fact.where, f"{fact.where.field}.source")
    for fingerprint in policy.fingerprints:
        if fingerprint.kind == "config-shape" and not re.fullmatch(CONFIG_SHAPE_PATTERN, fingerprint.value):
            _fail(
                fingerprint.where,
                "a config-shape is key=value pairs separated by spaces",
                f"{fingerprint.where.field}.value",
            )
        if fingerprint.format is not None and fingerprint.kind != "architecture":
            _fail(
                fingerprint.where,
                "format applies to architecture fingerprints only",
                f"{fingerprint.where.field}.format",
            )
    for document in documents:
        if document.allow is None:
            continue
        for index, provider_id in enumerate(document.allow.providers):
            if provider_id not in policy.providers:
                _fail(document.allow.where, f"unknown provider {provider_id!r}", f"allow.providers[{index}]")
