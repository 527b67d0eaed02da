"""Every text file people wrote: code in any language, configuration, scripts, manifests and notebooks.

No list of extensions: every file the walk meets is a candidate, and what is not text costs little —
names of known binary formats are passed over without an open, and anything else is dropped at its
first NUL byte. A text file is read once under a cap, lower-cased and searched for the needles of the
providers' identities (``identities.py``); only a file that holds one is read line by line, and only
its lines that hold one are looked at closely. Each identity a line names (a model id, an SDK name, a
provider's variable or host, a URL of an API host, a base-URL argument, a provider selected by name)
becomes a record saying how the line writes it: use, or a mention in a comment or a block rule
(``context.py``). Documents (Markdown, plain text) are prose and not read.

Not read at all: installed package and toolchain trees (``site-packages``, ``node_modules``,
``~/.cargo/registry``, ``~/.m2``...: library code, judged as packages), the operating system's own
trees (``/usr``, ``/lib``...), Python standard libraries, caches and version-control folders, ignore
lists (``.gitignore``), and the scanner's own files (its policies, its reports, a clone of its source:
known by content digest, ``scanner.own``), which name the providers because they look for them. Settings files and ``KEY=value`` files are read here too, for what their structured
readers do not recognise; where a structured reader recorded the same thing in the same file, its record
is kept and this one dropped (``merge.py``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from functools import cached_property
from itertools import accumulate
from typing import Any, BinaryIO

from scanner.collectors.endpoints import plists
from scanner.collectors.endpoints.base import PACKAGE_DIRS
from scanner.collectors.endpoints.context import (
    block_configures,
    comment_blocks,
    enclosing_line,
    is_block_list,
    is_ignore_list,
    is_prose,
    mention_of,
    script_lines_only,
    use_words,
)
from scanner.collectors.endpoints.identities import WINDOW, Identities
from scanner.collectors.endpoints.merge import TEXT_COLLECTOR
from scanner.collectors.endpoints.settings import safe_url
from scanner.collectors.interface import CollectOptions, Collector, CollectorResult, memo_kind
from scanner.fsview import FileRefused, RootFS, SpecialFile, describe_refusal, refusal_kind
from scanner.own import digest
from scanner.patterns import LazyPattern
from scanner.records import Clue, EndpointRecord, Location, ModelRecord, Record, Skipped, plain, rebuilt
from scanner.syspaths import canonical
from scanner.urls import url_host
from scanner.visitors import Entry, Interest
from scanner.vocabulary import EndpointSource, ModelStore, SkipKind

TEXT_CAP = 1 << 20
CODE_CAP = 4 << 20
NOTEBOOK_CAP = 32 << 20
"""Notebooks carry their outputs (images, tables): the code cells may come after megabytes of them."""
SEARCH_CAP = 64 << 20
"""Past its read cap, a file is still searched for the providers' names (a C-speed pass in chunks) up to
this size: a name there is a coverage gap, since padding must not hide a setting."""
CHUNK = 1 << 20
_CACHED: dict[str, type[EndpointRecord] | type[ModelRecord]] = {
    "EndpointRecord": EndpointRecord,
    "ModelRecord": ModelRecord,
}
"""The records a file's text gives, by the name the file cache keeps them under."""
SNIFF_BYTES = 4096
"""A text file has no NUL byte in its first block; a binary one nearly always has one."""
RECORDS_PER_FILE = 200
"""A real file names a provider a few dozen times at most; more is data (a log, a dump) or an attack."""
MENTIONS_PER_FILE = 50
"""Mentions recorded per file (each is info at most); more are counted in the uses' budget of work only."""
NAMES_PER_FILE = 5000
"""Names examined per file: the work on a file that names providers endlessly stays bounded."""
CODE_SUFFIXES = frozenset(
    {".py", ".js", ".mjs", ".cjs", ".jsx", ".ts", ".tsx", ".go", ".java", ".kt", ".kts", ".cs", ".rs", ".rb",
     ".php", ".swift", ".scala", ".c", ".cc", ".cpp", ".h", ".hpp", ".sh", ".ps1", ".lua", ".r", ".jl", ".dart"}
)  # fmt: skip
"""Code may be long (generated clients, bundles): read up to ``CODE_CAP``."""
CONFIG_SUFFIXES = frozenset(
    {".yaml", ".yml", ".json", ".jsonc", ".json5", ".toml", ".ini", ".cfg", ".conf", ".properties", ".xml", ".env",
     ".tf", ".tfvars", ".hcl", ".nix", ".dhall", ".service", ".plist", ".gradle", ".lock", ".jsonl", ".ndjson"}
)  # fmt: skip
CONFIG_NAMES_ANYWHERE = frozenset({"dockerfile", "containerfile", "modelfile", "caddyfile", "makefile", "procfile"})
BINARY_SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".ico", ".webp", ".tif", ".tiff", ".psd", ".svgz", ".heic", ".avif",
     ".mp3", ".mp4", ".m4a", ".wav", ".ogg", ".flac", ".aac", ".avi", ".mkv", ".mov", ".webm", ".wmv",
     ".zip", ".gz", ".tgz", ".bz2", ".xz", ".zst", ".lz4", ".7z", ".rar", ".tar", ".jar", ".war", ".whl", ".egg",
     ".deb", ".rpm", ".apk", ".dmg", ".iso", ".img", ".qcow2", ".vmdk", ".squashfs", ".snap",
     ".so", ".o", ".a", ".dll", ".exe", ".dylib", ".lib", ".pyc", ".pyo", ".pyd", ".class", ".wasm", ".node",
     ".ttf", ".otf", ".woff", ".woff2", ".eot", ".pdf", ".doc", ".docx", ".xls", ".xlsx", ".ppt", ".pptx", ".odt",
     ".db", ".sqlite", ".sqlite3", ".mdb", ".gguf", ".ggml", ".safetensors", ".pt", ".pth", ".ckpt", ".bin",
     ".onnx", ".h5", ".hdf5", ".tflite", ".keras", ".mlmodel", ".npy", ".npz", ".pkl", ".pickle", ".parquet",
     ".arrow", ".feather", ".pack", ".idx", ".sig", ".gpg", ".der", ".p12", ".pfx", ".jks", ".ipynb_checkpoints"}
)  # fmt: skip
SKIP_DIRS = PACKAGE_DIRS | {
    ".git", ".hg", ".svn", "__pycache__", ".cache", "cache", "caches", "Cache", ".tox", ".mypy_cache", ".pytest_cache",
}  # fmt: skip
"""Version control, and caches: what a program downloaded or derived (a model price list, a catalogue)."""
_KEPT_UNDER_SKIPPED = ("/.git/hooks/",)
"""Scripts people write inside a skipped folder (a commit hook that asks a model for a message)."""
_INSTALLED = LazyPattern(
    r"/\.[\w.-]+/extensions/|/Extensions/|/resources/app(?:\.asar\.unpacked)?/|\.app/(?:Contents|Wrapper)/|"
    r"/(?:\.thunderbird|\.icedove|ImapMail|Maildir|\.maildir)/"
)
"""Editor and browser extensions, Electron applications and macOS app bundles (installed software,
inventoried as such), and mail stores (messages people received)."""
_MAILDIR_MESSAGE = LazyPattern(r"/(?:cur|new|tmp)/\d{9,}\.[^/]+$")
"""A message of a Maildir (``cur/1700000000.M1P2.host:2,S``), wherever the mail folder is."""
TOOLCHAIN_DIRS = (
    "/.cargo/registry/", "/.cargo/git/", "/.rustup/", "/.m2/repository/", "/.gradle/caches/", "/.gradle/wrapper/",
    "/.npm/", "/.nvm/", "/.pyenv/versions/", "/go/pkg/mod/", "/.local/share/pnpm/", "/.yarn/cache/", "/.bun/install/",
)  # fmt: skip
"""Installed toolchains and their package caches: code that came from a registry, not code people wrote."""
SYSTEM_PREFIXES = ("/usr/", "/lib/", "/lib32/", "/lib64/", "/bin/", "/sbin/", "/boot/", "/snap/", "/var/lib/")
"""Code that came with the operating system, not code people wrote."""
WINDOWS_SYSTEM_PREFIXES = (
    "/windows/", "/program files/", "/program files (x86)/", "/programdata/microsoft/", "/$recycle.bin/",
    "/system volume information/", "/recovery/",
)  # fmt: skip
"""Windows's own trees and installed programs (on a live machine or a disk image, in any case): installed
software, not code people wrote; its settings places are read by their own readers."""
ADMIN_PREFIXES = ("/usr/local/bin/", "/usr/local/sbin/", "/usr/local/etc/")
"""Inside ``/usr``, where administrators put their own scripts and settings."""
_INTERPRETER_LIB = LazyPattern(r"/lib(?:64)?/python\d+\.\d+/")
"""A Python installation's standard library (pyenv, conda, venvs): installed, not written."""
_URL = LazyPattern(r"(?:https?|wss?)://[^\s\"'`<>)\]\\,}|;]+", re.IGNORECASE)
_BASE_ARG = LazyPattern(
    r"(?:base_url|api_base|baseURL|apiBase|baseUrl|base-url|api-base|openai_api_base|BASE_URL|API_BASE)"
    r"[\"']?\s*[:=]\s*[\"'`]?$",
)
_JSON_LITERAL = LazyPattern(r'^\s*"((?:[^"\\]|\\.)*)",?\s*$')
"""A notebook line holding one JSON string (a line of a cell's ``source`` as nbformat writes it)."""
MODEL_METADATA = frozenset(
    {"config.json", "adapter_config.json", "tokenizer_config.json", "generation_config.json", "preprocessor_config.json",
     "special_tokens_map.json", "tokenizer.json", "processor_config.json", "chat_template.json", "mergekit_config.yml",
     "mergekit_config.yaml"}
)  # fmt: skip
"""The metadata files of a model folder: the model inventory reads them for lineage and identity."""
_MODEL_KEYS = LazyPattern(
    rb'"(?:model_type|architectures|peft_type|base_model_name_or_path|tokenizer_class|added_tokens_decoder|'
    rb'added_tokens|normalizer)"\s*:|^(?:models|slices|merge_method|base_model):',
    re.MULTILINE,
)
_JUDGED_AS_MODELS = frozenset({"model", "lineage", "provider", "section"})
"""What a model's metadata names about the model: the model inventory judges it, with its lineage. An
endpoint, a key variable or an SDK written into the same file is still read here."""
HISTORY_NAMES = frozenset(
    {".bash_history", ".zsh_history", ".zhistory", ".sh_history", ".ksh_history", ".history", "fish_history",
     "ConsoleHost_history.txt"}
)  # fmt: skip
"""Shell histories: bash, zsh, ksh, fish and PowerShell's PSReadLine, read as the commands someone ran."""
_LABELS = {
    "variable": "provider variable",
    "sdk": "SDK name",
    "model": "model id",
    "host": "API host",
    "provider": "provider name",
    "lineage": "model or dataset name",
    "package": "package name",
    "section": "settings block named after the provider",
    "key": "key written with the provider's name",
}


