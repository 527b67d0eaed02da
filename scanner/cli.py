"""The command line: parses options, calls one library function, renders the result.

This is the only module that prints, chooses exit codes and turns ``ScannerError`` into a
message. Exit codes: 0 nothing at or above ``--fail-on``; 1 something was; 2 bad input or usage.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from tabulate import tabulate

from scanner import __version__
from scanner.audit import AuditOptions, recorded_report
from scanner.audit import audit as run
from scanner.changes import compare
from scanner.errors import ReportError, ScannerError, StoreError, UsageError
from scanner.explain import Explanation, explain
from scanner.fleet.config import load_agent_config
from scanner.fleet.spool import Spool
from scanner.lineage.hub import Hub
from scanner.output import write_private
from scanner.policy.loader import bundled_names, load_policy, load_waivers
from scanner.policy.schema import Policy
from scanner.report import Report, location_text
from scanner.reporters.interface import Format
from scanner.reporters.registry import REPORTERS
from scanner.reporters.table import terminal_safe
from scanner.store.database import Store, open_store
from scanner.walk import Coverage

if TYPE_CHECKING:  # requests costs 60 ms at start-up; only --submit and 'scanner submit' need it
    from scanner.fleet.storage import FleetStorage
    from scanner.fleet.submit import Delivery, Destination

app = typer.Typer(
    help="Find banned AI providers, models and distilled derivatives on this machine, and explain why.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
policy_app = typer.Typer(help="List, show and validate policies.", no_args_is_help=True)
app.add_typer(policy_app, name="policy")

EXIT_OK, EXIT_FOUND, EXIT_USAGE = 0, 1, 2
WEIGHT_FILE_ENDINGS = (".safetensors", ".gguf", ".bin", ".pt", ".pth", ".ckpt", ".onnx", ".h5", ".tflite")


class FailOn(str, Enum):
    VIOLATION = "violation"
    WARNING = "warning"
    NEVER = "never"


class PolicyFormat(str, Enum):
    TABLE = "table"
    JSON = "json"


def _fail(error: ScannerError) -> NoReturn:
    typer.echo(f"scanner: error: {error}", err=True)
    raise typer.Exit(EXIT_USAGE)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"scanner {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Find banned AI providers, models and distilled derivatives on this machine, and explain why."""


def _progress_printer() -> Any:
    def show(coverage: Coverage, path: str) -> None:
        shown = terminal_safe(path if len(path) <= 60 else "..." + path[-57:])
        sys.stderr.write(f"\r\033[Kscanning: {coverage.dirs} dirs, {coverage.files} files  {shown}")
        sys.stderr.flush()

    return show


def _write(text: str, output: Path | None = None) -> None:
    """Write UTF-8; a lone surrogate that hostile input smuggled into a value is written as ``\\udXXX``."""
    data = text.encode("utf-8", "backslashreplace")
    if output is None:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    try:
        write_private(output, data)
    except OSError as error:
        raise ReportError(f"{output}: cannot write: {error.strerror or error}") from error


def exit_code(report: Report, fail_on: FailOn) -> int:
    """Waived findings are not counted in the summary, so they never fail a run."""
    summary = report["summary"]
    if fail_on is FailOn.VIOLATION and summary["violations"]:
        return EXIT_FOUND
    if fail_on is FailOn.WARNING and (summary["violations"] or summary["warnings"]):
        return EXIT_FOUND
    return EXIT_OK


def _db_option() -> Any:
    return typer.Option(
        "--db",
        help="The local store (SQLite). Default: $SCANNER_DB, else /var/lib/scanner/scanner.db as root, "
        "else the user's data directory.",
        dir_okay=False,
    )


def _load_config(ctx: typer.Context, value: Path | None) -> Path | None:
    """``--config``: the file's values become the command's defaults, so the command line still wins."""
    if value is not None:
        params = ctx.command.params
        names = {p.name: p.name for p in params if p.name}
        names |= {o[2:].replace("-", "_"): p.name for p in params if p.name for o in p.opts if o.startswith("--")}
        repeatable = {p.name for p in params if p.name and (getattr(p, "multiple", False) or p.nargs == -1)}
        try:
            ctx.default_map = {**(ctx.default_map or {}), **load_agent_config(value, names, repeatable)}
        except ScannerError as error:
            _fail(error)
    return value


