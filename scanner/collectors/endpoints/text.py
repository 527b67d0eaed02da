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
lists (``.gitignore``), and the scanner's own policies and reports, which name the providers because
they look for them. Settings files and ``KEY=value`` files are read here too, for what their structured
readers do not recognise; where a structured reader recorded the same thing in the same file, its record
is kept and this one dropped (``merge.py``).
"""

from __future__ import annotations

import json
import re
from bisect import bisect_right
from itertools import accumulate
from typing import Any

from scanner.collectors.endpoints.base import PACKAGE_DIRS
from scanner.collectors.endpoints.context import (
    block_configures,
    enclosing_line,
    is_block_list,
    is_ignore_list,
    is_prose,
    mention_of,
    use_words,
)
from scanner.collectors.endpoints.identities import Identities
from scanner.collectors.endpoints.merge import TEXT_COLLECTOR
from scanner.collectors.endpoints.settings import safe_url
from scanner.collectors.interface import CollectOptions, Collector, CollectorResult
from scanner.fsview import FileRefused, RootFS, SpecialFile, describe_refusal
from scanner.records import Clue, EndpointRecord, Location, ModelRecord, Record, Skipped
from scanner.urls import url_host
from scanner.vocabulary import EndpointSource, ModelStore, SkipKind
from scanner.walk import Entry, Interest

TEXT_CAP = 1 << 20
CODE_CAP = 4 << 20
NOTEBOOK_CAP = 32 << 20
"""Notebooks carry their outputs (images, tables): the code cells may come after megabytes of them."""
SNIFF_BYTES = 4096
"""A text file has no NUL byte in its first block; a binary one nearly always has one."""
RECORDS_PER_FILE = 200
"""A real file names a provider a few dozen times at most; more is data (a log, a dump) or an attack."""
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
SKIP_DIRS = PACKAGE_DIRS | {".git", ".hg", ".svn", "__pycache__", ".cache", ".tox", ".mypy_cache", ".pytest_cache"}
TOOLCHAIN_DIRS = (
    "/.cargo/registry/", "/.cargo/git/", "/.rustup/", "/.m2/repository/", "/.gradle/caches/", "/.gradle/wrapper/",
    "/.npm/", "/.nvm/", "/.pyenv/versions/", "/go/pkg/mod/", "/.local/share/pnpm/", "/.yarn/cache/", "/.bun/install/",
)  # fmt: skip
"""Installed toolchains and their package caches: code that came from a registry, not code people wrote."""
SYSTEM_PREFIXES = ("/usr/", "/lib/", "/lib32/", "/lib64/", "/bin/", "/sbin/", "/boot/", "/snap/", "/var/lib/")
"""Code that came with the operating system, not code people wrote."""
_INTERPRETER_LIB = re.compile(r"/lib(?:64)?/python\d+\.\d+/")
"""A Python installation's standard library (pyenv, conda, venvs): installed, not written."""
_URL = re.compile(r"(?:https?|wss?)://[^\s\"'`<>)\]\\,}|;]+", re.IGNORECASE)
_BASE_ARG = re.compile(
    r"(?:base_url|api_base|baseURL|apiBase|baseUrl|base-url|api-base|openai_api_base|BASE_URL|API_BASE)"
    r"[\"']?\s*[:=]\s*[\"'`]?$",
)
_SCHEMA_LINE = re.compile(rb"^schema_version:", re.MULTILINE)
_PROVIDERS_LINE = re.compile(rb"^providers:", re.MULTILINE)
_JSON_LITERAL = re.compile(r'^\s*"((?:[^"\\]|\\.)*)",?\s*$')
"""A notebook line holding one JSON string (a line of a cell's ``source`` as nbformat writes it)."""
_REPORT_FILE = re.compile(rb'^\s*\{\s*"schema_version"\s*:\s*"[\d.]+"\s*,\s*"scan"\s*:')
MODEL_METADATA = frozenset(
    {"config.json", "adapter_config.json", "tokenizer_config.json", "generation_config.json", "preprocessor_config.json",
     "special_tokens_map.json", "tokenizer.json", "processor_config.json", "chat_template.json", "mergekit_config.yml",
     "mergekit_config.yaml"}
)  # fmt: skip
"""The metadata files of a model folder: the model inventory reads them for lineage and identity."""
_ALWAYS_MODEL_METADATA = frozenset({"tokenizer.json", "mergekit_config.yml", "mergekit_config.yaml"})
_MODEL_KEYS = re.compile(
    rb'"(?:model_type|architectures|peft_type|base_model_name_or_path|tokenizer_class|added_tokens_decoder)"\s*:'
)
_LABELS = {
    "variable": "provider variable",
    "sdk": "SDK name",
    "model": "model id",
    "host": "API host",
    "provider": "provider name",
    "lineage": "model or dataset name",
    "package": "package name",
    "section": "settings block named after the provider",
}


