"""``KEY=value`` files: ``.env`` files anywhere, shell start-up files, systemd units, ``/etc/environment``.

Lines are read as data (a bounded read; nothing is sourced or expanded). A ``.env`` line is
``KEY=value`` (spaces around ``=`` allowed, as python-dotenv does) with an optional ``export``; a shell
line is split into words the way the shell would (quotes, backslashes, ``#`` comments), so every
``NAME=value`` word counts — several on one line, after ``;``, before a command
(``ANTHROPIC_BASE_URL=... claude``) and inside an alias; fish's ``set -gx NAME value`` too; systemd
``Environment=`` lines may hold several assignments. The shells of Windows and macOS are read the same
way (``shellsyntax.py``): PowerShell profiles, batch files, ``/etc/launchd.conf`` and ``launchctl
setenv``; system-wide start-up files are known by their place on each system (``scanner.syspaths``).

Any user can plant these files, so reading one costs time linear in its size: words are cut with one
regular expression (``shlex`` builds each word a character at a time, 13 s of CPU for one 1 MB word).
"""

from __future__ import annotations

import re
from functools import cached_property

from scanner.collectors.endpoints.base import RECORDS_PER_FILE, record_of
from scanner.collectors.endpoints.settings import classify_all
from scanner.collectors.endpoints.shellsyntax import batch_pairs, launchd_pairs, powershell_pairs
from scanner.collectors.interface import CollectOptions, Collector, CollectorResult, memo_kind
from scanner.fsview import FileRefused, RootFS, describe_refusal, refusal_kind
from scanner.patterns import LazyPattern
from scanner.records import Record, Skipped
from scanner.syspaths import LAUNCHD_CONF, canonical, is_powershell_profile, is_system_shell_file
from scanner.visitors import Entry, Interest
from scanner.vocabulary import EndpointSource, SkipKind

