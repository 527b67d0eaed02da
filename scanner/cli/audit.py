"""``scanner audit``: scan the machine (or paths), judge what is found, write the report, and submit it."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from scanner.audit import AuditOptions
from scanner.audit import audit as run
from scanner.cli.agent import destination, load_config, say_delivery, say_policy
from scanner.cli.common import (
    EXIT_FOUND,
    EXIT_INTERRUPTED,
    EXIT_OK,
    all_option,
    chosen_format,
    db_option,
    fail,
    keep_last_option,
    older_than_option,
    policy_option,
    reporter_for,
    wide_option,
    write,
)
from scanner.errors import ScannerError, StoreError, UsageError
from scanner.own import digest
from scanner.places import default_db_path
from scanner.policy.loader import load_policy, load_waivers
from scanner.policy.schema import Policy
from scanner.records import Skipped
from scanner.report import Report
from scanner.reporters.interface import Format
from scanner.reporters.table import verdict_line
from scanner.reporters.terminal import terminal_safe
from scanner.vocabulary import SkipKind, Word
from scanner.walk import Coverage

if TYPE_CHECKING:  # requests costs 60 ms at start-up; only --submit needs it
    from scanner.fleet.agent.submit import Destination


class FailOn(Word):
    VIOLATION = "violation"
    WARNING = "warning"
    NEVER = "never"


class ProgressLine:
    """The one progress line on stderr: the walk's counts and path, then each phase by name."""

    def __init__(self, shown: bool) -> None:
        self.shown = shown

    def walked(self, coverage: Coverage, path: str) -> None:
        shown = terminal_safe(path if len(path) <= 60 else "..." + path[-57:])
        self._say(f"scanning: {coverage.dirs} dirs, {coverage.files} files  {shown}")

    def phase(self, name: str) -> None:
        if name != "walking":
            self._say(f"{name}...")

    def close(self) -> None:
        if self.shown:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()

    def _say(self, text: str) -> None:
        if self.shown:
            sys.stderr.write(f"\r\033[K{text}")
            sys.stderr.flush()


@contextmanager
def verbosity(level: int) -> Iterator[None]:
    """``-v``: each phase with its time and every place not read; ``-vv``: each collector's counts too.
    For this command only: the handler goes when it ends (the CLI may run again in the same process)."""
    if not level:
        yield
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("scanner: %(message)s"))
    logger = logging.getLogger("scanner")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if level > 1 else logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)


def exit_code(report: Report, fail_on: FailOn) -> int:
    """Waived findings are not counted in the summary, so they never fail a run."""
    summary = report["summary"]
    if fail_on is FailOn.VIOLATION and summary["violations"]:
        return EXIT_FOUND
    if fail_on is FailOn.WARNING and (summary["violations"] or summary["warnings"]):
        return EXIT_FOUND
    return EXIT_OK


def tags(pairs: list[str]) -> tuple[tuple[str, str], ...]:
    tags = []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--tag {pair!r}: expected KEY=VALUE, e.g. department=finance")
        tags.append((key.strip(), value.strip()))
    return tuple(tags)


def store_advice(error: StoreError, submitted: bool) -> str:
    """What to do when the store failed: the report was written all the same."""
    unsent = "; it was not submitted either (unsent reports wait in the store's spool)" if submitted else ""
    return (
        f"{error}. The report above is complete but was not recorded{unsent}. "
        "Use --db PATH for a store you can write to, or --no-store to scan without one."
    )


def given_files(waivers: list[Path]) -> dict[str, tuple[str, str]]:
    """The waiver files of this run by digest: they name what they waive, and are the scanner's own."""
    given = {}
    for path in waivers:
        try:
            given[digest(path.read_bytes())] = (str(path.resolve()), "waivers")
        except OSError:
            continue  # read once already by the policy loader; a file that vanished since is no matter
    return given


def judging_policy(
    policy: list[str], policy_key: Path | None, target: Destination | None, db: Path | None, quiet: bool
) -> tuple[Policy, tuple[Skipped, ...], dict[str, tuple[str, str]]]:
    """The policy to judge by: ``--policy``'s, or the collector's signed bundle (``--policy-key``); with the
    gaps it leaves (an older bundle judging) and the file it keeps, which the scan must know as its own."""
    if policy_key is None:
        return load_policy(policy), (), {}
    if target is None:
        raise UsageError("--policy-key verifies the policy bundle of the --submit collector: it needs --submit")
    if policy:
        raise UsageError("--policy-key judges by the collector's signed bundle; it cannot be used with --policy")
    from scanner.fleet.agent.bundle import KEPT_NAME, agent_policy, read_key_file  # requests, as for --submit

    kept = (db or default_db_path()).parent / KEPT_NAME
    chosen = agent_policy(target, read_key_file(policy_key), kept)
    say_policy(chosen, quiet)
    gaps: tuple[Skipped, ...] = ()
    if chosen.fallback is not None:
        reason = (
            f"the collector's policy bundle was not used ({chosen.fallback}); judged by the last verified bundle, "
            f"signed {chosen.bundle.created}: the policy may be outdated"
        )
        gaps = (Skipped(chosen.url, reason, SkipKind.UNREADABLE),)
    return chosen.policy, gaps, {chosen.kept_sha256: (str(kept.resolve()), "policy bundle")}