def code_cells_only(text: str) -> str:
    """A notebook's text with every line that is not code-cell source blanked (line numbers kept):
    Markdown cells are prose and outputs are what a run printed, not what the notebook calls. A notebook
    written on one line (minified) is read as its code cells' source, one line per source line."""
    try:
        notebook = json.loads(text)
        cells = notebook.get("cells") if isinstance(notebook, dict) else None
    except (ValueError, RecursionError):
        return text  # not JSON: read it as it is
    if not isinstance(cells, list):
        return text
    lines = text.split("\n")
    kept = [""] * len(lines)
    by_literal: dict[str, list[int]] = {}  # each line's JSON string literal -> its line numbers, in order
    for number, line in enumerate(lines):
        literal = _JSON_LITERAL.match(line)
        if literal:
            by_literal.setdefault(literal.group(1), []).append(number)
    cursor, unplaced = 0, []
    for cell in cells:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        for piece in [source] if isinstance(source, str) else [p for p in source if isinstance(p, str)]:
            if not piece.strip():
                continue
            forms = {json.dumps(piece)[1:-1], json.dumps(piece, ensure_ascii=False)[1:-1]}
            places = [_first_at_or_after(by_literal.get(f, []), cursor) for f in forms]
            found = min((n for n in places if n is not None), default=None)
            if found is None:
                unplaced.append(piece)
            else:
                kept[found], cursor = lines[found], found
    if unplaced and not any(kept):
        return "".join(unplaced)
    return "\n".join(kept)