def _tags(pairs: list[str]) -> tuple[tuple[str, str], ...]:
    tags = []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--tag {pair!r}: expected KEY=VALUE, e.g. department=finance")
        tags.append((key.strip(), value.strip()))
    return tuple(tags)


def _destination(url: str, token_file: Path | None, ca_cert: Path | None) -> Destination:
    from scanner.fleet.submit import Destination

    if token_file is None:
        raise UsageError("--submit needs --token-file (the token from 'scanner fleet token add HOST')")
    try:
        token = token_file.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(
            f"--token-file {token_file}: cannot read: {getattr(error, 'strerror', None) or error}"
        ) from error
    if not token:
        raise UsageError(f"--token-file {token_file}: empty")
    if not url.startswith(("https://", "http://")):
        raise UsageError(f"--submit {url}: expected an http(s):// URL")
    return Destination(url, token, str(ca_cert) if ca_cert else None)


def _say_delivery(delivery: Delivery, url: str) -> None:
    """One line on stderr for the admin or the journal; a spooled report is not an error."""
    done = len(delivery.sent) + len(delivery.duplicates)
    if done:
        typer.echo(f"scanner: {done} report(s) delivered to {url}", err=True)
    for report_id, reason in delivery.rejected:
        typer.echo(f"scanner: report {report_id} refused by the collector and kept aside: {reason}", err=True)
    if delivery.error:
        typer.echo(
            f"scanner: {delivery.error}; {delivery.waiting} report(s) kept in the spool, sent on the next run "
            "or with 'scanner submit --spool'",
            err=True,
        )


def _log_option(help: str) -> Any:
    """A log named on the command line must exist (else exit 2); one that cannot be read is a coverage gap."""
    return typer.Option(exists=True, dir_okay=False, readable=False, help=help)


@app.command()
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
        typer.Option(help="Policy file or bundled policy name (repeatable). Default: the bundled 'default'."),
    ] = None,
    format: Annotated[
        Format | None,
        typer.Option("--format", "-f", help="Output format. Default: table on a terminal, else json."),
    ] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the report to FILE.")] = None,
    fail_on: Annotated[
        FailOn, typer.Option(help="Exit 1 when a finding at or above this severity is found.")
    ] = FailOn.VIOLATION,
    include_fstype: Annotated[
        list[str] | None,
        typer.Option(
            help="Also walk filesystems of this type (repeatable), e.g. nfs4; pseudo and network ones are skipped."
        ),
    ] = None,
    one_file_system: Annotated[
        bool, typer.Option("--one-file-system", help="Do not cross into other mounted filesystems.")
    ] = False,
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
        _log_option("A DNS query log to read (repeatable): dnsmasq, BIND query log, Zeek dns.log; plain or gzip."),
    ] = None,
    proxy_log: Annotated[
        list[Path] | None, _log_option("A proxy access log to read (repeatable): squid native format; plain or gzip.")
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
    db: Annotated[Path | None, _db_option()] = None,
    no_store: Annotated[
        bool, typer.Option("--no-store", help="Do not record this scan in the store (and use no file cache).")
    ] = False,
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
    tag: Annotated[
        list[str] | None,
        typer.Option(help="A label KEY=VALUE for the fleet views (repeatable), e.g. department=finance."),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            dir_okay=False,
            is_eager=True,
            callback=_load_config,
            help="Agent configuration file (YAML): any of these options by name; the command line wins.",
        ),
    ] = None,
) -> None:
    """Scan the machine (or PATHS) and judge what is found against the policy.

    Example: scanner audit --root /mnt/image --format json -o report.json
    """
    try:
        destination = _destination(submit, token_file, ca_cert) if submit else None
        if destination is not None and no_store:
            raise UsageError("--submit keeps unsent reports in the store's spool; it cannot be used with --no-store")
        loaded = load_waivers([str(w) for w in waivers or ()], load_policy(policy or []))
        options = AuditOptions(
            paths=tuple(paths or ()),
            root=str(root) if root else None,
            excludes=tuple(exclude or ()),
            include_fstypes=frozenset(include_fstype or ()),
            one_file_system=one_file_system,
            hash_weights=hash_weights,
            online=online,
            dns_logs=tuple(str(p) for p in dns_log or ()),
            proxy_logs=tuple(str(p) for p in proxy_log or ()),
            resolve=resolve,
            tags=_tags(tag or []),
        )
        show_progress = sys.stderr.isatty() if progress is None else progress
        store = None if no_store else open_store(db)
        try:
            outcome = run(options, loaded, store, _progress_printer() if show_progress else None)
            if show_progress:
                sys.stderr.write("\r\033[K")
            chosen = format or (Format.TABLE if output is None and sys.stdout.isatty() else Format.JSON)
            _write(REPORTERS[chosen]().render(outcome.report), output)
            if outcome.store_error is not None:
                raise StoreError(
                    f"{outcome.store_error} (the report above is complete; use --no-store to skip the store)"
                )
            if destination is not None and store is not None:
                from scanner.fleet.submit import Sender, submit_report

                _say_delivery(submit_report(Spool(store), Sender(destination), outcome.report), destination.url)
        finally:
            if store is not None:
                store.close()
    except ScannerError as error:
        _fail(error)
    raise typer.Exit(exit_code(outcome.report, fail_on))