def scanners_own(name: str, data: bytes) -> bool:
    """A policy or a report of this scanner: it names banned hosts because it looks for them."""
    if name.endswith(".json"):
        return bool(_REPORT_FILE.match(data[:256]))
    if not name.endswith((".yaml", ".yml")):
        return False
    schema = _SCHEMA_LINE.search(data)  # two plain searches: one ".*" between them backtracks quadratically
    return schema is not None and _PROVIDERS_LINE.search(data, schema.end()) is not None


def code_cells_only(text: str) -> str:
    """A notebook's text with every line that is not code-cell source blanked (line numbers kept):
    Markdown cells are prose and outputs are what a run printed, not what the notebook calls."""
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
    cursor = 0
    for cell in cells:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        for piece in [source] if isinstance(source, str) else [p for p in source if isinstance(p, str)]:
            if not piece.strip():
                continue
            forms = {json.dumps(piece)[1:-1], json.dumps(piece, ensure_ascii=False)[1:-1]}
            places = [n for f in forms for n in by_literal.get(f, ()) if n >= cursor]
            if places:
                found = min(places)
                kept[found], cursor = lines[found], found
    return "\n".join(kept)


def _suffix(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:].lower() if dot > 0 else ""


def written_here(folder: str) -> bool:
    """A folder of code and configuration people wrote on this machine, as opposed to installed or system
    trees: asked once per folder by the walk."""
    path = folder.rstrip("/") + "/"
    if path.startswith(SYSTEM_PREFIXES) or _INTERPRETER_LIB.search(path) or any(t in path for t in TOOLCHAIN_DIRS):
        return False
    return not SKIP_DIRS & set(path.split("/"))