def _first_at_or_after(numbers: list[int], cursor: int) -> int | None:
    at = bisect_left(numbers, cursor)
    return numbers[at] if at < len(numbers) else None


def _suffix(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:].lower() if dot > 0 else ""


def written_here(folder: str) -> bool:
    """A folder of code and configuration people wrote on this machine, as opposed to installed or system
    trees: asked once per folder by the walk."""
    path = folder.rstrip("/") + "/"
    if path.startswith(ADMIN_PREFIXES) or any(kept in path for kept in _KEPT_UNDER_SKIPPED):
        return True
    if path.startswith(SYSTEM_PREFIXES) or _INTERPRETER_LIB.search(path) or any(t in path for t in TOOLCHAIN_DIRS):
        return False
    if canonical(path).startswith(WINDOWS_SYSTEM_PREFIXES):
        return False
    return not (SKIP_DIRS & set(path.split("/")) or _INSTALLED.search(path))


class _Rest(Enum):
    """What lies past a file's read cap."""

    NONE = "none"
    CLEAN = "clean"
    """More text, searched: no provider named in it."""
    NAMES = "names"
    UNSEARCHED = "unsearched"
    """More than ``SEARCH_CAP``: the rest was not searched."""
    DECODED = "decoded"
    """Nothing: the whole file was read, and decoded from a binary form whose lines are not the file's."""


