"""Environment variables kept in the Windows registry: what ``setx`` and System Properties write.

Every process a user starts inherits ``HKCU\\Environment``, and every process on the machine
``HKLM\\SYSTEM\\CurrentControlSet\\Control\\Session Manager\\Environment``; an administrator's scan also
reads the ``Environment`` key of every user whose hive is loaded (``HKEY_USERS\\<SID>``). Read with
``winreg`` on a live Windows machine. A disk image (``--root``) holds them in hive files
(``Users\\<name>\\NTUSER.DAT``, ``Windows\\System32\\config\\SYSTEM``) that no well-kept parser we would
ship reads, so each hive found is listed as not read: a key there could hide use.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from scanner.collectors.endpoints.base import record_of
from scanner.collectors.endpoints.settings import classify_all
from scanner.collectors.interface import CollectOptions, Collector, CollectorResult
from scanner.fsview import RootFS
from scanner.platforms import windows
from scanner.records import Record, Skipped
from scanner.syspaths import canonical
from scanner.visitors import Entry, Interest
from scanner.vocabulary import EndpointSource, SkipKind

MACHINE_KEY = r"SYSTEM\CurrentControlSet\Control\Session Manager\Environment"
USER_KEY = "Environment"
HIVE_NAMES = frozenset({"NTUSER.DAT", "ntuser.dat", "SYSTEM"})
VALUES_CAP = 10_000
"""Values read per key: a real environment holds a few dozen."""
_STRING_TYPES = (1, 2, 7)  # REG_SZ, REG_EXPAND_SZ, REG_MULTI_SZ


def _is_hive(path: str) -> bool:
    place = canonical(path)
    return place == "/windows/system32/config/system" or (place.startswith("/users/") and place.endswith("/ntuser.dat"))


def environment_keys(winreg: Any) -> Iterator[tuple[str, Any, str]]:
    """``(name shown in reports, root key, sub key)`` of every environment the registry holds."""
    yield "HKLM\\" + MACHINE_KEY, winreg.HKEY_LOCAL_MACHINE, MACHINE_KEY
    yield "HKCU\\" + USER_KEY, winreg.HKEY_CURRENT_USER, USER_KEY
    for sid in user_hives(winreg):  # people, not services
        yield f"HKU\\{sid}\\{USER_KEY}", winreg.HKEY_USERS, f"{sid}\\{USER_KEY}"


UNINSTALL_KEYS = (
    r"SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall",
    r"SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall",
)
"""Where installers register what they installed (64- and 32-bit programs; the same path per user)."""
SUBKEYS_CAP = 20_000


def user_hives(winreg: Any) -> list[str]:
    """The SIDs of people whose hives are loaded (an administrator sees every signed-in user's)."""
    try:
        with winreg.OpenKey(winreg.HKEY_USERS, "") as users:
            sids = [winreg.EnumKey(users, i) for i in range(min(winreg.QueryInfoKey(users)[0], SUBKEYS_CAP))]
    except OSError:
        return []
    return [sid for sid in sids if sid.startswith("S-1-5-21-") and not sid.endswith("_Classes")]


def installed_programs(winreg: Any) -> list[tuple[str, dict[str, str]]]:
    """``(registry key shown in reports, its string values)`` of every program registered for uninstall,
    machine-wide and for every loaded user."""
    places = [("HKLM", winreg.HKEY_LOCAL_MACHINE, key) for key in UNINSTALL_KEYS]
    places += [("HKCU", winreg.HKEY_CURRENT_USER, UNINSTALL_KEYS[0])]
    places += [("HKU", winreg.HKEY_USERS, f"{sid}\\{UNINSTALL_KEYS[0]}") for sid in user_hives(winreg)]
    found = []
    for shown, root, path in places:
        try:
            with winreg.OpenKey(root, path) as handle:
                count = min(winreg.QueryInfoKey(handle)[0], SUBKEYS_CAP)
                names = [winreg.EnumKey(handle, i) for i in range(count)]
        except OSError:
            continue
        for name in names:
            key = f"{path}\\{name}"
            try:
                found.append((f"{shown}\\{key}", dict(registry_variables(winreg, root, key)[0])))
            except OSError:
                continue
    return found


def registry_variables(winreg: Any, root: Any, key: str) -> tuple[list[tuple[str, str]], int]:
    """The string values of one key (a list value is read as its items joined by ``;``), at most
    ``VALUES_CAP`` of them, and how many values the key holds."""
    with winreg.OpenKey(root, key) as handle:
        total = winreg.QueryInfoKey(handle)[1]
        pairs = []
        for index in range(min(total, VALUES_CAP)):
            name, value, kind = winreg.EnumValue(handle, index)
            if kind in _STRING_TYPES:
                pairs.append((str(name), ";".join(value) if isinstance(value, list) else str(value)))
        return pairs, total


class RegistryCollector(Collector):
    """Endpoint settings in the registry's environment keys (live Windows), and hives not read (images)."""

    id = "registry-collector"
    interest = Interest(file_names=HIVE_NAMES)

    def __init__(self, fs: RootFS, options: CollectOptions | None = None) -> None:
        super().__init__(fs, options)
        self._skipped: list[Skipped] = []

    def visit(self, entry: Entry) -> None:
        if _is_hive(entry.path):
            reason = (
                "registry hive not read: environment variables stored in it (setx, System Properties) are not checked"
            )
            self._skipped.append(Skipped(entry.path, reason, SkipKind.UNSUPPORTED))

    def finish(self) -> CollectorResult:
        if not (self.fs.is_live and self.options.whole_machine and windows()):
            return CollectorResult(skipped=self._skipped)
        import winreg  # Windows only

        records: list[Record] = []
        for shown, root, key in environment_keys(winreg):
            try:
                pairs, total = registry_variables(winreg, root, key)
            except FileNotFoundError:
                continue
            except OSError as error:
                self._skipped.append(Skipped(shown, f"unreadable: {error.strerror or error}", SkipKind.UNREADABLE))
                continue
            if total > VALUES_CAP:  # HKCU\Environment is the user's to fill: values past the cap could hide one
                reason = f"{total} values; only the first {VALUES_CAP} read"
                self._skipped.append(Skipped(shown, reason, SkipKind.PARTIAL))
            for name, value in pairs:
                settings = classify_all(name, value, self.options.watch)
                if settings:
                    source = EndpointSource.REGISTRY
                    records += record_of(settings, name=name, source=source, path=shown, line=None, found_by=self.id)
        return CollectorResult(records=records, skipped=self._skipped)