class TextCollector(Collector):
    """Providers' identities written in any text file outside installed trees, use told from mention."""

    id = TEXT_COLLECTOR
    interest = Interest(every_file_in=written_here)

    def __init__(self, fs: RootFS, options: CollectOptions | None = None) -> None:
        super().__init__(fs, options)
        self._records: list[Record] = []
        self._skipped: list[Skipped] = []
        self._identities = Identities(self.options.watch)

    def visit(self, entry: Entry) -> None:
        name = entry.name
        suffix = _suffix(name)
        if suffix in BINARY_SUFFIXES or is_prose(name) or is_ignore_list(name):
            return  # not text, or prose and ignore lists: they name things without using them
        cap = NOTEBOOK_CAP if suffix == ".ipynb" else CODE_CAP if suffix in CODE_SUFFIXES else TEXT_CAP
        data = self._read(entry, cap)
        if data is None or not self._identities.search.occurs(data) or scanners_own(name, data):
            return
        if name in MODEL_METADATA and (name == "tokenizer.json" or _MODEL_KEYS.search(data[: SNIFF_BYTES * 4])):
            return  # a model's own metadata: the model inventory's to judge, with its lineage
        text = data.decode("utf-8", "replace")
        if suffix == ".ipynb":
            self._scan(entry, code_cells_only(text), EndpointSource.NOTEBOOK)
        else:
            self._scan(entry, text, self._source_of(name, suffix))

    @staticmethod
    def _source_of(name: str, suffix: str) -> EndpointSource:
        lower = name.lower()
        config = suffix in CONFIG_SUFFIXES or lower in CONFIG_NAMES_ANYWHERE or lower.endswith(".dockerfile")
        return EndpointSource.CONFIG_FILE if config else EndpointSource.SOURCE_CODE

    def _read(self, entry: Entry, cap: int) -> bytes | None:
        """Up to ``cap`` bytes of a text file; ``None`` for a binary or unreadable one (the latter listed)."""
        try:
            with self.fs.open_regular(entry.real_path) as handle:
                head = handle.read(SNIFF_BYTES)
                if b"\0" in head:
                    return None
                rest = handle.read(cap - len(head) + 1) if len(head) == SNIFF_BYTES else b""
        except SpecialFile as error:  # a socket or FIFO among people's files holds no text at rest
            self._skipped.append(Skipped(entry.path, describe_refusal(error), SkipKind.SPECIAL))
            return None
        except (OSError, FileRefused) as error:
            reason = f"text unreadable: {describe_refusal(error)}"
            self._skipped.append(Skipped(entry.path, reason, SkipKind.UNREADABLE))
            return None
        data = head + rest
        if len(data) > cap:  # a size we chose not to exceed: listed, but the scan is not incomplete for it
            self._skipped.append(Skipped(entry.path, f"text read only up to {cap >> 20} MiB", SkipKind.PARTIAL))
            data = data[:cap]
        return data

    def _scan(self, entry: Entry, text: str, source: EndpointSource) -> None:
        """Only the lines that hold a needle are looked at: found in one pass over the whole text."""
        block_list = is_block_list(entry.name)
        found: list[Record] = []
        lines = text.split("\n")
        starts = list(accumulate((len(line) + 1 for line in lines), initial=0))
        wanted = dict.fromkeys(bisect_right(starts, at) - 1 for at in self._identities.search.offsets(text))
        for index in wanted:
            for record in self._line(entry, lines, index, source, block_list, enclosing_line(lines, index)):
                if len(found) == RECORDS_PER_FILE:
                    reason = f"only the first {RECORDS_PER_FILE} provider identities in this file are recorded"
                    self._skipped.append(Skipped(entry.path, reason, SkipKind.PARTIAL))
                    self._records += found
                    return
                found.append(record)
        self._records += found

    def _line(
        self, entry: Entry, lines: list[str], index: int, source: EndpointSource, block_list: bool, enclosing: str
    ) -> list[Record]:
        line, number = lines[index], index + 1
        watch = self.options.watch
        records: list[Record] = []
        spans: list[tuple[int, int]] = []

        def record(name: str, column: int, **fields: Any) -> None:
            mention = mention_of(line, column, entry.name, block_list, enclosing)
            context = mention.words if mention else use_words(line, column)
            where = (Location(entry.path, number),)
            records.append(
                EndpointRecord(name, source, where, self.id, context=context, mention=mention is not None, **fields)
            )

        for match in _URL.finditer(line):
            spans.append((match.start(), match.end()))
            raw = match.group(0).rstrip(".;:")
            host = url_host(raw)
            argument = bool(_BASE_ARG.search(line[: match.start()]))
            if host and (argument or watch.host_is_api(host)):
                url, secret = safe_url(raw, watch)
                record(
                    "base URL argument" if argument else "URL literal", match.start(), url=url, host=host, secret=secret
                )
        for named in self._identities.named(line, spans):
            label = _LABELS[named.kind]
            if named.kind == "variable":
                record(label, named.column, variable=named.value)
            elif named.kind in ("sdk", "package"):
                record(label, named.column, sdk=named.value)
            elif named.kind == "host":
                record(label, named.column, host=named.value)
            elif named.kind == "model":
                record(label, named.column, model=named.value)
            elif named.kind == "section":
                if block_configures(lines, index):  # [deepseek] / "minimax": { ... api_key, command, model
                    record(label, named.column, provider_hint=named.value)
            elif named.kind == "lineage":
                if mention_of(line, named.column, entry.name, block_list, enclosing) is None:
                    records.append(self._named_model(entry.path, number, named.value))
            else:
                record(label, named.column, provider_hint=named.value)
        return records

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
