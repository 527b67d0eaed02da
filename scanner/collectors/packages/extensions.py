"""Editor and browser extensions, as packages of the ``vscode``, ``chrome`` and ``firefox`` ecosystems.

* Editors: ``<publisher>.<name>-<version>/package.json`` in the extensions folder of VS Code
  (``~/.vscode/extensions``, Insiders, the remote server's), Cursor (``~/.cursor``), VSCodium
  (``~/.vscode-oss``) and Windsurf (``~/.windsurf``): ``publisher.name``, version, display name (through
  ``package.nls.json`` when localised), description, repository, and the URLs its settings default to.
* Chromium browsers (Chrome, Chromium, Edge, Brave, Vivaldi, Opera): ``Extensions/<id>/<version>/manifest.json``
  in each profile: the 32-letter id, name (through ``_locales`` when localised), version, and the hosts its
  permissions and content scripts name.
* Firefox: the profile's ``extensions.json`` (every add-on the user installed, with its id, version, name and
  the origins it was granted) and the ``extensions/<id>.xpi`` files, named by file name only.

Only these manifests are read, bounded, as JSON data; no script of an extension is read or run. The hosts an
extension says it works with (``reaches``) let the policy tell a provider's client by what it talks to.
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

from scanner.collectors.endpoints.browsers import browser_name
from scanner.collectors.interface import CollectOptions, Collector, CollectorResult
from scanner.collectors.packages.apps import read_whole
from scanner.ecosystems import ECOSYSTEMS, Ecosystem, EnvironmentKind
from scanner.fsview import FileRefused, RootFS
from scanner.records import Environment, Location, PackageRecord, Skipped
from scanner.urls import url_host
from scanner.visitors import Entry, Interest
from scanner.vocabulary import SkipKind

MANIFEST_CAP = 1024 * 1024
SCRIPT_CAP = 8 * 1024 * 1024
"""An extension's bundled main script: a few MiB at most; only searched for the watched API hosts."""
"""An extension's package.json or manifest.json: a few KiB, a large editor extension's some 100 KiB."""
FIREFOX_CAP = 16 * 1024 * 1024
"""Firefox's ``extensions.json`` describes every add-on, built-in ones too: a few hundred KiB to a few MiB."""
EDITORS = {
    ".vscode": "VS Code",
    ".vscode-insiders": "VS Code Insiders",
    ".vscode-server": "VS Code Server",
    ".vscode-oss": "VSCodium",
    ".cursor": "Cursor",
    ".cursor-server": "Cursor Server",
    ".windsurf": "Windsurf",
    ".windsurf-server": "Windsurf Server",
}
"""The dot-folder in a home that holds an editor's ``extensions`` folder, and the editor."""
_CHROMIUM_ID = re.compile(r"[a-p]{32}")
_FIREFOX_BUILT_IN = frozenset({"app-builtin", "app-system-defaults", "app-system-addons", "app-system-share"})
_MESSAGE = re.compile(r"__MSG_(\w+)__")
_REACHES_KEPT = 50


