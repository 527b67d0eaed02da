"""Package ecosystems as one table: how each names its packages, which policy entries it answers to,
and how its package URLs (purl) are written.

Every stage reads this module — the collectors normalise names with it, the policy matches with it and
CycloneDX writes purls with it — so a new ecosystem (npm, Maven) is a member, a row and its environment
kinds here, its collector, a registry line and a test: never an ``if`` in three modules.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from scanner.names import normalize_package_name
from scanner.vocabulary import Word


class Ecosystem(Word):
    """Where a package comes from. Each has its own name rules (``scanner.names.normalize_package``)."""

    PYPI = "pypi"
    CONDA = "conda"
    NPM = "npm"
    MAVEN = "maven"
    GO = "go"
    CARGO = "cargo"
    APP = "app"
    """A desktop application, named by its bundle or package id (``com.moonshot.kimichat``, a snap or flatpak
    id) or, where a system keeps none (a Windows shortcut or folder), by its name."""
    VSCODE = "vscode"
    """An extension of VS Code or a fork (Cursor, VSCodium, Windsurf), named ``publisher.name``."""
    CHROME = "chrome"
    """A Chromium-family browser extension (Chrome, Edge, Brave...), named by its 32-letter id."""
    FIREFOX = "firefox"
    """A Firefox add-on, named by its id (``name@publisher``, ``{uuid}``)."""


class EnvironmentKind(Word):
    """How an install prefix was recognised (``pyvenv.cfg`` -> venv, ``conda-meta/`` -> conda, ...)."""

    VENV = "venv"
    PIPX = "pipx"
    CONDA = "conda"
    USER_SITE = "user-site"
    PYENV = "pyenv"
    SYSTEM = "system"
    UNKNOWN = "unknown"
    NODE_PROJECT = "node-project"
    NODE_GLOBAL = "node-global"
    NPX_CACHE = "npx-cache"
    MANIFEST = "manifest"
    """Declared in a project's manifest or lock file (``requirements.txt``, ``package.json``, ``pom.xml``...),
    whether or not it is installed: the environment is the project's folder."""
    MACOS_APPS = "macos-apps"
    """A folder holding macOS ``.app`` bundles (``/Applications``, ``~/Applications``)."""
    DESKTOP_ENTRIES = "desktop-entries"
    """A folder of Linux ``.desktop`` launchers (``/usr/share/applications``, ``~/.local/share/applications``)."""
    SNAP = "snap"
    FLATPAK = "flatpak"
    """A flatpak installation (``/var/lib/flatpak``, ``~/.local/share/flatpak``)."""
    WINDOWS_START_MENU = "windows-start-menu"
    WINDOWS_PROGRAMS = "windows-programs"
    """``Program Files``, ``Program Files (x86)`` or a user's ``AppData/Local/Programs``."""
    EDITOR_EXTENSIONS = "editor-extensions"
    """An editor's extensions folder (``~/.vscode/extensions``, ``~/.cursor/extensions``...)."""
    BROWSER_PROFILE = "browser-profile"


ENVIRONMENT_WORDS: dict[EnvironmentKind, str] = {
    EnvironmentKind.VENV: "virtual environment",
    EnvironmentKind.PIPX: "pipx environment",
    EnvironmentKind.CONDA: "conda environment",
    EnvironmentKind.USER_SITE: "user site-packages",
    EnvironmentKind.PYENV: "pyenv interpreter",
    EnvironmentKind.SYSTEM: "system Python",
    EnvironmentKind.UNKNOWN: "Python environment",
    EnvironmentKind.NODE_PROJECT: "Node project",
    EnvironmentKind.NODE_GLOBAL: "global Node prefix",
    EnvironmentKind.NPX_CACHE: "npx cache",
    EnvironmentKind.MANIFEST: "project's manifest (a declared dependency)",
    EnvironmentKind.MACOS_APPS: "macOS applications folder",
    EnvironmentKind.DESKTOP_ENTRIES: "desktop launchers folder",
    EnvironmentKind.SNAP: "snap installation",
    EnvironmentKind.FLATPAK: "flatpak installation",
    EnvironmentKind.WINDOWS_START_MENU: "Windows Start menu",
    EnvironmentKind.WINDOWS_PROGRAMS: "Windows programs folder",
    EnvironmentKind.EDITOR_EXTENSIONS: "editor's extensions folder",
    EnvironmentKind.BROWSER_PROFILE: "browser profile",
}
"""How a finding says where a package is installed."""