def _explanation_text(explanation: Explanation) -> str:
    if not explanation.models:
        return f"{explanation.target}: no model found there\n"
    lines: list[str] = []
    for model in explanation.models:
        size = sum(f.size for f in model.files)
        read = sum(f.bytes_read for f in model.files)
        lines += [
            f"Model {model.name}" + (f" ({model.version})" if model.version else ""),
            f"  at {model.locations[0].path}, {model.store}, {model.format}: {len(model.files)} file(s), "
            f"{size} bytes ({read} read)",
        ]
        for clue in model.clues:
            if clue.kind != "config":
                relation = f" [{clue.relation}]" if clue.relation else ""
                lines.append(f"  {clue.kind}{relation}: {clue.value}  ({clue.field} in {clue.path})")
        if model.special_tokens:
            lines.append(f"  special tokens: {len(model.special_tokens)}, e.g. {', '.join(model.special_tokens[:5])}")
        for lead in model.leads:
            if len(lead.steps) > 1:
                lines.append("  lineage: " + " → ".join(f"{s.relation} {s.name}" for s in lead.steps))
        own = [f for f in explanation.findings if f.record_id == model.id]
        if not own:
            lines.append("  Verdict: no banned provider or lineage found under this policy")
        for finding in own:
            lines.append(
                f"  Verdict: {finding.severity.upper()} {finding.provider or '-'} ({finding.confidence}, {finding.rule_id})"
            )
            lines += [f"    {link}" for link in finding.lineage]
            lines += [f"    - {sentence}" for sentence in finding.evidence[1:]]
        lines.append("")
    return "\n".join(terminal_safe(line) for line in lines) + "\n"


class ListFormat(str, Enum):
    TABLE = "table"
    JSON = "json"


def _scan_ids(store: Store, old: str | None, new: str | None) -> tuple[str, str]:
    """``diff``'s two scans: as given, else the latest scan and the one before it of the same host and paths."""
    newest = store.resolve(new) if new else next(iter(store.latest(1)), None)
    if newest is None:
        raise StoreError(f"{store.path}: no scans recorded yet")
    oldest = store.resolve(old) if old else store.previous(newest)
    if oldest is None:
        raise StoreError(
            f"{store.path}: scan {newest[:8]} has no earlier scan of the same host and paths; name two scans "
            "(see: scanner history)"
        )
    return oldest, newest


