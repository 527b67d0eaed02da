"""URLs of AI endpoints in code and notebooks people wrote, with file and line.

Installed packages (``site-packages``, ``dist-packages``, ``node_modules``) are library code that
merely supports a provider and are covered by the package inventory, so they are not read at all;
nor are the operating system's own trees (``/usr``, ``/lib``...), Python standard libraries,
caches, or anything under ``.git``. Each other file is read once (at most 1 MiB) and checked at C speed
for the watched hosts and for base-URL keywords before any line is looked at: most files cost one
``re.search``. A URL literal is kept when its host is watched; a base-URL argument
(``base_url=``, ``baseURL:``, ``api_base=``...) is kept whatever its host, as an AI client setting.
"""

from __future__ import annotations

import re

from scanner.collectors.endpoints.base import PACKAGE_DIRS
from scanner.collectors.endpoints.toolconfigs import NAMES as CONFIG_NAMES
from scanner.collectors.interface import CollectOptions, Collector, CollectorResult, WatchList
from scanner.fsview import FileRefused, RootFS
from scanner.policy.hosts import url_host
from scanner.records import EndpointRecord, EndpointSource, Location, Record
from scanner.walk import Entry, Interest

SOURCE_CAP = 1 << 20
SUFFIXES = frozenset(
    {".py", ".ipynb", ".js", ".mjs", ".cjs", ".ts", ".tsx", ".go", ".java", ".sh", ".yaml", ".yml", ".json", ".toml"}
)
SKIP_DIRS = PACKAGE_DIRS | {".git", ".hg", ".svn", "__pycache__", ".cache"}
SYSTEM_PREFIXES = ("/usr/", "/lib/", "/lib32/", "/lib64/", "/bin/", "/sbin/", "/boot/", "/snap/", "/var/lib/")
"""Code that came with the operating system, not code people wrote."""
_INTERPRETER_LIB = re.compile(r"/lib(?:64)?/python\d")
"""A Python installation's standard library (pyenv, conda, venvs): installed, not written."""
_URL = re.compile(r"(?:https?|wss?)://[^\s\"'`<>)\]\\,}]+", re.IGNORECASE)
_BASE_ARG = re.compile(
    r"(?:base_url|api_base|baseURL|apiBase|baseUrl|base-url|api-base|openai_api_base|BASE_URL|API_BASE)"
    r"[\"']?\s*[:=]\s*[\"'`]((?:https?|wss?)://[^\"'`\s]+)",
)
_KEYWORDS = rb"base_url|api_base|baseURL|apiBase|baseUrl|base-url|api-base|BASE_URL|API_BASE"


def _prefilter(watch: WatchList) -> re.Pattern[bytes]:
    hosts = sorted(watch.hosts, key=len, reverse=True)
    return re.compile(b"|".join([_KEYWORDS, *(re.escape(h.encode()) for h in hosts)]), re.IGNORECASE)


class SourceCodeCollector(Collector):
    """Endpoint URLs in source files and notebooks outside installed packages."""

    id = "source-code-collector"
    interest = Interest(file_suffixes=SUFFIXES)

    def __init__(self, fs: RootFS, options: CollectOptions | None = None) -> None:
        super().__init__(fs, options)
        self._records: list[Record] = []
        self._prefilter = _prefilter(self.options.watch)

    def visit(self, entry: Entry) -> None:
        path = entry.path
        if entry.name in CONFIG_NAMES:
            return  # read as structured settings by the tool-config collector
        if path.startswith(SYSTEM_PREFIXES) or _INTERPRETER_LIB.search(path) or SKIP_DIRS & set(path.split("/")):
            return
        try:
            data, _ = self.fs.read_bytes(entry.real_path, SOURCE_CAP)
        except (OSError, FileRefused):
            return  # not our file to worry about: unreadable source is no coverage gap of a compliance scan
        if b"\0" in data[:1024] or not self._prefilter.search(data):
            return
        text = data.decode("utf-8", "replace")
        source: EndpointSource = "notebook" if entry.name.endswith(".ipynb") else "source-code"
        for number, line in enumerate(text.splitlines(), start=1):
            self._records += self._line(entry.path, number, line, source)

    def _line(self, path: str, number: int, line: str, source: EndpointSource) -> list[EndpointRecord]:
        found: list[EndpointRecord] = []
        arguments = {m.group(1) for m in _BASE_ARG.finditer(line)}
        for match in _URL.finditer(line):
            url = match.group(0).rstrip(".;")
            host = url_host(url)
            if not host or (url not in arguments and not self.options.watch.host_is_watched(host)):
                continue
            name = "base URL argument" if url in arguments else "URL literal"
            found.append(
                EndpointRecord(
                    name=name, source=source, locations=(Location(path, number),), found_by=self.id, url=url, host=host
                )
            )
        return found

    def finish(self) -> CollectorResult:
        return CollectorResult(records=self._records)
