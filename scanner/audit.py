"""One scan, end to end: walk -> collect -> identify -> judge, returning a ``ScanResult`` for the reporters.

This is the library entry point the CLI calls; nothing here prints or exits (it logs to the ``scanner``
logger, which ``-v`` shows).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from scanner import __version__
from scanner.changes import compare
from scanner.collectors.endpoints.merge import prefer_structured
from scanner.collectors.interface import CollectOptions, FileCache, WatchList
from scanner.collectors.registry import COLLECTORS
from scanner.drives import choose_drives, windows_drives
from scanner.errors import StoreError, UsageError
from scanner.findings import Finding
from scanner.fsview import FileRefused, RootFS, describe_refusal
from scanner.lineage.graph import identify
from scanner.listings import Listings
from scanner.own import OwnDigests
from scanner.platforms import windows
from scanner.policy.engine import evaluate
from scanner.policy.schema import Policy
from scanner.policy.waivers import apply_waivers
from scanner.printable import encodable
from scanner.records import Record, Skipped
from scanner.report import Report, report_dict, utc_now
from scanner.result import CitedSource, Resources, ScanInfo, ScanResult, summarize
from scanner.vocabulary import SkipKind
from scanner.walk import ProgressCallback, Walker, WalkOptions, WalkRoot

if TYPE_CHECKING:  # a store is opened, with sqlite3, by the runs that keep one; never by --no-store
    from scanner.store.database import Store


@dataclass(frozen=True)
class AuditOptions:
    """What to scan and how; every field has a CLI option of the same meaning."""

    paths: tuple[str, ...] = ()
    """Paths to scan (inside ``root`` when it is given); empty means the whole machine."""
    root: str | None = None
    """A directory standing in for the machine's ``/`` (disk image, container filesystem)."""
    excludes: tuple[str, ...] = ()
    include_fstypes: frozenset[str] = frozenset()
    one_file_system: bool = False
    max_memory: int | None = None
    """``--max-memory``: bytes past which the walk stops, leaving the rest as a gap (``None``: no cap)."""
    hash_weights: bool = False
    """Hash weight files whose digest their name does not give (``--hash``)."""
    online: bool = False
    """Follow ``base_model`` chains on the Hugging Face Hub (``--online``); off means no network use."""
    dns_logs: tuple[str, ...] = ()
    """DNS query logs to read (``--dns-log``)."""
    proxy_logs: tuple[str, ...] = ()
    """Proxy access logs to read (``--proxy-log``)."""
    resolve: bool = False
    """Resolve the policy's hosts and report live connections to them (``--resolve``; uses DNS)."""
    tags: tuple[tuple[str, str], ...] = ()
    """Labels for the fleet views (``--tag department=finance``), carried in the report's ``agent`` section."""
    secret_salt: bytes | None = None
    """The installation's salt for fingerprinting secrets (from the store); ``None``: a fresh one for this scan."""
    own: frozenset[str] = frozenset()
    """Digests of files the scanner wrote or was given before (from the store) and of the waiver files of
    this run; the project's own files and this run's policy files are added by ``run_audit``."""
    browser_history: bool = True
    """``--no-browser-history`` turns it off for this run; the policy's ``collect`` can too."""
    shell_history: bool = True
    """``--no-shell-history`` turns it off for this run; the policy's ``collect`` can too."""
    policy_gaps: tuple[Skipped, ...] = ()
    """What makes the policy itself uncertain, listed with the coverage's gaps: with ``--policy-key``, the
    collector's bundle could not be used and an older verified one judges instead (it may be outdated)."""


def _machine_roots(fs: RootFS, include_fstypes: frozenset[str]) -> tuple[tuple[str, ...], list[Skipped]]:
    """What "the whole machine" is: ``/``, or on a live Windows machine each of its fixed drives."""
    if fs.is_live and windows():
        drives, skipped = choose_drives(windows_drives(), include_fstypes)
        return tuple(drives), skipped
    return (os.sep,), []


def _roots(fs: RootFS, paths: tuple[str, ...]) -> list[WalkRoot]:
    """Scan roots as real paths, resolved like the scanned machine would; nested roots are dropped."""
    reals = []
    for display in paths:
        inside = os.path.abspath(display) if fs.is_live else os.path.normpath(os.sep + display.lstrip(os.sep))
        try:
            real = fs.resolve(fs.to_real(inside))
            os.stat(real)
        except (OSError, FileRefused) as error:
            raise UsageError(f"{display}: {describe_refusal(error)}") from error
        reals.append(real)
    kept = [r for r in reals if not any(o != r and r.startswith(o.rstrip(os.sep) + os.sep) for o in reals)]
    return [WalkRoot(r) for r in dict.fromkeys(kept)]