@app.command()
def history(
    limit: Annotated[int, typer.Option(help="How many scans to list, most recent first.")] = 20,
    db: Annotated[Path | None, _db_option()] = None,
    format: Annotated[ListFormat, typer.Option("--format", "-f", help="Output format.")] = ListFormat.TABLE,
) -> None:
    """List the recorded scans with their verdicts and counts, most recent first.

    Example: scanner history --limit 5
    """
    try:
        with open_store(db) as store:
            scans = store.history(limit)
    except ScannerError as error:
        _fail(error)
    if format is ListFormat.JSON:
        _write(json.dumps([s.to_dict() for s in scans], indent=2) + "\n")
        return
    rows = [
        [
            s.id[:8],
            s.finished,
            terminal_safe(s.host),
            ("COMPLIANT" if s.complete else "INCOMPLETE SCAN") if s.compliant else "NOT COMPLIANT",
            s.violations,
            s.warnings,
            s.records,
            terminal_safe(s.policy),
        ]
        for s in scans
    ]
    headers = ["scan", "finished", "host", "verdict", "violations", "warnings", "records", "policy"]
    _write((tabulate(rows, headers) if rows else "No scans recorded yet.") + "\n")


def _diff_text(old: Report, new: Report, changes: dict[str, Any]) -> str:
    lines = [
        f"Scan {old['scan']['id'][:8]} ({old['scan']['finished']}) -> {new['scan']['id'][:8]} ({new['scan']['finished']}): "
        f"{len(changes['new'])} new, {len(changes['resolved'])} resolved, {len(changes['unchanged'])} unchanged"
    ]
    for title, items in (("New", changes["new"]), ("Resolved", changes["resolved"])):
        if items:
            rows = [
                [
                    f["severity"].upper() + (" (waived)" if f["waived"] else ""),
                    f["provider"] or "-",
                    terminal_safe(f["subject"]),
                    terminal_safe(location_text(f["location"])),
                    f["rule_id"],
                ]
                for f in items
            ]
            lines += ["", f"{title}:", tabulate(rows, ["severity", "provider", "subject", "location", "rule"])]
    return "\n".join(lines) + "\n"


@app.command()
def diff(
    old: Annotated[str | None, typer.Argument(help="The earlier scan (id or unique prefix).")] = None,
    new: Annotated[str | None, typer.Argument(help="The later scan. Default: the latest.")] = None,
    db: Annotated[Path | None, _db_option()] = None,
    format: Annotated[ListFormat, typer.Option("--format", "-f", help="Output format.")] = ListFormat.TABLE,
) -> None:
    """Show the findings that are new, resolved and unchanged between two scans (matched by fingerprint).

    Without arguments: the latest scan against the one before it of the same host and paths.

    Example: scanner diff 3f2a9c1e 77b0d4aa
    """
    try:
        with open_store(db) as store:
            old_id, new_id = _scan_ids(store, old, new)
            old_report, new_report = store.load(old_id), store.load(new_id)
    except ScannerError as error:
        _fail(error)
    changes = compare(old_report, new_report)
    if format is ListFormat.JSON:
        scans = {
            "old_scan": changes.pop("previous_scan"),
            "new_scan": {"id": new_id, "finished": new_report["scan"]["finished"]},
        }
        _write(json.dumps({**scans, **changes}, indent=2, ensure_ascii=False) + "\n")
        return
    _write(_diff_text(old_report, new_report, changes))


@app.command()
def show(
    scan_id: Annotated[str, typer.Argument(help="The scan (id or unique prefix; see scanner history).")],
    db: Annotated[Path | None, _db_option()] = None,
    format: Annotated[
        Format | None,
        typer.Option("--format", "-f", help="Output format. Default: table on a terminal, else json."),
    ] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the report to FILE.")] = None,
) -> None:
    """Render a recorded scan again, in any output format, with what changed since the scan before it.

    Example: scanner show 3f2a9c1e --format html -o summary.html
    """
    try:
        with open_store(db) as store:
            report = recorded_report(store, scan_id)
        chosen = format or (Format.TABLE if output is None and sys.stdout.isatty() else Format.JSON)
        _write(REPORTERS[chosen]().render(report), output)
    except ScannerError as error:
        _fail(error)