TEXT_CAP = 1 << 20
DOTENV_NAMES = frozenset(
    f".env{suffix}"
    for stage in ("", ".local", ".production", ".prod", ".development", ".dev", ".staging", ".test")
    for suffix in {stage, f"{stage}.local"}
) | {".envrc", ".env.example", ".env.sample", ".env.template"}
SHELL_NAMES = frozenset(
    {".bashrc", ".bash_profile", ".profile", ".zshrc", ".zshenv", ".zprofile", ".bash_login", "config.fish"}
)
_DOTENV = LazyPattern(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$")
_FISH_SET = LazyPattern(r"^\s*set\s+(?:-[A-Za-z]+\s+)*([A-Za-z_][A-Za-z0-9_]*)\s+(.+)$")
_NAME = LazyPattern(r"^[A-Za-z_][A-Za-z0-9_]*$")
SYSTEM_SHELL_NAMES = frozenset(
    {"environment", "profile", "bashrc", "bash.bashrc", "zshrc", "zprofile", "zshenv", "zlogin"}
)
BATCH_SUFFIXES = frozenset({".bat", ".cmd"})


def env_source_of(entry: Entry) -> EndpointSource | None:
    """Which kind of ``KEY=value`` file this is, if it is one we read."""
    name, path = entry.name, entry.path
    if name in DOTENV_NAMES:
        return EndpointSource.DOTENV
    if (
        name in SHELL_NAMES
        or (name in SYSTEM_SHELL_NAMES and is_system_shell_file(path))
        or (path.startswith("/etc/profile.d/") and name.endswith(".sh"))
    ):
        return EndpointSource.SHELL_PROFILE
    lower = name.lower()
    if lower.endswith(".ps1"):
        return EndpointSource.POWERSHELL_PROFILE if is_powershell_profile(name) else None
    if lower[-4:] in BATCH_SUFFIXES:
        return EndpointSource.BATCH_FILE
    if name == "launchd.conf" and canonical(path) == LAUNCHD_CONF:
        return EndpointSource.LAUNCHD_JOB
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
    if source == "powershell-profile":
        return powershell_pairs(line)
    if source == "batch-file":
        return batch_pairs(line)
    if source == "launchd-job":
        return launchd_pairs(line)
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
    return _shell_pairs(_words(line), depth=0) + launchd_pairs(line)


_WORD_PART = LazyPattern(
    r"""(?P<space>[ \t\r\n]+)
    |(?P<operator>[;&|()]+)
    |'(?P<single>[^']*)'
    |"(?P<double>[^"\\]*(?:\\.[^"\\]*)*)"
    |\\(?P<escaped>.)
    |(?P<plain>[^ \t\r\n;&|()'"\\]+)""",
    re.VERBOSE | re.DOTALL,
)
_DOUBLE_QUOTED_ESCAPE = LazyPattern(r'\\(["\\])')


def _words(text: str) -> list[str]:
    """Shell words, with runs of ``;``, ``&``, ``|`` and parentheses as words of their own.

    As POSIX ``shlex`` splits them (quotes joined to their word, a backslash escaping the next
    character, ``\\"`` and ``\\\\`` inside double quotes), except that ``#`` starts a comment only
    at the start of a word, as in the shell. An unclosed quote: the line is not shell we can read.
    """
    words: list[str] = []
    word: list[str] = []
    in_word = False
    position, end = 0, len(text)
    while position < end:
        if not in_word and text[position] == "#":
            break
        match = _WORD_PART.match(text, position)
        if match is None:  # an unclosed quote, or a backslash at the very end
            return []
        position = match.end()
        kind = match.lastgroup
        if kind in ("space", "operator"):
            if in_word:
                words.append("".join(word))
                word, in_word = [], False
            if kind == "operator":
                words.append(match.group())
            continue
        part = match.group(kind or "plain")
        word.append(_DOUBLE_QUOTED_ESCAPE.sub(r"\1", part) if kind == "double" else part)
        in_word = True
    if in_word:
        words.append("".join(word))
    return words


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
    """Endpoint settings in ``.env`` files, shell profiles (PowerShell's too), systemd units, batch files
    and ``/etc/environment``."""

    id = "env-file-collector"
    interest = Interest(
        file_names=DOTENV_NAMES | SHELL_NAMES | SYSTEM_SHELL_NAMES,
        file_suffixes=frozenset({".service", ".conf", ".sh", ".ps1"}) | BATCH_SUFFIXES,
    )

    def __init__(self, fs: RootFS, options: CollectOptions | None = None) -> None:
        super().__init__(fs, options)
        self._records: list[Record] = []
        self._skipped: list[Skipped] = []

    @cached_property
    def _looked_for(self) -> str:
        return memo_kind(self.id, self.options.watch)

    def visit(self, entry: Entry) -> None:
        source = env_source_of(entry)
        if source is None:
            return
        cache = self.options.file_cache
        listed = self.fs.listed_status(entry.real_path) if cache else None
        if cache and listed is not None and cache.quiet(self._looked_for, entry.real_path, listed):
            return  # read by an earlier scan, which found no setting in it, and unchanged since: not even opened
        try:
            data, truncated, status = self.fs.read_with_status(entry.real_path, TEXT_CAP)
        except (OSError, FileRefused) as error:
            self._skipped.append(Skipped(entry.path, f"unreadable: {describe_refusal(error)}", refusal_kind(error)))
            return
        if truncated:
            self._skipped.append(Skipped(entry.path, f"read only up to {TEXT_CAP >> 20} MiB", SkipKind.PARTIAL))
        before = (len(self._records), len(self._skipped))
        self._settings(entry, source, data.decode("utf-8", errors="replace"))
        nothing = not truncated and (len(self._records), len(self._skipped)) == before
        if cache and nothing and status is not None and self.fs.change_shows(status):
            cache.found_nothing(self._looked_for, entry.real_path, status)

    def _settings(self, entry: Entry, source: EndpointSource, text: str) -> None:
        found: list[Record] = []
        for number, line in enumerate(text.splitlines(), start=1):
            lower = line.lower()
            if line.lstrip().startswith("#") or ("=" not in line and "set" not in lower and "env:" not in lower):
                continue  # "env:": PowerShell's New-Item -Path Env:NAME -Value ... has neither "=" nor "set"
            for name, value in assignments(line, source):
                settings = classify_all(name, value, self.options.watch)
                if settings:
                    found += record_of(
                        settings, name=name, source=source, path=entry.path, line=number, found_by=self.id
                    )
            if len(found) > RECORDS_PER_FILE:
                reason = f"more than {RECORDS_PER_FILE} settings by line {number}; only the first {RECORDS_PER_FILE} recorded"
                self._skipped.append(Skipped(entry.path, reason, SkipKind.PARTIAL))
                break
        self._records += found[:RECORDS_PER_FILE]

    def finish(self) -> CollectorResult:
        return CollectorResult(records=self._records, skipped=self._skipped)
