"""Installed Node packages: every ``node_modules`` tree on the machine, nested and hoisted alike.

A package is the ``package.json`` directly inside ``node_modules/<name>/`` or, for a scoped name,
``node_modules/@scope/<name>/`` — project trees, global prefixes (``/usr/local/lib/node_modules``,
``~/.npm-global``, nvm's and volta's), ``npx`` caches. Only that file is read, bounded, as JSON data
(nothing is run); a ``package.json`` deeper in a package (``dist/package.json``) is not a package.

The environment is what holds the tree: the project folder for ``<project>/node_modules``, the
prefix for a global ``<prefix>/lib/node_modules``, the cache for ``~/.npm/_npx/<hash>/node_modules``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from scanner.collectors.interface import CollectOptions, Collector, CollectorResult
from scanner.ecosystems import ECOSYSTEMS, Ecosystem, EnvironmentKind
from scanner.fsview import FileRefused, RootFS, describe_refusal, refusal_kind
from scanner.records import Environment, Location, PackageRecord, Skipped
from scanner.visitors import Entry, Interest
from scanner.vocabulary import SkipKind

MANIFEST_CAP = 256 * 1024
"""A package.json is a few KiB; a larger one is data (or an attack), and its head is what we need."""
_AUTHOR_EMAIL = re.compile(r"<([^<>@\s]+@([^<>@\s]+))>")
_EMAIL = re.compile(r"^[^@\s]+@([^@\s]+)$")


def package_place(path: str) -> tuple[str, EnvironmentKind] | None:
    """``(environment path, kind)`` for the ``package.json`` of an installed package, else ``None``."""
    parts = path.split("/")
    if len(parts) < 4 or parts[-1] != "package.json":
        return None
    direct = parts[-3] == "node_modules"
    scoped = len(parts) >= 5 and parts[-4] == "node_modules" and parts[-3].startswith("@")
    if not (direct or scoped):
        return None
    first = parts.index("node_modules")  # the outermost tree owns its nested packages
    holder = "/".join(parts[:first]) or "/"
    if first >= 2 and parts[first - 1] == "lib":
        return "/".join(parts[: first - 1]) or "/", EnvironmentKind.NODE_GLOBAL
    if "_npx" in parts[:first]:
        return holder, EnvironmentKind.NPX_CACHE
    return holder, EnvironmentKind.NODE_PROJECT


def _text(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _url(value: object) -> str | None:
    """``"repository": "https://..."`` or ``{"url": "git+https://..."}``."""
    url = _text(value.get("url") if isinstance(value, dict) else value)
    return url.removeprefix("git+") if url else None


def _email_domains(manifest: dict[str, Any]) -> tuple[str, ...]:
    maintainers = manifest.get("maintainers")
    people: list[object] = [manifest.get("author"), *(maintainers[:20] if isinstance(maintainers, list) else [])]
    domains: list[str] = []
    for person in people:
        if isinstance(person, dict):
            email = _EMAIL.match(_text(person.get("email")) or "")
            domains += [email.group(1).lower()] if email else []
        elif isinstance(person, str):
            domains += [m.group(2).lower() for m in _AUTHOR_EMAIL.finditer(person)]
    return tuple(dict.fromkeys(domains))


def _dependencies(manifest: dict[str, Any]) -> list[str]:
    found = manifest.get("dependencies")
    return [name for name in found if isinstance(name, str)][:500] if isinstance(found, dict) else []


class NodePackageCollector(Collector):
    """Finds installed npm packages in every ``node_modules`` tree."""

    id = "node-package-collector"
    interest = Interest(file_names=frozenset({"package.json"}))

    def __init__(self, fs: RootFS, options: CollectOptions | None = None) -> None:
        super().__init__(fs, options)
        self._records: list[PackageRecord] = []
        self._skipped: list[Skipped] = []

    def visit(self, entry: Entry) -> None:
        place = package_place(entry.path)
        if place is None:
            return
        try:
            raw, _ = self.fs.read_bytes(entry.real_path, MANIFEST_CAP)
            manifest = json.loads(raw)
        except (OSError, FileRefused) as error:
            reason = f"package manifest unreadable: {describe_refusal(error)}"
            self._skipped.append(Skipped(entry.path, reason, refusal_kind(error)))
            return
        except (ValueError, RecursionError):
            self._skipped.append(Skipped(entry.path, "package manifest is not JSON", SkipKind.UNSUPPORTED))
            return
        if not isinstance(manifest, dict):
            return
        folder = entry.path.rsplit("/", 1)[0]
        name = _text(manifest.get("name")) or folder.rsplit("node_modules/", 1)[-1]
        urls = [("Repository", _url(manifest.get("repository"))), ("Issues", _url(manifest.get("bugs")))]
        environment, kind = place
        self._records.append(
            PackageRecord(
                name=name,
                normalized_name=ECOSYSTEMS[Ecosystem.NPM].normalize(name),
                version=_text(manifest.get("version")),
                ecosystem=Ecosystem.NPM,
                environment=Environment(environment, kind),
                locations=(Location(folder),),
                found_by=self.id,
                summary=_text(manifest.get("description")),
                home_page=_text(manifest.get("homepage")),
                project_urls=tuple((label, url) for label, url in urls if url),
                author_email_domains=_email_domains(manifest),
                installer="npm",
                requires=tuple(_dependencies(manifest)),
                extra=(("metadata_format", "package.json"),),
            )
        )

    def finish(self) -> CollectorResult:
        return CollectorResult(records=list(self._records), skipped=self._skipped)
