"""Desktop applications installed on macOS, Linux and Windows, as ``app`` packages.

Agency orders forbid the providers' "apps and desktop programs", so an app is inventoried like a package:
named by the id its system gives it, shown by the name people see, judged by the same package rules.

* macOS: every ``.app`` bundle (a folder) wherever it is — ``/Applications``, ``~/Applications``, inside an
  installer (Kimi's ``Kimi Installer.app/Contents/Helpers/Kimi.app``) — by its ``Contents/Info.plist``
  (``Info.plist`` for an iOS app wrapped for the Mac): ``CFBundleIdentifier``, ``CFBundleDisplayName`` or
  ``CFBundleName``, ``CFBundleShortVersionString``; XML or binary, read with ``plistlib`` under a size cap.
  Helper apps in a bundle's ``Contents/Frameworks`` (Electron's) are parts of their app, not apps.
* Linux: ``.desktop`` launchers in ``applications`` and ``autostart`` folders (``Name``, ``Exec``'s program,
  ``X-Flatpak``, ``X-SnapInstanceName``); snaps by ``meta/snap.yaml`` or by the ``<name>_<revision>.snap``
  files snapd keeps; flatpaks by each deployment's ``metadata`` (``.../flatpak/app/<id>/...``). A launcher
  of a snap or flatpak joins that app's record as a supporting place.
* Windows: Start-menu shortcuts (``.lnk``) by file name only (the binary is not parsed), and programs in
  ``Program Files``, ``Program Files (x86)`` and a user's ``AppData/Local/Programs`` by their folder's name,
  found through the ``.exe`` files in it or one folder below.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable

from scanner.collectors.endpoints.winregistry import installed_programs
from scanner.collectors.interface import CollectOptions, Collector, CollectorResult
from scanner.collectors.yamldata import NotYaml, TooManyNodes, load_yaml
from scanner.ecosystems import ECOSYSTEMS, Ecosystem, EnvironmentKind
from scanner.fsview import FileRefused, RootFS, describe_refusal, refusal_kind
from scanner.platforms import windows
from scanner.records import Environment, Location, PackageRecord, Skipped
from scanner.visitors import Entry, Interest
from scanner.vocabulary import SkipKind

PLIST_CAP = 1024 * 1024
"""An Info.plist is a few KiB; Xcode's, the largest we know, under 100 KiB."""
SMALL_CAP = 64 * 1024
"""A launcher, a snap's ``snap.yaml``, a flatpak's ``metadata``: a few hundred bytes to a few KiB."""
_LAUNCHER_DIRS = frozenset({"applications", "autostart"})
_PROGRAM_DIRS = frozenset({"program files", "program files (x86)"})
_KEY = re.compile(r"^([A-Za-z0-9-]+)\s*=\s*(.*)$")
_LAUNCHER_KEYS = frozenset({"Type", "Name", "Exec", "X-Flatpak", "X-SnapInstanceName"})


def _group(text: str, name: str, keys: frozenset[str]) -> dict[str, str]:
    """The ``keys`` of one ``[name]`` group of a freedesktop key file (a launcher, flatpak metadata);
    localised keys (``Name[de]``) are other keys and are not read."""
    found: dict[str, str] = {}
    inside = False
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("["):
            inside = line == f"[{name}]"
            continue
        match = _KEY.match(line) if inside else None
        if match and match.group(1) in keys:
            found.setdefault(match.group(1), match.group(2).strip())
    return found