_END = 1 << 62


@dataclass(frozen=True)
class _Line:
    """A line that names a provider, with what around it decides use or mention."""

    lines: list[str]
    index: int
    enclosing: str
    block_list: bool
    start: int
    """Where the line starts in the text."""
    blocks: list[tuple[int, int]]
    """The text's block comments and docstrings (``comment_blocks``)."""

    def commented(self, column: int) -> bool:
        """The text at ``column`` is inside a block comment or a docstring."""
        at = self.start + column
        inside = bisect_right(self.blocks, (at, _END)) - 1
        return inside >= 0 and self.blocks[inside][0] <= at < self.blocks[inside][1]


def _status(handle: BinaryIO) -> os.stat_result | None:
    """The open file's status; ``None`` for what stands in for a file (``/dev/null`` behind a masked unit)."""
    try:
        return os.fstat(handle.fileno())
    except (OSError, ValueError):
        return None


def _without_lines(record: Record) -> Record:
    if not isinstance(record, EndpointRecord | ModelRecord):
        return record
    return dataclasses.replace(record, locations=tuple(Location(at.path, None) for at in record.locations))


class TextCollector(Collector):
    """Providers' identities written in any text file outside installed trees, use told from mention."""

    id = TEXT_COLLECTOR
    interest = Interest(every_file_in=written_here)

    def __init__(self, fs: RootFS, options: CollectOptions | None = None) -> None:
        super().__init__(fs, options)
        self._records: list[Record] = []
        self._skipped: list[Skipped] = []

    @cached_property
    def _identities(self) -> Identities:
        """Compiled when the first file is read: 9 ms of regular expressions an audit that meets no text
        file never uses (start-up)."""
        return Identities(self.options.watch)

    @cached_property
    def _looked_for(self) -> str:
        """What this collector looks for, and how: the needles, the whole watch list (what a line records
        depends on all of it: a variable ``DEEPSEEK_GATEWAY_URL`` added by a policy adds no needle past
        ``deepseek``, but a record), its salt (the fingerprints in the records) and the scanner's code
        (its files' digests). Files found quiet, or the records of files read, under another are read again."""
        return memo_kind(self.id, self.options.watch, self._identities.search.needles)

    def visit(self, entry: Entry) -> None:
        name = entry.name
        suffix = _suffix(name)
        if suffix in BINARY_SUFFIXES or is_ignore_list(name) or _MAILDIR_MESSAGE.search(entry.path):
            return  # not text, an ignore list, or a message received
        history = name in HISTORY_NAMES
        if history and not self.options.shell_history:
            return  # the policy (or --no-shell-history) keeps people's histories out of the scan
        page = suffix in (".html", ".htm")
        if not (page or history) and is_prose(name, entry.path):
            return  # prose and data tables: they name things without using them
        cache = self.options.file_cache
        listed = self.fs.listed_status(entry.real_path) if cache else None
        if cache and listed and (cache.quiet(self._looked_for, entry.real_path, listed) or self._known(entry, listed)):
            return  # found quiet, or read, by the last scan, and unchanged since: not even opened
        cap = NOTEBOOK_CAP if suffix == ".ipynb" else CODE_CAP if suffix in CODE_SUFFIXES else TEXT_CAP
        read = self._read(entry, cap, looked_up=listed is not None)
        if read is None:
            return
        data, rest, st = read
        records_before, skipped_before = len(self._records), len(self._skipped)
        if rest is _Rest.UNSEARCHED:
            reason = f"text read only up to {cap >> 20} MiB and searched up to {SEARCH_CAP >> 20} MiB"
            self._skipped.append(Skipped(entry.path, reason, SkipKind.PARTIAL))
        named = self._identities.search.occurs(data) or rest is _Rest.NAMES
        if not named and cache and st and rest is not _Rest.UNSEARCHED:
            cache.found_nothing(self._looked_for, entry.real_path, st)
        content = digest(data) if named else ""
        if not named or content in self.options.own:
            return  # nothing named, or the scanner's own file (a report it wrote, a policy, its tests)
        metadata = name in MODEL_METADATA and bool(_MODEL_KEYS.search(data[: SNIFF_BYTES * 4]))
        text = data.decode("utf-8", "replace")
        if suffix == ".ipynb":
            text, source = code_cells_only(text), EndpointSource.NOTEBOOK
        elif page:
            text, source = script_lines_only(text), EndpointSource.SOURCE_CODE
        elif history:
            source = EndpointSource.SHELL_HISTORY
        else:
            source = self._source_of(name, suffix)
        before = len(self._records)
        used = self._scan(entry, text, source, metadata)
        if rest is _Rest.DECODED:  # a line of the decoded text is no place in the file
            self._records[before:] = [_without_lines(r) for r in self._records[before:]]
        if rest is _Rest.NAMES:
            # past the cap a provider is named: unread, it could be use, unless use was found already
            kind = SkipKind.PARTIAL if used or metadata else SkipKind.UNREADABLE
            reason = f"names a provider past the first {cap >> 20} MiB, which is all that was read of it"
            self._skipped.append(Skipped(entry.path, reason, kind))
        if cache and st:
            found = {
                "path": entry.path,
                "digest": content,
                "records": [[type(r).__name__, plain(r)] for r in self._records[records_before:]],
                "skipped": [plain(s) for s in self._skipped[skipped_before:]],
            }
            cache.put(self._looked_for, entry.real_path, st, found)

    def _known(self, entry: Entry, st: os.stat_result) -> bool:
        """What an earlier scan found in this file, unchanged since, taken again instead of reading it:
        the lines that name providers are what the text scan spends its time on (0.3 s of a re-scan of
        this machine, for 169 files). Not when the file has since become one of the scanner's own."""
        cache = self.options.file_cache
        known = cache.get(self._looked_for, entry.real_path, st) if cache else None
        if not isinstance(known, dict) or known.get("path") != entry.path or known.get("digest") in self.options.own:
            return False
        try:
            records = [rebuilt(_CACHED[kind], record) for kind, record in known["records"]]
            skipped = [rebuilt(Skipped, s) for s in known["skipped"]]
        except (TypeError, ValueError, KeyError):
            return False  # kept by another version of the scanner: read again
        self._records += records
        self._skipped += skipped
        return True

    @staticmethod
    def _source_of(name: str, suffix: str) -> EndpointSource:
        lower = name.lower()
        config = suffix in CONFIG_SUFFIXES or lower in CONFIG_NAMES_ANYWHERE or lower.endswith(".dockerfile")
        return EndpointSource.CONFIG_FILE if config else EndpointSource.SOURCE_CODE

    def _read(
        self, entry: Entry, cap: int, looked_up: bool = False
    ) -> tuple[bytes, _Rest, os.stat_result | None] | None:
        """Up to ``cap`` bytes of a text file, what is past them, and the file's status; ``None`` for a
        binary or unreadable one (the latter listed), or one an earlier scan found nothing in and that is
        unchanged since (``FileCache.quiet``; asked here unless ``looked_up`` says it was asked before the
        open). Past the cap the file is only searched for the names."""
        cache = self.options.file_cache
        try:
            with self.fs.open_regular(entry.real_path) as handle:
                st = _status(handle) if cache else None
                if cache and st and not looked_up and cache.quiet(self._looked_for, entry.real_path, st):
                    return None
                if st and not self.fs.change_shows(st):
                    st = None  # what is learnt from it now is not kept for the next scan
                head = handle.read(SNIFF_BYTES)
                if head.startswith(plists.BINARY_MAGIC):
                    decoded = self._binary_plist(entry, head + handle.read(CODE_CAP))
                    return (*decoded, st) if decoded else None
                if b"\0" in head:
                    if cache and st:
                        cache.found_nothing(self._looked_for, entry.real_path, st)
                    return None
                rest = handle.read(cap - len(head)) if len(head) == SNIFF_BYTES else b""
                data = head + rest
                return data, self._past_cap(handle, data[-64:]) if len(data) == cap else _Rest.NONE, st
        except SpecialFile as error:  # a socket, FIFO or link to nothing among people's files holds no text
            self._skipped.append(Skipped(entry.path, describe_refusal(error), SkipKind.SPECIAL))
            return None
        except (OSError, FileRefused) as error:
            reason = f"text unreadable: {describe_refusal(error)}"
            self._skipped.append(Skipped(entry.path, reason, refusal_kind(error)))
            return None

    def _binary_plist(self, entry: Entry, data: bytes) -> tuple[bytes, _Rest] | None:
        """A binary property list (macOS preferences, launchd jobs) as the XML it stands for."""
        if len(data) > CODE_CAP:
            reason = f"binary property list larger than {CODE_CAP >> 20} MiB, not decoded"
            self._skipped.append(Skipped(entry.path, reason, SkipKind.PARTIAL))
            return None
        try:
            return plists.as_xml(data).encode("utf-8"), _Rest.DECODED
        except plists.PlistTooLarge as error:
            self._skipped.append(Skipped(entry.path, str(error), SkipKind.UNREADABLE))
        except plists.PlistRefused:
            pass  # not a property list the system could read either
        return None

    def _past_cap(self, handle: BinaryIO, tail: bytes) -> _Rest:
        """Whether the rest of a file names a provider: searched in chunks (with the previous chunk's end,
        so a name across two chunks is found) up to ``SEARCH_CAP``."""
        read = 0
        while read < SEARCH_CAP:
            chunk = handle.read(CHUNK)
            if not chunk:
                return _Rest.NONE if read == 0 else _Rest.CLEAN
            if self._identities.search.occurs(tail + chunk):
                return _Rest.NAMES
            read, tail = read + len(chunk), chunk[-64:]
        return _Rest.UNSEARCHED

    def _scan(self, entry: Entry, text: str, source: EndpointSource, metadata: bool) -> bool:
        """Only the lines that hold a needle are looked at: found in one pass over the whole text. Returns
        whether a use was recorded."""
        block_list = is_block_list(entry.name)
        uses: list[Record] = []
        mentions: list[Record] = []
        examined = 0
        lines = text.split("\n")
        starts = list(accumulate((len(line) + 1 for line in lines), initial=0))
        wanted = dict.fromkeys(bisect_right(starts, at) - 1 for at in self._identities.search.offsets(text))
        blocks = comment_blocks(text, entry.name) if wanted else []
        for index in wanted:
            line = _Line(lines, index, enclosing_line(lines, index), block_list, starts[index], blocks)
            for record, mention in self._line(entry, line, source, metadata):
                examined += 1
                if mention:
                    if len(mentions) < MENTIONS_PER_FILE:
                        mentions.append(record)
                elif len(uses) < RECORDS_PER_FILE:
                    uses.append(record)
                if len(uses) == RECORDS_PER_FILE or examined == NAMES_PER_FILE:
                    limit = f"the first {RECORDS_PER_FILE} uses" if uses else f"the first {NAMES_PER_FILE} names"
                    reason = f"only {limit} of provider identities in this file are recorded"
                    # a cut that found use leaves the file judged; one that found only mentions could hide use
                    self._skipped.append(Skipped(entry.path, reason, SkipKind.PARTIAL if uses else SkipKind.UNREADABLE))
                    self._records += uses + mentions
                    return bool(uses)
        self._records += uses + mentions
        return bool(uses)

    def _line(self, entry: Entry, at: _Line, source: EndpointSource, metadata: bool) -> Iterator[tuple[Record, bool]]:
        """Each record the line makes, with whether it is a mention; made one at a time, so a file's
        budget stops the work on a line that names providers endlessly."""
        line, number = at.lines[at.index], at.index + 1
        watch = self.options.watch
        spans: list[tuple[int, int]] = []

        def record(name: str, column: int, **fields: Any) -> tuple[Record, bool]:
            mention = mention_of(line, column, entry.name, at.block_list, at.enclosing, at.commented(column))
            context = mention.words if mention else use_words(line, column)
            where = (Location(entry.path, number),)
            made = EndpointRecord(name, source, where, self.id, context=context, mention=mention is not None, **fields)
            return made, mention is not None

        for match in _URL.finditer(line):
            spans.append((match.start(), match.end()))
            raw = match.group(0).rstrip(".;:")
            host = url_host(raw)
            argument = bool(_BASE_ARG.search(line[max(0, match.start() - WINDOW) : match.start()]))
            if host and (argument or watch.host_is_api(host)):
                url, secret = safe_url(raw, watch)
                label = "base URL argument" if argument else "URL literal"
                yield record(label, match.start(), url=url, host=host, secret=secret)
        for named in self._identities.named(line, spans):
            if metadata and named.kind in _JUDGED_AS_MODELS:
                continue
            label = _LABELS[named.kind]
            secret = watch.fingerprint(named.secret) if named.secret else None
            if named.kind == "variable":
                yield record(label, named.column, variable=named.value, secret=secret)
            elif named.kind in ("sdk", "package"):
                yield record(label, named.column, sdk=named.value, secret=secret)
            elif named.kind == "host":
                yield record(label, named.column, host=named.value, secret=secret)
            elif named.kind == "model":
                yield record(label, named.column, model=named.value, secret=secret)
            elif named.kind == "section":
                if block_configures(at.lines, at.index):  # [deepseek] / "minimax": { ... api_key, command, model
                    yield record(label, named.column, provider_hint=named.value)
            elif named.kind == "lineage" and source is EndpointSource.SHELL_HISTORY:
                yield record(_LABELS["model"], named.column, model=named.value)  # past use, judged as a history
            elif named.kind == "lineage":
                commented = at.commented(named.column)
                if mention_of(line, named.column, entry.name, at.block_list, at.enclosing, commented) is None:
                    yield self._named_model(entry.path, number, named.value), False
            else:
                yield record(label, named.column, provider_hint=named.value, secret=secret)

    def _named_model(self, path: str, line: int, name: str) -> ModelRecord:
        """A model or dataset of a known lineage, named where it is used (served, trained on)."""
        return ModelRecord(
            name=name,
            version=None,
            store=ModelStore.NAMED,
            format="name",
            files=(),
            clues=(Clue("name", name, "named in a file", path),),
            locations=(Location(path, line),),
            found_by=self.id,
        )

    def finish(self) -> CollectorResult:
        return CollectorResult(records=self._records, skipped=self._skipped)