@dataclass(frozen=True)
class EcosystemRules:
    id: Ecosystem
    normalize: Callable[[str], str]
    """The name two spellings of one package share (PEP 503 for Python: ``Langchain_DeepSeek`` ->
    ``langchain-deepseek``); policies and records are compared by it."""
    answers_to: frozenset[Ecosystem]
    """The policy ``packages:`` ecosystems whose entries match a record of this ecosystem."""
    purl_type: str
    """The package-url type (https://github.com/package-url/purl-spec)."""
    purl_normalized: bool
    """The purl uses the normalised name (PyPI's rule) rather than the name as written."""
    namespace_separator: str = "/"
    """What parts a name's namespace from its name: an npm ``@scope/``, a Maven ``group:``."""
    namespace_is_path: bool = False
    """The namespace is everything before the last separator (a Go module ``github.com/org/name``)."""
    noun: str = "package"
    """What a finding calls one of its records (``app``, ``editor extension``)."""

    def purl(self, name: str, version: str | None) -> str:
        shown = self.normalize(name) if self.purl_normalized else name
        at = f"@{_quote(version)}" if version else ""
        # The namespace is the purl's: pkg:npm/%40ai-sdk/deepseek, pkg:maven/org.springframework.ai/spring-ai-...
        if self.namespace_is_path:
            namespace, _, last = shown.rpartition(self.namespace_separator)
            parts = [*(namespace.split(self.namespace_separator) if namespace else []), last]
        else:
            parts = shown.split(self.namespace_separator, 1)
        return f"pkg:{self.purl_type}/{'/'.join(_quote(p) for p in parts)}{at}"


_UNSAFE = re.compile(r"[^A-Za-z0-9._~-]")


def _quote(text: str) -> str:
    """Percent-encoding as purl wants it: everything but unreserved characters."""
    return _UNSAFE.sub(lambda m: "".join(f"%{b:02X}" for b in m.group(0).encode("utf-8", "surrogatepass")), text)


def _crate_name(name: str) -> str:
    return name.lower().replace("_", "-")


ECOSYSTEMS: dict[Ecosystem, EcosystemRules] = {
    rules.id: rules
    for rules in (
        EcosystemRules(Ecosystem.PYPI, normalize_package_name, frozenset({Ecosystem.PYPI}), "pypi", True),
        # conda-forge publishes PyPI projects under their PyPI names, so a PyPI entry covers its conda
        # package too; conda names are compared the same way.
        EcosystemRules(
            Ecosystem.CONDA, normalize_package_name, frozenset({Ecosystem.CONDA, Ecosystem.PYPI}), "conda", False
        ),
        # npm names are lower case by the registry's rule (scoped ones keep their @scope/).
        EcosystemRules(Ecosystem.NPM, str.lower, frozenset({Ecosystem.NPM}), "npm", True),
        # Maven coordinates are group:artifact, compared without case (Maven Central's names are lower case).
        EcosystemRules(Ecosystem.MAVEN, str.lower, frozenset({Ecosystem.MAVEN}), "maven", False, ":"),
        # Go modules are named by their import path (github.com/org/name); compared without case.
        EcosystemRules(Ecosystem.GO, str.lower, frozenset({Ecosystem.GO}), "golang", False, namespace_is_path=True),
        # crates.io treats - and _ as one character and ignores case.
        EcosystemRules(Ecosystem.CARGO, _crate_name, frozenset({Ecosystem.CARGO}), "cargo", True),
        # Bundle ids, package ids, extension ids and names are compared without case (macOS and the
        # marketplaces treat them so). the purl types in use have none for them: ``generic``.
        EcosystemRules(Ecosystem.APP, str.lower, frozenset({Ecosystem.APP}), "generic", False, noun="app"),
        EcosystemRules(
            Ecosystem.VSCODE, str.lower, frozenset({Ecosystem.VSCODE}), "generic", False, noun="editor extension"
        ),
        EcosystemRules(
            Ecosystem.CHROME, str.lower, frozenset({Ecosystem.CHROME}), "generic", False, noun="browser extension"
        ),
        EcosystemRules(
            Ecosystem.FIREFOX, str.lower, frozenset({Ecosystem.FIREFOX}), "generic", False, noun="browser extension"
        ),
    )
}
