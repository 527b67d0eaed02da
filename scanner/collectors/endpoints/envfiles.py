"""``KEY=value`` files: ``.env`` files anywhere, shell start-up files, systemd units, ``/etc/environment``.

Lines are read as data (a bounded read; nothing is sourced or expanded). A ``.env`` line is
``KEY=value`` (spaces around ``=`` allowed, as python-dotenv does) with an optional ``export``; a shell
line is split into words the way the shell would (``shlex``), so every ``NAME=value`` word counts —
several on one line, after ``;``, before a command (``ANTHROPIC_BASE_URL=... claude``) and inside an
alias; fish's ``set -gx NAME value`` too; systemd ``Environment=`` lines may hold several assignments.
"""

from __future__ import annotations

import re
import shlex

from scanner.collectors.endpoints.base import record_of
from scanner.collectors.endpoints.settings import classify_all
from scanner.collectors.interface import CollectOptions, Collector, CollectorResult
from scanner.fsview import FileRefused, RootFS, describe_refusal, refusal_kind
from scanner.records import Record, Skipped
from scanner.vocabulary import EndpointSource, SkipKind
from scanner.walk import Entry, Interest

TEXT_CAP = 1 << 20
DOTENV_NAMES = frozenset(
    f".env{suffix}"
    for stage in ("", ".local", ".production", ".prod", ".development", ".dev", ".staging", ".test")
    for suffix in {stage, f"{stage}.local"}
) | {".envrc", ".env.example", ".env.sample", ".env.template"}
SHELL_NAMES = frozenset(
    {".bashrc", ".bash_profile", ".profile", ".zshrc", ".zshenv", ".zprofile", ".bash_login", "config.fish"}
)
_DOTENV = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$")
_FISH_SET = re.compile(r"^\s*set\s+(?:-[A-Za-z]+\s+)*([A-Za-z_][A-Za-z0-9_]*)\s+(.+)$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def env_source_of(entry: Entry) -> EndpointSource | None:
    """Which kind of ``KEY=value`` file this is, if it is one we read."""
    name, path = entry.name, entry.path
    if name in DOTENV_NAMES:
        return EndpointSource.DOTENV
    if (
        name in SHELL_NAMES
        or path == "/etc/environment"
        or (path.startswith("/etc/profile.d/") and name.endswith(".sh"))
    ):
        return EndpointSource.SHELL_PROFILE
    if name.endswith(".service") or (name.endswith(".conf") and entry.parent_name.endswith(".service.d")):
        return EndpointSource.SYSTEMD_UNIT
    return None


def assignments(line: str, source: EndpointSource) -> list[tuple[str, str]]:
    """The ``(name, value)`` pairs one line sets."""
    if source == "systemd-unit":
        key, equals, rest = line.strip().partition("=")
        if not equals or key.strip() != "Environment":
            return []
        return [pair for word in _words(rest) if (pair := _pair(word))]
    if source == "dotenv":
        match = _DOTENV.match(line)
        if not match:
            return []
        value = match.group(2).strip()
        quoted = bool(value) and value[0] in "\"'"
        value = value[1:].split(value[0], 1)[0] if quoted else value.split(" #", 1)[0].strip()
        return [(match.group(1), value)]
    fish = _FISH_SET.match(line)
    if fish:
        words = _words(fish.group(2))
        return [(fish.group(1), words[0])] if words else []
    return _shell_pairs(_words(line), depth=0)


def _words(text: str) -> list[str]:
    """Shell words, with ``;``, ``&&``, ``|`` and parentheses as words of their own."""
    lexer = shlex.shlex(text, posix=True, punctuation_chars=";&|()")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    try:
        return list(lexer)
    except ValueError:  # an unclosed quote: the line is not shell we can read
        return []


def _pair(word: str) -> tuple[str, str] | None:
    name, equals, value = word.partition("=")
    return (name, value) if equals and _NAME.match(name) else None


def _shell_pairs(words: list[str], depth: int) -> list[tuple[str, str]]:
    pairs = []
    for word in words:
        pair = _pair(word)
        if pair:
            pairs.append(pair)
        command = word.partition("=")[2]
        if depth == 0 and "=" in command and " " in command:  # alias ds='ANTHROPIC_BASE_URL=... claude'
            pairs += _shell_pairs(_words(command), depth=1)
    return pairs


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
        source = env_source_of(entry)
        if source is None:
            return
        try:
            text, truncated = self.fs.read_text(entry.real_path, TEXT_CAP)
        except (OSError, FileRefused) as error:
            self._skipped.append(Skipped(entry.path, f"unreadable: {describe_refusal(error)}", refusal_kind(error)))
            return
        if truncated:
            self._skipped.append(Skipped(entry.path, f"read only up to {TEXT_CAP >> 20} MiB", SkipKind.PARTIAL))
        for number, line in enumerate(text.splitlines(), start=1):
            if line.lstrip().startswith("#") or ("=" not in line and "set " not in line):
                continue
            for name, value in assignments(line, source):
                settings = classify_all(name, value, self.options.watch)
                if settings:
                    self._records += record_of(
                        settings, name=name, source=source, path=entry.path, line=number, found_by=self.id
                    )

    def finish(self) -> CollectorResult:
        return CollectorResult(records=self._records, skipped=self._skipped)