@app.command()
def lineage(
    target: Annotated[str, typer.Argument(help="A model file or folder, or a model name such as deepseek-r1:7b.")],
    root: Annotated[Path | None, typer.Option(help="Treat DIR as the machine's / (as for audit).")] = None,
    policy: Annotated[
        list[str] | None, typer.Option(help="Policy file or bundled name (repeatable). Default: 'default'.")
    ] = None,
    format: Annotated[PolicyFormat, typer.Option("--format", "-f", help="Output format.")] = PolicyFormat.TABLE,
    online: Annotated[bool, typer.Option("--online", help="Follow base_model chains on the Hugging Face Hub.")] = False,
) -> None:
    """Explain one model: its names, declared lineage, fingerprints and the verdict with its chain.

    Example: scanner lineage ~/.cache/huggingface/hub/models--unsloth--DeepSeek-R1-Distill-Qwen-7B-GGUF
    """
    try:
        explanation = explain(target, load_policy(policy or []), str(root) if root else None, online)
    except ScannerError as error:
        _fail(error)
    if format is PolicyFormat.JSON:
        data = {
            "models": [{"name": m.name, "version": m.version, **m.attributes()} for m in explanation.models],
            "findings": [f.to_dict() for f in explanation.findings],
            "skipped": [s.to_dict() for s in explanation.skipped],
        }
        _write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    else:
        _write(_explanation_text(explanation))
    raise typer.Exit(EXIT_FOUND if any(f.severity == "violation" for f in explanation.findings) else EXIT_OK)


@policy_app.command("digests")
def policy_digests(
    repo_id: Annotated[str, typer.Argument(help="A Hugging Face repo id, e.g. deepseek-ai/DeepSeek-R1.")],
    provider: Annotated[str, typer.Option(help="Provider id the digests belong to.")],
    source: Annotated[str, typer.Option(help="Source id to cite (define it under sources:).")],
) -> None:
    """Print policy `digests:` entries for a repo's weight files, from the Hub (online; HF_ENDPOINT honoured).

    Example: scanner policy digests deepseek-ai/DeepSeek-R1 --provider deepseek --source hf-deepseek-r1
    """
    hub = Hub()
    found = hub.model(repo_id)
    if found is None:
        reason = "; ".join(hub.failures) or "repository not found"
        _fail(UsageError(f"{repo_id}: no file listing from {hub.endpoint}: {reason}"))
    weights = [(name, sha, size) for name, sha, size in found.files if sha and name.endswith(WEIGHT_FILE_ENDINGS)]
    typer.echo(f"# {len(weights)} weight file(s) of {repo_id} on {hub.endpoint}")
    for name, sha, size in weights:
        note = f', note: "size {size}"' if size else ""
        typer.echo(
            f"  - {{sha256: {sha}, model: {repo_id}, file: {name}, providers: [{provider}], source: {source}{note}}}"
        )


@policy_app.command("list")
def policy_list() -> None:
    """List the bundled policies.

    Example: scanner policy list
    """
    try:
        rows = []
        for name in bundled_names():
            loaded = load_policy([name])
            rows.append([name, loaded.files[-1].version, len(loaded.providers), loaded.mode])
    except ScannerError as error:
        _fail(error)
    typer.echo(tabulate(rows, ["name", "version", "providers (with includes)", "mode"]))


def _policy_summary(loaded: Policy) -> str:
    files = [[f.id, f.version, f.path, f.sha256[:12]] for f in loaded.files]
    providers = [
        [
            p.id,
            p.name,
            p.severity or "(catalogue)",
            len(p.packages),
            len(p.endpoints),
            len(p.hf_orgs) + len(p.ollama_names) + len(p.model_patterns),
            len(p.sources),
        ]
        for p in loaded.providers.values()
    ]
    return "\n".join(
        [
            f"mode: {loaded.mode}",
            "",
            tabulate(files, ["policy", "version", "file", "sha256"]),
            "",
            tabulate(providers, ["provider", "name", "severity", "packages", "endpoints", "model ids", "sources"]),
            "",
            f"{len(loaded.lineages)} lineage(s), {len(loaded.sources)} source(s), "
            f"{len(loaded.ai_packages)} generic AI package(s); allow-list: "
            f"{', '.join(loaded.allow.providers) or '-'} / {len(loaded.allow.packages)} package(s)",
        ]
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items() if k != "where"}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


