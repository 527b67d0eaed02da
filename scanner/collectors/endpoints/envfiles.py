"""``KEY=value`` files: ``.env`` files anywhere, shell start-up files, systemd units, ``/etc/environment``.

Lines are read as data (a bounded read; nothing is sourced or expanded): ``KEY=value`` with an
optional ``export``, quotes stripped; systemd ``Environment=`` lines may hold several assignments.
"""

from __future__ import annotations

import re
import shlex

from scanner.collectors.endpoints.base import record_of
from scanner.collectors.endpoints.settings import classify_all
from scanner.collectors.interface import CollectOptions, Collector, CollectorResult
from scanner.fsview import FileRefused, RootFS, describe_refusal
from scanner.records import EndpointSource, Record, Skipped
from scanner.walk import Entry, Interest

TEXT_CAP = 1 << 20
DOTENV_NAMES = frozenset(
    {".env", ".env.local", ".env.production", ".env.prod", ".env.development", ".env.dev", ".env.staging", ".envrc"}
)
SHELL_NAMES = frozenset({".bashrc", ".bash_profile", ".profile", ".zshrc", ".zshenv", ".zprofile", ".bash_login"})
_ASSIGNMENT = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$")


def _source_of(entry: Entry) -> EndpointSource | None:
    name, path = entry.name, entry.path
    if name in DOTENV_NAMES:
        return "dotenv"
    if (
        name in SHELL_NAMES
        or path == "/etc/environment"
        or (path.startswith("/etc/profile.d/") and name.endswith(".sh"))
    ):
        return "shell-profile"
    if name.endswith(".service") or (name.endswith(".conf") and entry.parent_name.endswith(".service.d")):
        return "systemd-unit"
    return None


def assignments(line: str, systemd: bool) -> list[tuple[str, str]]:
    """The ``(name, value)`` pairs one line sets."""
    if systemd:
        key, equals, rest = line.strip().partition("=")
        if not equals or key.strip() != "Environment":
            return []
        try:
            words = shlex.split(rest, comments=False, posix=True)
        except ValueError:
            return []
        return [tuple(w.split("=", 1)) for w in words if "=" in w]  # type: ignore[misc]
    match = _ASSIGNMENT.match(line)
    if not match:
        return []
    value = match.group(2).strip()
    quoted = bool(value) and value[0] in "\"'"
    value = value[1:].split(value[0], 1)[0] if quoted else value.split(" #", 1)[0].strip()
    return [(match.group(1), value)]


class EnvFileCollector(Collector):
    """Endpoint settings in ``.env`` files, shell profiles, systemd units and ``/etc/environment``."""

    id = "env-file-collector"
    interest = Interest(
        file_names=DOTENV_NAMES | SHELL_NAMES | frozenset({"environment"}),
        file_suffixes=frozenset({".service", ".conf", ".sh"}),
    )

    def __init__(self, fs: RootFS, options: CollectOptions | None = None) -> None:
        super().__init__(fs, options)
        self._records: list[Record] = []
        self._skipped: list[Skipped] = []

    def visit(self, entry: Entry) -> None:
        source = _source_of(entry)
        if source is None:
            return
        try:
            text, _ = self.fs.read_text(entry.real_path, TEXT_CAP)
        except (OSError, FileRefused) as error:
            self._skipped.append(Skipped(entry.path, f"unreadable: {describe_refusal(error)}", "unreadable"))
            return
        for number, line in enumerate(text.splitlines(), start=1):
            if "=" not in line or line.lstrip().startswith("#"):
                continue
            for name, value in assignments(line, source == "systemd-unit"):
                settings = classify_all(name, value, self.options.watch)
                if settings:
                    self._records += record_of(
                        settings, name=name, source=source, path=entry.path, line=number, found_by=self.id
                    )

    def finish(self) -> CollectorResult:
        return CollectorResult(records=self._records, skipped=self._skipped)
