"""The command line: parses options, calls one library function, renders the result.

This is the only module that prints, chooses exit codes and turns ``ScannerError`` into a
message. Exit codes: 0 nothing at or above ``--fail-on``; 1 something was; 2 bad input or usage.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from dataclasses import asdict
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from tabulate import tabulate

from scanner import __version__
from scanner.audit import AuditOptions
from scanner.audit import audit as run
from scanner.changes import compare
from scanner.errors import ReportError, ScannerError, StoreError, UsageError
from scanner.explain import Explanation, explain
from scanner.lineage.hub import Hub
from scanner.policy import Policy, bundled_names, load_policy
from scanner.policy.loader import load_waivers
from scanner.report import Report, location_text
from scanner.reporters import REPORTERS, Format
from scanner.reporters.table import terminal_safe
from scanner.store import Store, open_store
from scanner.walk import Coverage

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
    temporary: str | None = None
    try:
        with tempfile.NamedTemporaryFile("wb", dir=output.resolve().parent, delete=False) as handle:
            temporary = handle.name
            handle.write(data)
        umask = os.umask(0o022)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # like any file the user creates, not mkstemp's 0600
        os.replace(temporary, output)
    except OSError as error:
        if temporary is not None and os.path.exists(temporary):
            os.unlink(temporary)
        raise ReportError(f"{output}: cannot write report: {error.strerror or error}") from error


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
) -> None:
    """Scan the machine (or PATHS) and judge what is found against the policy.

    Example: scanner audit --root /mnt/image --format json -o report.json
    """
    try:
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
        )
        show_progress = sys.stderr.isatty() if progress is None else progress
        store = None if no_store else open_store(db)
        try:
            outcome = run(options, loaded, store, _progress_printer() if show_progress else None)
        finally:
            if store is not None:
                store.close()
        if show_progress:
            sys.stderr.write("\r\033[K")
        chosen = format or (Format.TABLE if output is None and sys.stdout.isatty() else Format.JSON)
        _write(REPORTERS[chosen]().render(outcome.report), output)
        if outcome.store_error is not None:
            raise StoreError(f"{outcome.store_error} (the report above is complete; use --no-store to skip the store)")
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
            report = store.report(store.resolve(scan_id))
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


def main() -> None:
    """Console-script entry point."""
    app()
