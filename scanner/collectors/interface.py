"""The collector interface: how a source of facts plugs into the one walk.

A collector declares an ``Interest``, receives matching ``Entry`` objects from the walker, reads
what it needs through ``RootFS`` (bounded, never executing anything) and at the end returns its
records and the paths it could not read. It never judges: that is the policy engine's job.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from abc import ABC, abstractmethod
from collections.abc import Container
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from scanner.collectors.secrets import fingerprint, new_salt
from scanner.fsview import RootFS
from scanner.own import code_identity
from scanner.records import Record, SecretRef, Skipped
from scanner.visitors import Entry, Interest
from scanner.walk import WalkRoot


@dataclass(frozen=True)
class WatchList:
    """What to look for in text: the policy's identities of each provider — hosts, variable names, model
    id patterns, SDK names and the names tools give the provider — as a search list (like ``grep -f``),
    and the salt that keeps the secrets met beside them as fingerprints only. Collectors still only
    report what they found and how it is written; the policy engine judges it."""

    hosts: frozenset[str] = frozenset()
    """Host names and domain suffixes (``api.deepseek.com``, ``deepseek.com``): API and web hosts."""
    variables: frozenset[str] = frozenset()
    """Environment variable names, upper case (``DEEPSEEK_API_KEY``)."""
    api_hosts: frozenset[str] = frozenset()
    """The API endpoint hosts among ``hosts`` (``api.deepseek.com``; not the web site ``deepseek.com``)."""
    model_patterns: tuple[str, ...] = ()
    """Regular expressions (matched case-insensitively) of the providers' model ids, as gateways and
    clouds write them (``deepseek-ai/DeepSeek-R1``, ``us.deepseek.r1-v1:0``, ``moonshotai/kimi-k2``)."""
    sdk_names: frozenset[str] = frozenset()
    """Lower-case identifiers that select a provider's client in code (``chatdeepseek``, ``@ai-sdk/deepseek``)."""
    package_names: frozenset[str] = frozenset()
    """Lower-case names of the providers' packages (``langchain-deepseek``, ``@deepseek-ai/dsh``): a command
    or a dependency list that names one installs or runs it (``uvx minimax-mcp``, ``npx @deepseek-ai/dsh``)."""
    lineage_names: frozenset[str] = frozenset()
    """Lower-case names of the models and datasets the policy knows to carry a provider's lineage
    (``open-r1/mixture-of-thoughts``, ``open-thoughts/openthinker-7b``): named in a recipe, they are used."""
    dataset_names: frozenset[str] = frozenset()
    """The datasets among them: a dataset's name is training data wherever it is written, never an endpoint."""
    aliases: frozenset[str] = frozenset()
    """Lower-case provider ids and the names tools give them (``deepseek``, ``moonshotai``, ``minimax-cn``)."""
    secret_salt: bytes = field(default_factory=new_salt, repr=False)
    """This installation's salt (kept in the store); without a store, a fresh one for this scan."""

    def fingerprint(self, secret: str) -> SecretRef:
        return fingerprint(secret, self.secret_salt)

    def host_is_watched(self, host: str) -> bool:
        return _under(host, self.hosts)

    def host_is_api(self, host: str) -> bool:
        """An API host: a URL to it in code is a call, not a link to a web page."""
        return _under(host, self.api_hosts)


def _under(host: str, suffixes: frozenset[str]) -> bool:
    labels = host.lower().rstrip(".").split(".")
    return any(".".join(labels[i:]) in suffixes for i in range(len(labels)))


def memo_kind(collector: str, watch: WatchList | None = None, *how: object) -> str:
    """The kind a collector keeps what it learnt of a file under (``FileCache``): what it looks for and how,
    that is the whole watch list where what a file yields depends on it (all of it: a variable a policy adds
    is a record, not a needle), ``how`` (its own search) and the scanner's build (its files' digests). What
    was kept under another kind is read again."""
    fields = (getattr(watch, f.name) for f in dataclasses.fields(watch)) if watch is not None else ()
    identities = [sorted(value) if isinstance(value, frozenset) else value for value in fields]
    looked_for = repr((how, identities, code_identity()))
    return f"{collector} {hashlib.sha256(looked_for.encode()).hexdigest()[:32]}"


class FileCache(Protocol):
    """Facts learnt from a file in an earlier scan, valid while its device, inode, size, mtime and ctime
    are unchanged (the store keeps them; ``--no-store`` scans have none). ``path`` is where the file lies
    on this machine, so that an entry for a file that is gone can be dropped."""

    def get(self, kind: str, path: str, st: os.stat_result) -> Any | None: ...

    def put(self, kind: str, path: str, st: os.stat_result, data: Any) -> None: ...

    def quiet(self, kind: str, path: str, st: os.stat_result) -> bool:
        """Whether an earlier scan found nothing in this file (``kind`` names what was looked for, and
        how: a change of either is another kind), and the file is unchanged since."""

    def found_nothing(self, kind: str, path: str, st: os.stat_result) -> None:
        """Remember that this scan found nothing in this file, for ``quiet`` in the next one."""


@dataclass(frozen=True)
class CollectOptions:
    """Choices that change what collectors read (every one has an ``audit`` option)."""

    hash_weights: bool = False
    """``--hash``: sha256 every weight file whose digest is not known from its name (reads whole files)."""
    watch: WatchList = field(default_factory=WatchList)
    """Built from the policy: the hosts and variables the endpoint collectors search for."""
    dns_logs: tuple[str, ...] = ()
    """``--dns-log``: DNS query logs to read (dnsmasq, BIND query log, Zeek ``dns.log``)."""
    proxy_logs: tuple[str, ...] = ()
    """``--proxy-log``: proxy access logs to read (squid)."""
    resolve: bool = False
    """``--resolve``: resolve the watched hosts and look for live connections to them (uses DNS)."""
    whole_machine: bool = False
    """A scan of the live machine as a whole (no paths given): running processes are in scope too."""
    file_cache: FileCache | None = None
    """Per-file facts from earlier scans, so that unchanged model headers are not parsed again."""
    own: Container[str] = frozenset()
    """Digests of the scanner's own files (``scanner.own``): what it shipped, wrote or was given."""
    browser_history: bool = True
    """Read browsers' histories for visits to the watched hosts (the policy's ``collect``, ``--no-browser-history``)."""
    shell_history: bool = True
    """Read shell histories (the policy's ``collect``, ``--no-shell-history``)."""


@dataclass
class CollectorResult:
    records: list[Record] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


class Collector(ABC):
    """One source of inventory records."""

    id: ClassVar[str]
    """Kebab-case id shown in records' ``found_by`` (``python-package-collector``)."""
    interest: ClassVar[Interest]

    def __init__(self, fs: RootFS, options: CollectOptions | None = None) -> None:
        self.fs = fs
        self.options = options or CollectOptions()

    def extra_roots(self) -> list[WalkRoot]:
        """Places this collector knows to look beyond the scan roots (only for live scans)."""
        return []

    @abstractmethod
    def visit(self, entry: Entry) -> None:
        """Handle one entry the walker matched against ``interest``."""

    @abstractmethod
    def finish(self) -> CollectorResult:
        """All records found, once the walk is over."""
