"""``scanner policy``: list, show and validate policies, and write digest entries from the Hub."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from tabulate import tabulate

from scanner.cli.common import ListFormat, fail, policy_option
from scanner.cli.conventions import ScannerGroup
from scanner.collectors.models.weights import WEIGHT_SUFFIXES
from scanner.errors import ScannerError, UsageError
from scanner.lineage.hub import Hub
from scanner.policy.loader import bundled_names, load_policy
from scanner.reporters.terminal import policy_summary

policy_app = typer.Typer(cls=ScannerGroup, help="List, show and validate policies.", no_args_is_help=True)
WEIGHT_FILE_ENDINGS = tuple(sorted(WEIGHT_SUFFIXES))
"""The endings the scan reads as weights, so a digest listed here is one a scan can meet."""


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
        fail(UsageError(f"{repo_id}: no file listing from {hub.endpoint}: {reason}"))
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
        fail(error)
    typer.echo(tabulate(rows, ["name", "version", "providers (with includes)", "mode"]))


def jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items() if k != "where"}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


@policy_app.command("show")
def policy_show(
    policy: Annotated[list[str] | None, policy_option()] = None,
    format: Annotated[ListFormat, typer.Option("--format", "-f", help="Output format.")] = ListFormat.TABLE,
) -> None:
    """Show the composed policy a scan would be judged against.

    Example: scanner policy show --policy extended
    """
    try:
        loaded = load_policy(policy or [])
    except ScannerError as error:
        fail(error)
    if format is ListFormat.JSON:
        typer.echo(json.dumps(jsonable(asdict(loaded)), indent=2, ensure_ascii=False))
    else:
        typer.echo(policy_summary(loaded))


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
            fail(error)
        own = loaded.files[-1]
        typer.echo(
            f"{file}: valid ({own.id} {own.version}; with includes: {len(loaded.providers)} provider(s), "
            f"{len(loaded.sources)} source(s), {len(loaded.lineages)} lineage(s))"
        )