def watch_list(policy: Policy, secret_salt: bytes | None = None) -> WatchList:
    """The policy's identities of every provider, as the search list the endpoint collectors use."""
    providers = list(policy.providers.values())
    api_hosts = frozenset(e.host.lower() for p in providers for e in p.endpoints)
    models = {f.name.lower() for p in providers for f in p.ollama_names}
    watch = WatchList(
        hosts=api_hosts | {h.host.lower() for p in providers for h in p.web_hosts},
        variables=frozenset(v.name.upper() for p in providers for v in p.env_vars),
        api_hosts=api_hosts,
        model_patterns=tuple(dict.fromkeys(f.pattern for p in providers for f in p.model_patterns)),
        sdk_names=frozenset(f.name.lower() for p in providers for f in p.sdk_names),
        # A package named like a model (PyPI's `deepseek-r1`) is, in text, the Ollama model far more often.
        package_names=frozenset(f.name.lower() for p in providers for f in p.packages) - models,
        aliases=frozenset(a.lower() for p in providers for a in (p.id, *(f.name for f in p.aliases))),
        lineage_names=frozenset(n.lower() for lineage in policy.lineages for n in lineage.names if " " not in n),
        dataset_names=frozenset(
            n.lower() for lineage in policy.lineages if lineage.kind == "dataset" for n in lineage.names if " " not in n
        ),
    )
    return watch if secret_salt is None else dataclasses.replace(watch, secret_salt=secret_salt)


PhaseCallback = Callable[[str], None]
"""Told the name of each phase after the walk ("judging"), so a progress line never freezes on a path."""
log = logging.getLogger("scanner")


def run_audit(
    options: AuditOptions,
    policy: Policy,
    progress: ProgressCallback | None = None,
    file_cache: FileCache | None = None,
    phase: PhaseCallback | None = None,
    listings: Listings | None = None,
) -> ScanResult:
    """Scan, collect and judge. Raises ``UsageError`` for a root or path that does not exist."""
    started = utc_now()
    clock = _Phases(phase)
    if options.root is not None and not os.path.isdir(options.root):
        raise UsageError(f"--root {options.root}: not a directory")
    if options.root is not None and options.resolve:
        raise UsageError("--resolve looks at this machine's live connections; it cannot be used with --root")
    fs = RootFS(options.root)
    machine, chosen_skips = _machine_roots(fs, options.include_fstypes) if not options.paths else ((), [])
    roots = _roots(fs, options.paths or machine)
    collect_options = CollectOptions(
        hash_weights=options.hash_weights,
        watch=watch_list(policy, options.secret_salt),
        dns_logs=options.dns_logs,
        proxy_logs=options.proxy_logs,
        resolve=options.resolve,
        whole_machine=fs.is_live and not options.paths,
        file_cache=file_cache,
        own=OwnDigests(options.own | {f.sha256 for f in policy.files}),
        browser_history=options.browser_history and policy.collect.browser_history,
        shell_history=options.shell_history and policy.collect.shell_history,
    )
    collectors = [cls(fs, collect_options) for cls in COLLECTORS.values()]
    if fs.is_live and not options.paths:
        roots += [extra for c in collectors for extra in c.extra_roots()]
    walker = Walker(
        fs,
        collectors,
        WalkOptions(
            excludes=options.excludes,
            include_fstypes=options.include_fstypes,
            one_file_system=options.one_file_system,
            max_memory=options.max_memory,
        ),
        progress,
        listings,
    )
    clock.start("walking")
    coverage = walker.walk(roots)
    coverage.skipped.extend(chosen_skips)
    coverage.skipped.extend(options.policy_gaps)
    log.info("walked %d folders and %d files", coverage.dirs, coverage.files)
    clock.start("reading what was found")
    records: list[Record] = []
    for collector in collectors:
        try:
            result = collector.finish()
        except Exception as error:  # a parser bug must cost one source, not the whole audit
            reason = encodable(f"{collector.id} failed: {type(error).__name__}: {error}")
            coverage.skipped.append(Skipped(f"({collector.id})", reason, SkipKind.ERROR))
            continue
        records.extend(result.records)
        coverage.skipped.extend(result.skipped)
        log.debug("%s: %d record(s), %d skipped", collector.id, len(result.records), len(result.skipped))
    records = prefer_structured(records)
    clock.start("identifying models")
    hub = None
    if options.online:
        from scanner.lineage.hub import Hub  # the Hub client, for --online only (start-up)

        hub = Hub()
    records = identify(records, hub)  # type: ignore[assignment]
    if hub is not None:
        coverage.skipped.extend(Skipped(hub.endpoint, failure, SkipKind.UNREADABLE) for failure in hub.failures)
    records.sort(key=lambda r: (r.kind, r.identity, r.version or ""))
    today = datetime.now(timezone.utc).date()
    clock.start("judging")
    findings = tuple(apply_waivers(evaluate(records, policy), records, policy.waivers, today))
    clock.start(None)
    log.info("%d record(s), %d finding(s)", len(records), len(findings))
    for skipped in coverage.skipped:
        log.info("not read: %s: %s (%s)", skipped.path, skipped.reason, skipped.kind)
    scan = ScanInfo(
        id=str(uuid.uuid4()),
        host=_host_name(),
        started=started,
        finished=utc_now(),
        scanner_version=__version__,
        root=fs.root if not fs.is_live else None,
        roots=tuple(fs.to_display(r.real_path) for r in roots if not r.supplementary),
        policy_mode=policy.mode,
        policy_files=tuple(f.to_dict() for f in policy.files),
        excludes=options.excludes,
        resources=_resources(),
    )
    frozen_records = tuple(records)
    summary = summarize(findings, frozen_records, coverage)
    return ScanResult(scan, coverage, frozen_records, findings, summary, cited_sources(policy, findings))