@policy_app.command("show")
def policy_show(
    policy: Annotated[
        list[str] | None, typer.Option(help="Policy file or bundled name (repeatable). Default: 'default'.")
    ] = None,
    format: Annotated[PolicyFormat, typer.Option("--format", "-f", help="Output format.")] = PolicyFormat.TABLE,
) -> None:
    """Show the composed policy a scan would be judged against.

    Example: scanner policy show --policy extended
    """
    try:
        loaded = load_policy(policy or [])
    except ScannerError as error:
        _fail(error)
    if format is PolicyFormat.JSON:
        typer.echo(json.dumps(_jsonable(asdict(loaded)), indent=2, ensure_ascii=False))
    else:
        typer.echo(_policy_summary(loaded))


@policy_app.command("validate")
def policy_validate(
    files: Annotated[list[Path], typer.Argument(help="Policy files to check (with their includes).")],
) -> None:
    """Check policy files; print the first error with file, line and field, and exit 2.

    Example: scanner policy validate policies/site.yaml
    """
    for file in files:
        try:
            loaded = load_policy([str(file)])
        except ScannerError as error:
            _fail(error)
        own = loaded.files[-1]
        typer.echo(
            f"{file}: valid ({own.id} {own.version}; with includes: {len(loaded.providers)} provider(s), "
            f"{len(loaded.sources)} source(s), {len(loaded.lineages)} lineage(s))"
        )


fleet_app = typer.Typer(help="The central collector's hosts, tokens, reports and summary.", no_args_is_help=True)
token_app = typer.Typer(help="Per-host tokens for submitting reports.", no_args_is_help=True)
fleet_app.add_typer(token_app, name="token")
app.add_typer(fleet_app, name="fleet")


def _fleet_db_option() -> Any:
    return typer.Option(
        "--db",
        help="The collector's database. Default: $SCANNER_FLEET_DB, else fleet.db beside the local store.",
        dir_okay=False,
    )


def _fleet(db: Path | None) -> FleetStorage:
    from scanner.fleet.sqlite_storage import SqliteFleetStorage
    from scanner.places import default_fleet_db

    return SqliteFleetStorage(db or default_fleet_db())


@app.command()
def serve(
    db: Annotated[Path | None, _fleet_db_option()] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    tls_cert: Annotated[Path | None, typer.Option(dir_okay=False, exists=True, help="TLS certificate (PEM).")] = None,
    tls_key: Annotated[Path | None, typer.Option(dir_okay=False, exists=True, help="TLS private key (PEM).")] = None,
    burst: Annotated[int, typer.Option(help="Reports a host may send at once before the rate limit applies.")] = 60,
    rate: Annotated[float, typer.Option(help="Reports per second a host may send after its burst.")] = 1.0,
) -> None:
    """Run the collector: receive reports from agents (POST /api/v1/reports) into the fleet database.

    Example: scanner serve --db /var/lib/scanner/fleet.db --host 0.0.0.0 --port 8443 --tls-cert c.pem --tls-key k.pem
    """
    from scanner.fleet.server import RateLimiter
    from scanner.fleet.server import serve as run_server

    if (tls_cert is None) != (tls_key is None):
        _fail(UsageError("--tls-cert and --tls-key go together"))
    try:
        storage = _fleet(db)
    except ScannerError as error:
        _fail(error)
    tls = (str(tls_cert), str(tls_key)) if tls_cert and tls_key else None
    run_server(storage, host, port, tls, limiter=RateLimiter(burst, rate))


@token_app.command("add")
def token_add(
    host: Annotated[str, typer.Argument(help="The host name its reports will carry (what 'hostname' prints there).")],
    db: Annotated[Path | None, _fleet_db_option()] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the token to FILE (created 0600) instead of stdout.")
    ] = None,
) -> None:
    """Create a token for HOST (replacing any earlier one) and give it once; only its hash is stored.

    Example: scanner fleet token add web-01 --output /secure/web-01.token
    """
    from scanner.fleet.tokens import new_token, token_hash

    token = new_token()
    try:
        storage = _fleet(db)
        storage.add_token(host, token_hash(token))
        storage.close()
        _write(token + "\n", output)
    except ScannerError as error:
        _fail(error)
    if output is not None:
        typer.echo(f"token of {host} written to {output}", err=True)