def _text(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _url(value: object) -> str | None:
    """``"repository": "https://..."`` or ``{"url": "git+https://..."}``."""
    url = _text(value.get("url") if isinstance(value, dict) else value)
    return url.removeprefix("git+") if url else None


def _pattern_host(pattern: object) -> str | None:
    """The host of a match pattern (``*://*.deepseek.com/*`` -> ``deepseek.com``), not of ``<all_urls>``."""
    if not isinstance(pattern, str) or "://" not in pattern:
        return None
    host = pattern.split("://", 1)[1].split("/", 1)[0].split(":", 1)[0].lower().removeprefix("*.")
    return host if "." in host and "*" not in host else None


def _default_hosts(configuration: object) -> list[str]:
    """Hosts of the URLs an editor extension's settings default to (``"default": "https://api..."``),
    including URLs inside an object or list default, one level down."""
    sections = configuration if isinstance(configuration, list) else [configuration]
    found: list[str] = []
    for section in sections[:50]:
        properties = section.get("properties") if isinstance(section, dict) else None
        for setting in list(properties.values())[:2000] if isinstance(properties, dict) else []:
            default = setting.get("default") if isinstance(setting, dict) else None
            values = list(default.values()) if isinstance(default, dict) else default
            for value in (values if isinstance(values, list) else [values])[:100]:
                host = url_host(value) if isinstance(value, str) and "://" in value else None
                found += [host] if host and "." in host else []
    return found


def _hosts(found: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(found))[:_REACHES_KEPT]


class ExtensionCollector(Collector):
    """Finds the extensions of VS Code and its forks, and of Chromium browsers and Firefox."""

    id = "extension-collector"
    interest = Interest(
        file_names=frozenset({"package.json", "manifest.json", "extensions.json"}),
        file_suffixes=frozenset({".xpi"}),
    )

    def __init__(self, fs: RootFS, options: CollectOptions | None = None) -> None:
        super().__init__(fs, options)
        self._records: list[PackageRecord] = []
        self._skipped: list[Skipped] = []

    def visit(self, entry: Entry) -> None:
        path = entry.path
        if entry.name == "package.json":
            if "/extensions/" in path:
                parts = path.split("/")
                if len(parts) >= 5 and parts[-3] == "extensions" and parts[-4] in EDITORS:
                    self._editor(entry, parts)
        elif entry.name == "manifest.json":
            if "/Extensions/" in path:
                parts = path.split("/")
                if len(parts) >= 6 and parts[-4] == "Extensions" and _CHROMIUM_ID.fullmatch(parts[-3]):
                    self._chromium(entry, parts)
        elif entry.name == "extensions.json":
            if entry.parent_name != "extensions":  # VS Code keeps an extensions.json of its own in that folder
                self._firefox(entry)
        elif entry.name.lower().endswith(".xpi") and entry.parent_name == "extensions":
            profile = path.rsplit("/", 2)[0]
            self._add(Ecosystem.FIREFOX, entry.name[: -len(".xpi")], None, profile, path, (("browser", "Firefox"),))

    def finish(self) -> CollectorResult:
        return CollectorResult(records=list(_joined(self._records)), skipped=self._skipped)

    # -- reading ---------------------------------------------------------------------------------
    def _json(self, real: str, shown: str, cap: int, what: str) -> Any:
        raw = read_whole(self.fs, real, shown, what, cap, self._skipped)
        if raw is None:
            return None
        try:
            return json.loads(raw.decode("utf-8-sig", "replace"))
        except (ValueError, RecursionError):
            self._skipped.append(Skipped(shown, f"{what} is not JSON", SkipKind.UNSUPPORTED))
            return None

    def _add(
        self,
        ecosystem: Ecosystem,
        name: str,
        version: str | None,
        environment: str,
        where: str,
        extra: tuple[tuple[str, str], ...],
        **facts: Any,
    ) -> None:
        kind = EnvironmentKind.EDITOR_EXTENSIONS if ecosystem is Ecosystem.VSCODE else EnvironmentKind.BROWSER_PROFILE
        self._records.append(
            PackageRecord(
                name=name,
                normalized_name=ECOSYSTEMS[ecosystem].normalize(name),
                version=version,
                ecosystem=ecosystem,
                environment=Environment(environment, kind),
                locations=(Location(where),),
                found_by=self.id,
                extra=extra,
                **facts,
            )
        )

    # -- editors ---------------------------------------------------------------------------------
    def _editor(self, entry: Entry, parts: list[str]) -> None:
        manifest = self._json(entry.real_path, entry.path, MANIFEST_CAP, "extension manifest")
        if not isinstance(manifest, dict):
            return
        publisher, name = _text(manifest.get("publisher")), _text(manifest.get("name"))
        folder = "/".join(parts[:-1])
        if not (publisher and name):
            return  # not an installed extension's manifest
        words = (
            self._nls(entry) if "%" in str(manifest.get("displayName", "")) + str(manifest.get("description")) else {}
        )
        contributes = manifest.get("contributes")
        configuration = contributes.get("configuration") if isinstance(contributes, dict) else None
        urls = [("Repository", _url(manifest.get("repository"))), ("Issues", _url(manifest.get("bugs")))]
        self._add(
            Ecosystem.VSCODE,
            f"{publisher}.{name}",
            _text(manifest.get("version")),
            "/".join(parts[:-2]),
            folder,
            (("editor", EDITORS[parts[-4]]),),
            display_name=_localised(manifest.get("displayName"), words),
            summary=_localised(manifest.get("description"), words),
            home_page=_text(manifest.get("homepage")),
            project_urls=tuple((label, url) for label, url in urls if url),
            reaches=_hosts(_default_hosts(configuration)),
            described_api_hosts=self._script_hosts(parts[:-1], entry.real_path, manifest.get("main")),
        )

    def _script_hosts(self, folder: list[str], manifest_real: str, main: object) -> tuple[str, ...]:
        """The watched API hosts an editor extension's main script names (the policy decides whether they
        are one provider's and nobody else's: a client of it). Read up to ``SCRIPT_CAP``; a bundle past
        it is searched in its head only, as this is a hint, not the reading of a setting."""
        if not isinstance(main, str) or not main.strip() or ".." in main.split("/"):
            return ()
        inside = main.strip().removeprefix("./").lstrip("/")
        base = manifest_real.rsplit("/", 1)[0]
        for candidate in (inside, f"{inside}.js"):
            try:
                data, _ = self.fs.read_bytes(f"{base}/{candidate}", SCRIPT_CAP)
            except (OSError, FileRefused):
                continue
            text = data.decode("utf-8", "replace").lower()
            return tuple(host for host in sorted(self.options.watch.api_hosts) if host in text)[:_REACHES_KEPT]
        return ()

    def _nls(self, entry: Entry) -> dict[str, str]:
        """The English strings of a localised manifest (``%displayName%`` -> ``package.nls.json``)."""
        real = entry.real_path.rsplit("/", 1)[0] + "/package.nls.json"
        words = self._json(real, entry.path.rsplit("/", 1)[0] + "/package.nls.json", MANIFEST_CAP, "extension strings")
        return {k: v for k, v in words.items() if isinstance(v, str)} if isinstance(words, dict) else {}

    # -- Chromium --------------------------------------------------------------------------------
    def _chromium(self, entry: Entry, parts: list[str]) -> None:
        manifest = self._json(entry.real_path, entry.path, MANIFEST_CAP, "extension manifest")
        if not isinstance(manifest, dict):
            return
        text = json.dumps([manifest.get("name"), manifest.get("description")])
        words = self._messages(entry, manifest) if "__MSG_" in text else {}
        patterns: list[object] = []
        for key in ("host_permissions", "optional_host_permissions", "permissions", "optional_permissions"):
            found = manifest.get(key)
            patterns += found[:500] if isinstance(found, list) else []
        scripts = manifest.get("content_scripts")
        for script in scripts[:100] if isinstance(scripts, list) else []:
            matches = script.get("matches") if isinstance(script, dict) else None
            patterns += matches[:500] if isinstance(matches, list) else []
        self._add(
            Ecosystem.CHROME,
            parts[-3],
            _text(manifest.get("version")) or parts[-2],
            "/".join(parts[:-4]),
            "/".join(parts[:-1]),
            (("browser", browser_name(entry.path)),),
            display_name=_localised(manifest.get("name"), words),
            summary=_localised(manifest.get("description"), words),
            home_page=_text(manifest.get("homepage_url")),
            reaches=_hosts([host for p in patterns if (host := _pattern_host(p))]),
        )

    def _messages(self, entry: Entry, manifest: dict[str, Any]) -> dict[str, str]:
        """A localised manifest's strings in its default locale (``_locales/en/messages.json``), by lower-case key."""
        locale = _text(manifest.get("default_locale")) or "en"
        if "/" in locale or ".." in locale:
            return {}
        folder_real, folder = entry.real_path.rsplit("/", 1)[0], entry.path.rsplit("/", 1)[0]
        inside = f"/_locales/{locale}/messages.json"
        found = self._json(folder_real + inside, folder + inside, MANIFEST_CAP, "extension strings")
        if not isinstance(found, dict):
            return {}
        return {
            key.lower(): message
            for key, value in found.items()
            if isinstance(value, dict) and (message := _text(value.get("message")))
        }

    # -- Firefox ---------------------------------------------------------------------------------
    def _firefox(self, entry: Entry) -> None:
        data = self._json(entry.real_path, entry.path, FIREFOX_CAP, "Firefox add-on list")
        addons = data.get("addons") if isinstance(data, dict) else None
        if not isinstance(addons, list):
            return  # another program's extensions.json
        profile = entry.path.rsplit("/", 1)[0]
        for addon in addons[:5000]:
            if not isinstance(addon, dict) or addon.get("type") != "extension":
                continue
            addon_id = _text(addon.get("id"))
            if not addon_id or addon.get("location") in _FIREFOX_BUILT_IN:
                continue
            locale = addon.get("defaultLocale")
            locale = locale if isinstance(locale, dict) else {}
            granted = addon.get("userPermissions")
            origins = granted.get("origins") if isinstance(granted, dict) else None
            hosts = [host for o in (origins[:500] if isinstance(origins, list) else []) if (host := _pattern_host(o))]
            self._add(
                Ecosystem.FIREFOX,
                addon_id,
                _text(addon.get("version")),
                profile,
                entry.path,
                (("browser", "Firefox"), ("active", str(addon.get("active") is True).lower())),
                display_name=_text(locale.get("name")),
                summary=_text(locale.get("description")),
                home_page=_text(locale.get("homepageURL")),
                reaches=_hosts(hosts),
            )


def _localised(value: object, words: dict[str, str]) -> str | None:
    """``%displayName%`` (VS Code) or ``__MSG_appName__`` (browsers) in the manifest's own language."""
    text = _text(value)
    if text is None:
        return None
    if text.startswith("%") and text.endswith("%") and len(text) > 2:
        return _text(words.get(text[1:-1])) or text
    return _MESSAGE.sub(lambda m: words.get(m.group(1).lower(), m.group(0)), text)


def _joined(records: list[PackageRecord]) -> list[PackageRecord]:
    """One record per add-on per Firefox profile: the ``extensions.json`` entry, its ``.xpi`` supporting."""
    at: dict[tuple[str, str], int] = {}
    merged: list[PackageRecord] = []
    for record in sorted(records, key=lambda r: r.locations[0].path.endswith(".xpi")):
        key = (record.environment.path, record.normalized_name)
        if record.ecosystem is not Ecosystem.FIREFOX or key not in at:
            at.setdefault(key, len(merged))
            merged.append(record)
            continue
        target = merged[at[key]]
        supporting = tuple(Location(loc.path, loc.line, "supporting") for loc in record.locations)
        merged[at[key]] = dataclasses.replace(target, locations=target.locations + supporting)
    return merged