def log_option(help: str) -> Any:
    """A log named on the command line must exist (else exit 2); one that cannot be read is a coverage gap."""
    return typer.Option(exists=True, dir_okay=False, readable=False, help=help)


def audit(
    paths: Annotated[
        list[str] | None,
        typer.Argument(help="Paths to scan (inside --root if given). Default: the whole machine."),
    ] = None,
    root: Annotated[
        Path | None,
        typer.Option(
            help="Treat DIR as the machine's / (disk image, container root); paths are reported as inside it."
        ),
    ] = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option(help="Glob to skip (repeatable): without '/' it matches a name, with '/' a path inside the root."),
    ] = None,
    policy: Annotated[
        list[str] | None,
        policy_option(),
    ] = None,
    format: Annotated[
        Format | None,
        typer.Option("--format", "-f", help="Output format. Default: what the -o file's suffix names, else the table."),
    ] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the report to FILE.")] = None,
    wide: Annotated[bool, wide_option()] = False,
    everything: Annotated[bool, all_option()] = False,
    fail_on: Annotated[
        FailOn, typer.Option(help="Exit 1 when a finding at or above this severity is found.")
    ] = FailOn.VIOLATION,
    include_fstype: Annotated[
        list[str] | None,
        typer.Option(
            help="Also walk filesystems of this type (repeatable), e.g. nfs4; pseudo and network ones are skipped. On Windows: network, removable or cdrom drives."
        ),
    ] = None,
    one_file_system: Annotated[
        bool, typer.Option("--one-file-system", help="Do not cross into other mounted filesystems.")
    ] = False,
    max_memory: Annotated[
        int | None,
        typer.Option(
            metavar="MIB",
            min=16,
            help="Stop walking when the scanner holds this many MiB; what was not walked is listed as a gap.",
        ),
    ] = None,
    browser_history: Annotated[
        bool,
        typer.Option(
            "--browser-history/--no-browser-history",
            help="Read browsers' histories for visits to the policy's hosts (only those, as counts and dates).",
        ),
    ] = True,
    shell_history: Annotated[
        bool,
        typer.Option("--shell-history/--no-shell-history", help="Read shell histories for commands that use them."),
    ] = True,
    progress: Annotated[
        bool | None,
        typer.Option("--progress/--no-progress", help="Show progress on stderr. Default: on a terminal."),
    ] = None,
    hash_weights: Annotated[
        bool,
        typer.Option(
            "--hash", help="Also sha256 weight files whose digest their name does not give (reads them whole)."
        ),
    ] = False,
    online: Annotated[
        bool, typer.Option("--online", help="Follow base_model chains on the Hugging Face Hub (HF_ENDPOINT); cached.")
    ] = False,
    dns_log: Annotated[
        list[Path] | None,
        log_option("A DNS query log to read (repeatable): dnsmasq, BIND query log, Zeek dns.log; plain or gzip."),
    ] = None,
    proxy_log: Annotated[
        list[Path] | None, log_option("A proxy access log to read (repeatable): squid native format; plain or gzip.")
    ] = None,
    resolve: Annotated[
        bool,
        typer.Option(
            "--resolve", help="Resolve the policy's hosts (uses DNS) and report live TCP connections to them (Linux)."
        ),
    ] = False,
    waivers: Annotated[
        list[Path] | None,
        typer.Option(
            "--waivers", exists=True, dir_okay=False, help="A waivers file (repeatable): approved, dated exceptions."
        ),
    ] = None,
    db: Annotated[Path | None, db_option()] = None,
    no_store: Annotated[
        bool, typer.Option("--no-store", help="Do not record this scan in the store (and use no file cache).")
    ] = False,
    keep_last: Annotated[int | None, keep_last_option("After recording the scan, prune the store: ")] = None,
    older_than: Annotated[int | None, older_than_option("After recording the scan, prune the store: ")] = None,
    submit: Annotated[
        str | None,
        typer.Option(help="Send the report to the collector at URL (spooled in the store when it cannot be sent)."),
    ] = None,
    token_file: Annotated[
        Path | None, typer.Option(dir_okay=False, help="File holding this host's collector token (for --submit).")
    ] = None,
    ca_cert: Annotated[
        Path | None,
        typer.Option(dir_okay=False, help="CA bundle to verify the collector with instead of the system's."),
    ] = None,
    policy_key: Annotated[
        Path | None,
        typer.Option(
            dir_okay=False,
            help="Judge by the --submit collector's signed policy bundle, verified with this Ed25519 public key "
            "(else by the last verified one, saying so).",
        ),
    ] = None,
    tag: Annotated[
        list[str] | None,
        typer.Option(help="A label KEY=VALUE for the fleet views (repeatable), e.g. department=finance."),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            dir_okay=False,
            is_eager=True,
            callback=load_config,
            help="Agent configuration file (YAML): any of these options by name; the command line wins.",
        ),
    ] = None,
    verbose: Annotated[
        int,
        typer.Option(
            "--verbose",
            "-v",
            count=True,
            help="Say what each phase did and took, and every place not read (-vv: more).",
        ),
    ] = 0,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print only the verdict line (with -o: print nothing).")
    ] = False,
) -> None:
    """Scan the machine (or PATHS) and judge what is found against the policy.

    Example: scanner audit --root /mnt/image --format json -o report.json
    """
    try:
        target = destination(submit, token_file, ca_cert) if submit else None
        if target is not None and no_store:
            raise UsageError("--submit keeps unsent reports in the store's spool; it cannot be used with --no-store")
        judging, gaps, kept = judging_policy(policy or [], policy_key, target, db, quiet)
        loaded = load_waivers([str(w) for w in waivers or ()], judging)
        given = given_files(waivers or []) | kept
        options = AuditOptions(
            paths=tuple(paths or ()),
            root=str(root) if root else None,
            excludes=tuple(exclude or ()),
            include_fstypes=frozenset(include_fstype or ()),
            one_file_system=one_file_system,
            max_memory=max_memory << 20 if max_memory else None,
            browser_history=browser_history,
            shell_history=shell_history,
            hash_weights=hash_weights,
            online=online,
            dns_logs=tuple(str(p) for p in dns_log or ()),
            proxy_logs=tuple(str(p) for p in proxy_log or ()),
            resolve=resolve,
            tags=tags(tag or []),
            own=frozenset(given),
            policy_gaps=gaps,
        )
        line = ProgressLine(sys.stderr.isatty() if progress is None else progress)
        store, unusable = None, None
        if not no_store:
            from scanner.store.database import open_store  # with sqlite3: never loaded by --no-store (start-up)

            try:
                store = open_store(db)
            except StoreError as error:  # the scan still runs and its report is still written
                unusable = error
        try:
            try:
                with verbosity(verbose):
                    outcome = run(options, loaded, store, line.walked if line.shown else None, line.phase)
            except KeyboardInterrupt:
                line.close()
                typer.echo("scanner: interrupted; nothing recorded", err=True)
                raise typer.Exit(EXIT_INTERRUPTED) from None
            line.close()
            if quiet and output is None:
                write(verdict_line(outcome.report) + "\n")
            else:
                written = write(
                    reporter_for(chosen_format(format, output), wide, everything).encoded(outcome.report), output
                )
                if output is not None:
                    given[digest(written)] = (str(output.resolve()), "report")
            if output is not None and not quiet:  # the report went to a file: the verdict still reaches a person
                typer.echo(terminal_safe(verdict_line(outcome.report)), err=True)
            trouble = unusable or outcome.store_error
            if trouble is not None:
                raise StoreError(store_advice(trouble, submitted=target is not None))
            if store is not None:  # a later scan knows them as the scanner's own
                try:
                    for sha256, (path, what) in given.items():
                        store.remember_own(sha256, path, what)
                except StoreError as error:
                    raise StoreError(store_advice(error, submitted=target is not None)) from error
            if target is not None and store is not None:
                from scanner.fleet.agent.spool import Spool
                from scanner.fleet.agent.submit import Sender, submit_report  # requests: 60 ms, only with --submit

                say_delivery(submit_report(Spool(store), Sender(target), outcome.report), target.url)
            if store is not None and (keep_last is not None or older_than is not None):
                from scanner.store.retention import Retention, prune

                prune(store, Retention(keep_last=keep_last, older_than_days=older_than))
        finally:
            if store is not None:
                store.close()
    except ScannerError as error:
        fail(error)
    raise typer.Exit(exit_code(outcome.report, fail_on))