def _text(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _program(exec_line: str) -> str | None:
    """The program a launcher runs, by name only: its arguments may hold anything (a token, a URL)."""
    first = exec_line.split()[0].strip('"') if exec_line.split() else ""
    return first.rsplit("/", 1)[-1] or None


def windows_program(path: str) -> tuple[str, str] | None:
    """``(programs folder, program)`` for an ``.exe`` in a program's folder or one below it, else ``None``."""
    parts = path.split("/")
    for depth in (3, 4):
        if len(parts) <= depth:
            return None
        holder = parts[-depth].lower()
        user = holder == "programs" and [p.lower() for p in parts[-depth - 2 : -depth]] == ["appdata", "local"]
        if holder in _PROGRAM_DIRS or user:
            return "/".join(parts[: len(parts) - depth + 1]), parts[-depth + 1]
    return None


class DesktopAppCollector(Collector):
    """Finds installed desktop apps: macOS bundles, Linux launchers, snaps and flatpaks, Windows programs."""

    id = "desktop-app-collector"
    interest = Interest(
        dir_suffixes=frozenset({".app"}),
        file_suffixes=frozenset({".desktop", ".lnk", ".snap", ".exe"}),
        file_names=frozenset({"snap.yaml", "metadata"}),
    )

    def __init__(self, fs: RootFS, options: CollectOptions | None = None) -> None:
        super().__init__(fs, options)
        self._records: list[PackageRecord] = []
        self._skipped: list[Skipped] = []
        self._programs: set[tuple[str, str]] = set()

    def visit(self, entry: Entry) -> None:
        if entry.is_dir:
            if "/Contents/Frameworks/" not in entry.path:
                self._bundle(entry)
            return
        suffix = entry.name[entry.name.rfind(".") :].lower() if "." in entry.name else ""
        handler = _BY_NAME.get(entry.name) or _BY_SUFFIX.get(suffix)
        if handler is not None:
            handler(self, entry)

    def finish(self) -> CollectorResult:
        if self.fs.is_live and self.options.whole_machine and windows():
            self._uninstall_entries()
        return CollectorResult(records=list(_joined(self._records)), skipped=self._skipped)

    def _uninstall_entries(self) -> None:
        """Programs installers registered for uninstall (what Settings, Apps lists): the live registry only."""
        import winreg  # Windows only

        for key, values in installed_programs(winreg):
            name = values.get("DisplayName", "").strip()
            if not name or values.get("SystemComponent") == "1" or values.get("ParentKeyName"):
                continue  # updates and components, not programs people installed
            place = values.get("InstallLocation") or key
            extra = (("registry_key", key),)
            holder = key.rsplit("\\", 1)[0]
            version, publisher = values.get("DisplayVersion"), values.get("Publisher")
            self._add(name, name, EnvironmentKind.WINDOWS_PROGRAMS, holder, place, extra, version, publisher)

    # -- reading ---------------------------------------------------------------------------------
    def _read(self, real: str, shown: str, what: str, cap: int) -> bytes | None:
        return read_whole(self.fs, real, shown, what, cap, self._skipped)

    def _add(
        self,
        name: str,
        display: str | None,
        kind: EnvironmentKind,
        environment: str,
        where: str,
        extra: tuple[tuple[str, str], ...] = (),
        version: str | None = None,
        summary: str | None = None,
    ) -> None:
        self._records.append(
            PackageRecord(
                name=name,
                normalized_name=ECOSYSTEMS[Ecosystem.APP].normalize(name),
                version=version,
                ecosystem=Ecosystem.APP,
                environment=Environment(environment or "/", kind),
                locations=(Location(where),),
                found_by=self.id,
                display_name=display,
                summary=summary,
                extra=tuple((k, v) for k, v in extra if v),
            )
        )

    # -- macOS -----------------------------------------------------------------------------------
    def _bundle(self, entry: Entry) -> None:
        import plistlib  # with its XML parser, 4 ms of start-up: here, for macOS app bundles only
        from xml.parsers.expat import ExpatError

        info = None
        for inside in ("Contents/Info.plist", "Info.plist"):
            shown = f"{entry.path}/{inside}"
            data = self._read(f"{entry.real_path}/{inside}", shown, "Info.plist", PLIST_CAP)
            if data is None:
                continue
            try:
                info = plistlib.loads(data)
            except (plistlib.InvalidFileException, ExpatError, ValueError, TypeError, OverflowError, RecursionError):
                self._skipped.append(Skipped(shown, "Info.plist is not a property list", SkipKind.UNSUPPORTED))
                return
            break
        if not isinstance(info, dict):
            return  # a folder named like a bundle (``site.app`` in a web project), not one
        stem = entry.name[: -len(".app")]
        shown_name = _text(info.get("CFBundleDisplayName")) or _text(info.get("CFBundleName")) or stem
        version = _text(info.get("CFBundleShortVersionString")) or _text(info.get("CFBundleVersion"))
        folder = entry.path.split(".app/", 1)[0].rsplit("/", 1)[0]  # where the outermost bundle is
        self._add(
            _text(info.get("CFBundleIdentifier")) or stem,
            shown_name,
            EnvironmentKind.MACOS_APPS,
            folder,
            entry.path,
            (("executable", _text(info.get("CFBundleExecutable")) or ""),),
            version,
        )

    # -- Linux -----------------------------------------------------------------------------------
    def _launcher(self, entry: Entry) -> None:
        if entry.parent_name not in _LAUNCHER_DIRS:
            return
        data = self._read(entry.real_path, entry.path, "desktop entry", SMALL_CAP)
        if data is None:
            return
        keys = _group(data.decode("utf-8", "replace"), "Desktop Entry", _LAUNCHER_KEYS)
        if keys.get("Type", "Application") != "Application":
            return  # a link or a menu folder, not a program
        stem = entry.name[: -len(".desktop")]
        packaged = "flatpak" if keys.get("X-Flatpak") else "snap" if keys.get("X-SnapInstanceName") else ""
        name = keys.get("X-Flatpak") or keys.get("X-SnapInstanceName") or stem
        folder = entry.path.rsplit("/", 1)[0]
        extra = (("program", _program(keys.get("Exec", "")) or ""), ("packaged_as", packaged))
        self._add(name, keys.get("Name") or stem, EnvironmentKind.DESKTOP_ENTRIES, folder, entry.path, extra)

    def _snap_file(self, entry: Entry) -> None:
        """snapd's ``/var/lib/snapd/snaps/<name>_<revision>.snap``, by name (a ``.snap`` elsewhere is a test
        snapshot)."""
        if entry.parent_name != "snaps" or "/snapd/" not in entry.path:
            return
        stem, _, revision = entry.name[: -len(".snap")].rpartition("_")
        folder = entry.path.rsplit("/", 1)[0]
        self._add(stem or entry.name, None, EnvironmentKind.SNAP, folder, entry.path, (("snap_revision", revision),))

    def _snap(self, entry: Entry) -> None:
        if entry.parent_name != "meta" or "/snap/" not in entry.path:
            return
        data = self._read(entry.real_path, entry.path, "snap.yaml", SMALL_CAP)
        if data is None:
            return
        try:
            meta = load_yaml(data.decode("utf-8", "replace"))
        except (NotYaml, TooManyNodes, RecursionError):
            self._skipped.append(Skipped(entry.path, "snap.yaml is not YAML", SkipKind.UNSUPPORTED))
            return
        if not isinstance(meta, dict) or not _text(meta.get("name")):
            return
        parts = entry.path.split("/")
        snaps = "/".join(parts[:-4])  # /snap/<name>/<revision>/meta/snap.yaml
        name = str(meta["name"]).strip()
        version = _text(str(meta["version"])) if meta.get("version") is not None else None
        self._add(
            name,
            _text(meta.get("title")),
            EnvironmentKind.SNAP,
            snaps,
            entry.path,
            (),
            version,
            _text(meta.get("summary")),
        )

    def _flatpak(self, entry: Entry) -> None:
        parts = entry.path.split("/")
        if len(parts) <= 7 or parts[-6] != "app" or parts[-7] != "flatpak":
            return
        data = self._read(entry.real_path, entry.path, "flatpak metadata", SMALL_CAP)
        keys = _group(data.decode("utf-8", "replace"), "Application", frozenset({"name"})) if data else {}
        name = keys.get("name") or parts[-5]  # .../flatpak/app/<id>/<arch>/<branch>/<commit>/metadata
        extra = (("flatpak_arch", parts[-4]), ("flatpak_branch", parts[-3]))
        self._add(name, None, EnvironmentKind.FLATPAK, "/".join(parts[:-6]), entry.path, extra)

    # -- Windows ---------------------------------------------------------------------------------
    def _shortcut(self, entry: Entry) -> None:
        lower = entry.path.lower()
        if "/microsoft/windows/start menu/" not in lower or entry.name.lower().startswith("uninstall"):
            return
        start_menu = entry.path[: entry.path.lower().index("/start menu/") + len("/start menu")]
        stem = entry.name[: -len(".lnk")]
        self._add(stem, stem, EnvironmentKind.WINDOWS_START_MENU, start_menu, entry.path)

    def _windows_program(self, entry: Entry) -> None:
        found = windows_program(entry.path)
        if found is None or found in self._programs:
            return
        self._programs.add(found)
        holder, program = found
        self._add(program, program, EnvironmentKind.WINDOWS_PROGRAMS, holder, f"{holder}/{program}")


_BY_SUFFIX: dict[str, Callable[[DesktopAppCollector, Entry], None]] = {
    ".desktop": DesktopAppCollector._launcher,
    ".lnk": DesktopAppCollector._shortcut,
    ".exe": DesktopAppCollector._windows_program,
    ".snap": DesktopAppCollector._snap_file,
}
_BY_NAME: dict[str, Callable[[DesktopAppCollector, Entry], None]] = {
    "snap.yaml": DesktopAppCollector._snap,
    "metadata": DesktopAppCollector._flatpak,
}
"""Which reader a file goes to, by its name or (lower-case) suffix; each checks the place it must be in."""

_PACKAGED_AS = {"snap": EnvironmentKind.SNAP, "flatpak": EnvironmentKind.FLATPAK}


def _joined(records: list[PackageRecord]) -> list[PackageRecord]:
    """One record per snap and flatpak: ``snap.yaml`` before snapd's ``.snap`` file, and the app's launchers
    (``X-SnapInstanceName``, ``X-Flatpak``) as supporting places that also give it the name people see."""
    kept: dict[tuple[EnvironmentKind, str], int] = {}
    merged: list[PackageRecord] = []
    for record in sorted(records, key=lambda r: (_packaged_as(r) is not None, "snap_revision" in dict(r.extra))):
        kind = _packaged_as(record) or record.environment.kind
        at = kept.get((kind, record.normalized_name))
        if at is None:
            if kind in _PACKAGED_AS.values():
                kept[(kind, record.normalized_name)] = len(merged)
            merged.append(record)
            continue
        target = merged[at]
        supporting = tuple(Location(loc.path, loc.line, "supporting") for loc in record.locations)
        merged[at] = dataclasses.replace(
            target,
            locations=target.locations + supporting,
            display_name=target.display_name or record.display_name,
            version=target.version or record.version,
            extra=target.extra + tuple((k, v) for k, v in record.extra if k not in dict(target.extra)),
        )
    return merged


def _packaged_as(record: PackageRecord) -> EnvironmentKind | None:
    """For a launcher of a snap or a flatpak, which of them."""
    packaged = dict(record.extra).get("packaged_as")
    return _PACKAGED_AS.get(packaged) if packaged else None


def read_whole(fs: RootFS, real: str, shown: str, what: str, cap: int, skipped: list[Skipped]) -> bytes | None:
    """A small file read whole, or ``None`` with the reason appended to ``skipped`` (a file that is gone says
    nothing; one past ``cap`` is not read at all: a half manifest would say the wrong thing)."""
    try:
        data, truncated = fs.read_bytes(real, cap)
    except FileNotFoundError:
        return None
    except (OSError, FileRefused) as error:
        skipped.append(Skipped(shown, f"{what} unreadable: {describe_refusal(error)}", refusal_kind(error)))
        return None
    if truncated:
        skipped.append(Skipped(shown, f"{what} larger than {cap >> 10} KiB: not read", SkipKind.UNSUPPORTED))
        return None
    return data