@token_app.command("revoke")
def token_revoke(
    host: Annotated[str, typer.Argument(help="The host whose token stops working.")],
    db: Annotated[Path | None, _fleet_db_option()] = None,
) -> None:
    """Revoke HOST's token: its reports are refused (401) until a new token is added.

    Example: scanner fleet token revoke web-01
    """
    try:
        storage = _fleet(db)
        known = storage.revoke_token(host)
        storage.close()
    except ScannerError as error:
        _fail(error)
    if not known:
        _fail(UsageError(f"no host {host!r} in the fleet database"))
    typer.echo(f"token of {host} revoked")


def _stale_option() -> Any:
    return typer.Option(help="A host whose latest report is older than this many days is stale (not compliant).")


@fleet_app.command("hosts")
def fleet_hosts(
    db: Annotated[Path | None, _fleet_db_option()] = None,
    stale_days: Annotated[int, _stale_option()] = 3,
    format: Annotated[ListFormat, typer.Option("--format", "-f", help="Output format.")] = ListFormat.TABLE,
) -> None:
    """List the fleet's hosts: state, last report, counts and tags.

    Example: scanner fleet hosts --stale-days 7
    """
    from datetime import datetime, timedelta, timezone

    from scanner.fleet.summary import host_state

    try:
        storage = _fleet(db)
        hosts = storage.hosts()
    except ScannerError as error:
        _fail(error)
    now = datetime.now(timezone.utc)
    states = [host_state(h, now, timedelta(days=stale_days)) for h in hosts]
    if format is ListFormat.JSON:
        _write(json.dumps([{**h.to_dict(), "state": st} for h, st in zip(hosts, states, strict=True)], indent=2) + "\n")
        return
    rows = [
        [
            terminal_safe(h.host),
            st.upper(),
            h.last_seen or "never",
            h.violations,
            h.warnings,
            h.reports,
            "revoked" if h.revoked else ("yes" if h.has_token else "no"),
            terminal_safe(", ".join(f"{k}={v}" for k, v in sorted(h.tags.items()))),
        ]
        for h, st in zip(hosts, states, strict=True)
    ]
    headers = ["host", "state", "last report", "violations", "warnings", "reports", "token", "tags"]
    _write((tabulate(rows, headers) if rows else "No hosts yet.") + "\n")


@fleet_app.command("show")
def fleet_show(
    host: Annotated[str, typer.Argument(help="The host.")],
    db: Annotated[Path | None, _fleet_db_option()] = None,
    format: Annotated[
        Format | None,
        typer.Option("--format", "-f", help="Format of the host's latest report. Default: table on a terminal."),
    ] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to FILE.")] = None,
) -> None:
    """Show a host's latest report (any format) and, in the table, its recent reports.

    Example: scanner fleet show web-01 --format html -o web-01.html
    """
    try:
        storage = _fleet(db)
        recent = storage.reports(host)
        if not recent:
            raise UsageError(f"no reports from host {host!r}")
        report = storage.report(recent[0]["id"])
        assert report is not None
        chosen = format or (Format.TABLE if output is None and sys.stdout.isatty() else Format.JSON)
        text = REPORTERS[chosen]().render(report)
        if chosen is Format.TABLE:
            rows = [[r["id"][:8], r["finished"], r["received"], r["violations"], r["warnings"]] for r in recent]
            text += (
                "\nRecent reports:\n"
                + tabulate(rows, ["report", "finished", "received", "violations", "warnings"])
                + "\n"
            )
        _write(text, output)
    except ScannerError as error:
        _fail(error)


class FleetFormat(str, Enum):
    JSON = "json"
    HTML = "html"
    MARKDOWN = "markdown"