def cited_sources(policy: Policy, findings: tuple[Finding, ...]) -> tuple[CitedSource, ...]:
    """The sources the findings cite, with their titles and dates, so a report names them without the policy."""
    cited = dict.fromkeys(s for f in findings for s in f.sources if s in policy.sources)
    return tuple(
        CitedSource(s, policy.sources[s].title, policy.sources[s].date, policy.sources[s].kind, policy.sources[s].urls)
        for s in cited
    )


@dataclass
class AuditOutcome:
    report: Report
    store_error: StoreError | None = None
    """The scan could not be recorded; the report is still good and is still written."""


class _Phases:
    """Names each phase to the callback and logs how long the one before took (``-v``)."""

    def __init__(self, callback: PhaseCallback | None) -> None:
        self.callback, self.name, self.began = callback, "", time.monotonic()

    def start(self, name: str | None) -> None:
        now = time.monotonic()
        if self.name:
            log.info("%s took %.2f s", self.name, now - self.began)
        self.name, self.began = name or "", now
        if name and self.callback is not None:
            self.callback(name)


def _host_name() -> str:
    """``socket.gethostname()``: on POSIX it is the kernel's node name, which ``os.uname`` gives without
    importing ``socket`` (3 ms of start-up); Windows has no ``uname``."""
    try:
        return os.uname().nodename
    except AttributeError:
        import socket

        return socket.gethostname()


def _resources() -> Resources | None:
    """The process's peak memory and CPU time so far. ``resource`` is imported here because it does not
    exist on Windows, where the scanner must still import and run (the report then has no figures)."""
    try:
        import resource
    except ImportError:
        return None
    usage = resource.getrusage(resource.RUSAGE_SELF)
    unit = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux and BSDs
    return Resources(usage.ru_maxrss * unit, round(usage.ru_utime + usage.ru_stime, 2))


def audit(
    options: AuditOptions,
    policy: Policy,
    store: Store | None = None,
    progress: ProgressCallback | None = None,
    phase: PhaseCallback | None = None,
) -> AuditOutcome:
    """One audit as a report document. With a store, the scan is recorded there (with what it learnt
    about files, so that the next scan need not parse unchanged model headers again) and compared
    with the previous scan of the same host and paths."""
    try:
        cache, listings = None, None
        if store is not None:
            from scanner.store.filecache import StoreFileCache

            cache, listings = StoreFileCache.load(store), Listings(store.folder_listings())
            salt, own = store.secret_salt(), store.own_digests()
            options = dataclasses.replace(options, secret_salt=salt, own=options.own | own)
    except StoreError as error:  # a store that opened but cannot be read: the scan runs without it
        return AuditOutcome(_tagged(report_dict(run_audit(options, policy, progress, None, phase)), options), error)
    texts: dict[int, str] = {}  # each record's and finding's JSON, as measured: what the store writes
    report = _tagged(report_dict(run_audit(options, policy, progress, cache, phase, listings), texts), options)
    if store is None or cache is None or listings is None:
        return AuditOutcome(report)
    if phase is not None:
        phase("recording the scan")
    try:
        store.save(report, cache.rows(), cache.gone(), cache.quiet_files(), texts, listings.stored())
        texts.clear()  # 5 MB of a whole machine's report, before the previous scan is loaded to compare
        for file in policy.files:  # a policy kept on this machine names what it bans: the scanner's own
            store.remember_own(file.sha256, file.path, "policy")
        return AuditOutcome(with_changes(store, report))
    except StoreError as error:
        return AuditOutcome(report, error)


def _tagged(report: Report, options: AuditOptions) -> Report:
    if options.tags:
        report["agent"] = {"tags": dict(options.tags)}
    return report


def with_changes(store: Store, report: Report) -> Report:
    """The report with its ``changes`` section: compared with the previous scan of its scope, if any."""
    previous = store.previous(report["scan"]["id"])
    if previous is not None:
        report["changes"] = compare(store.load(previous, inventory=False), report)
    return report


def recorded_report(store: Store, reference: str) -> Report:
    """A stored scan's report (by id or unique prefix), with what changed since the scan before it."""
    return with_changes(store, store.load(store.resolve(reference)))
