"""``scanner policy``: list, show and validate policies, write digest entries from the Hub, and make the
signing key and the signed bundle the collector publishes to its agents."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer

from scanner.cli.common import ListFormat, fail, policy_option, write
from scanner.cli.conventions import ScannerGroup
from scanner.collectors.models.weights import WEIGHT_SUFFIXES
from scanner.errors import ScannerError, UsageError
from scanner.lineage.hub import Hub
from scanner.policy.loader import bundled_names, load_policy
from scanner.report import utc_now
from scanner.reporters.tables import tabulate
from scanner.reporters.terminal import policy_summary

policy_app = typer.Typer(cls=ScannerGroup, help="List, show, validate and sign policies.", no_args_is_help=True)
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


@policy_app.command("keygen")
def policy_keygen(
    out: Annotated[Path, typer.Option("--out", dir_okay=False, help="Write the private key to FILE (created 0600).")],
) -> None:
    """Make an Ed25519 key pair for signing policy bundles: the private key in FILE, the public one in FILE.pub.

    The private key signs (keep it off the collector); the public key goes to every agent (policy_key:).

    Example: scanner policy keygen --out /secure/policy.key
    """
    from scanner.policy.bundle import key_id, new_key, read_public_key  # cryptography: 20 ms, only here

    public_path = out.with_name(out.name + ".pub")
    for path in (out, public_path):
        if path.exists() or path.is_symlink():
            fail(UsageError(f"{path}: already exists (a key is never overwritten; move it away first)"))
    private, public = new_key()
    try:
        write(private.decode("ascii"), out)
        public_path.write_bytes(public)
    except (OSError, ScannerError) as error:
        fail(error if isinstance(error, ScannerError) else UsageError(f"{public_path}: cannot write: {error}"))
    typer.echo(f"private key written to {out} (0600): it signs bundles; keep it off the collector")
    typer.echo(f"public key (id {key_id(read_public_key(public, str(public_path)))}) written to {public_path}:")
    typer.echo(public.decode("ascii"), nl=False)


def _read_key(path: Path) -> bytes:
    try:
        return path.read_bytes()[: 1 << 16]
    except OSError as error:
        raise UsageError(f"--key {path}: cannot read: {error.strerror or error}") from error


@policy_app.command("sign")
def policy_sign(
    files: Annotated[
        list[str], typer.Argument(help="Policy files or bundled policy names to compose, as --policy takes them.")
    ],
    key: Annotated[Path, typer.Option("--key", dir_okay=False, help="The private key ('scanner policy keygen').")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Write the signed bundle to FILE.")],
) -> None:
    """Check the policies, then sign them (and every file they include) into one bundle for the collector.

    A policy that does not load is not signed: its first error is printed with file, line and field (exit 2).

    Example: scanner policy sign site.yaml --key /secure/policy.key -o /srv/scanner/policy-bundle.json
    """
    from scanner.policy.bundle import key_id, read_private_key, sign_bundle  # cryptography: 20 ms, only here

    try:
        private = read_private_key(_read_key(key), f"--key {key}")
        signed = sign_bundle(files, private, utc_now())
        write(signed.decode("utf-8"), output)
    except ScannerError as error:
        fail(error)
    typer.echo(
        f"{output}: signed bundle of {', '.join(files)} ({len(signed)} bytes, key {key_id(private.public_key())})"
    )