@fleet_app.command("summary")
def fleet_summary_command(
    db: Annotated[Path | None, _fleet_db_option()] = None,
    stale_days: Annotated[int, _stale_option()] = 3,
    format: Annotated[FleetFormat, typer.Option("--format", "-f", help="Output format.")] = FleetFormat.JSON,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to FILE.")] = None,
) -> None:
    """The fleet summary for officials: compliance, violations by provider, kind and tag, worst and stale hosts.

    Example: scanner fleet summary --format html -o fleet.html
    """
    from scanner.fleet.summary import fleet_summary

    try:
        summary = fleet_summary(_fleet(db), stale_days)
        if format is FleetFormat.JSON:
            _write(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", output)
        else:
            from scanner.fleet.pages import render_fleet_page

            _write(render_fleet_page(summary, format.value), output)
    except ScannerError as error:
        _fail(error)


@app.command()
def ingest(
    files: Annotated[list[Path], typer.Argument(help="Report files (JSON, or gzip JSON) or folders of them.")],
    db: Annotated[Path | None, _fleet_db_option()] = None,
) -> None:
    """Load report files collected by other means (SCCM, Ansible fetch, a share) into the fleet database.

    The same checks as the collector; a report already stored is skipped. Exit 1 when a file is refused.

    Example: scanner ingest /srv/reports/incoming
    """
    from scanner.fleet.ingest import ingest_paths

    try:
        result = ingest_paths(_fleet(db), [str(f) for f in files])
    except ScannerError as error:
        _fail(error)
    for path, reason in result.refused:
        typer.echo(f"scanner: {terminal_safe(path)}: refused: {terminal_safe(reason)}", err=True)
    typer.echo(f"{result.stored} stored, {result.duplicates} already stored, {len(result.refused)} refused")
    raise typer.Exit(EXIT_FOUND if result.refused else EXIT_OK)


@app.command("submit")
def submit_command(
    spool: Annotated[
        bool, typer.Option("--spool", help="Send the reports waiting in the spool, oldest first.")
    ] = False,
    list_spool: Annotated[bool, typer.Option("--list", help="List the spooled reports and stop.")] = False,
    retry_rejected: Annotated[
        bool, typer.Option("--retry-rejected", help="Also resend reports the collector refused before.")
    ] = False,
    url: Annotated[str | None, typer.Option("--submit", help="The collector URL.")] = None,
    token_file: Annotated[Path | None, typer.Option(dir_okay=False, help="This host's collector token.")] = None,
    ca_cert: Annotated[Path | None, typer.Option(dir_okay=False, help="CA bundle for the collector.")] = None,
    db: Annotated[Path | None, _db_option()] = None,
    config: Annotated[
        Path | None,
        typer.Option(dir_okay=False, is_eager=True, callback=_load_config, help="Agent configuration file (YAML)."),
    ] = None,
) -> None:
    """Send the reports waiting in the spool (when the collector was unreachable), oldest first.

    Example: scanner submit --spool --config /etc/scanner/agent.yaml
    """
    try:
        with open_store(db) as store:
            waiting = Spool(store)
            if list_spool:
                rows = [
                    [s.id, s.created, s.attempts, "rejected" if s.rejected else "pending", s.last_error or ""]
                    for s in waiting.all()
                ]
                _write(
                    (
                        tabulate(rows, ["report", "spooled", "attempts", "state", "last error"])
                        if rows
                        else "The spool is empty."
                    )
                    + "\n"
                )
                return
            if not spool:
                raise UsageError("say --spool to send the spooled reports (or --list to see them)")
            if url is None:
                raise UsageError("--submit URL is needed (or 'submit:' in --config)")
            destination = _destination(url, token_file, ca_cert)
            from scanner.fleet.submit import Sender, flush

            if retry_rejected:
                waiting.retry_rejected()
            delivery = flush(waiting, Sender(destination))
    except ScannerError as error:
        _fail(error)
    _say_delivery(delivery, destination.url)
    if not (delivery.sent or delivery.duplicates or delivery.error or delivery.rejected):
        typer.echo("scanner: nothing to send", err=True)
    raise typer.Exit(EXIT_FOUND if delivery.error or delivery.rejected else EXIT_OK)


def main() -> None:
    """Console-script entry point."""
    app()
