"""The agent's side of the fleet on the command line: ``--config``, where to submit, and ``scanner submit``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from scanner.cli.common import EXIT_FOUND, EXIT_OK, db_option, fail, write
from scanner.errors import ScannerError, UsageError
from scanner.reporters.terminal import spool_table

if TYPE_CHECKING:  # requests costs 60 ms at start-up; only --submit and 'scanner submit' need it
    from scanner.fleet.agent.bundle import AgentPolicy
    from scanner.fleet.agent.submit import Delivery, Destination


def load_config(ctx: typer.Context, value: Path | None) -> Path | None:
    """``--config``: the file's values become the command's defaults, so the command line still wins."""
    if value is not None:
        from scanner.fleet.agent.config import load_agent_config  # for --config only: audit's start-up

        params = ctx.command.params
        names = {p.name: p.name for p in params if p.name}
        names |= {o[2:].replace("-", "_"): p.name for p in params if p.name for o in p.opts if o.startswith("--")}
        repeatable = {p.name for p in params if p.name and (getattr(p, "multiple", False) or p.nargs == -1)}
        try:
            loaded = load_agent_config(
                value, names, repeatable, _audit_keys(ctx) if ctx.command.name != "audit" else ()
            )
            ctx.default_map = {**(ctx.default_map or {}), **loaded}
        except ScannerError as error:
            fail(error)
    return value


def _audit_keys(ctx: typer.Context) -> set[str]:
    """The keys an agent's file may hold for ``scanner audit`` (the file is written for it), as written there."""
    find = getattr(ctx.find_root().command, "get_command", None)  # the scanner group's commands
    audit = find(ctx, "audit") if find is not None else None
    keys = {"tags", "retention"}
    for param in audit.params if audit is not None else ():
        keys |= {o[2:].replace("-", "_") for o in param.opts if o.startswith("--")}
        keys |= {param.name} if param.name else set()
    return keys


def destination(url: str, token_file: Path | None, ca_cert: Path | None) -> Destination:
    from scanner.fleet.agent.submit import Destination

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


def say_delivery(delivery: Delivery, url: str) -> None:
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


def say_policy(chosen: AgentPolicy, quiet: bool) -> None:
    """Which bundle judges this scan; when it is not the collector's current one, always said, and why."""
    signed = f"signed {chosen.bundle.created}"
    if chosen.fallback is not None:
        typer.echo(
            f"scanner: warning: {chosen.fallback}; judging by the last verified policy bundle ({signed}, kept at "
            f"{chosen.kept}): the policy may be outdated, and the report says so",
            err=True,
        )
    elif not quiet:
        typer.echo(f"scanner: policy bundle from {chosen.url} verified ({signed})", err=True)


def submit(
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
    db: Annotated[Path | None, db_option()] = None,
    config: Annotated[
        Path | None,
        typer.Option(dir_okay=False, is_eager=True, callback=load_config, help="Agent configuration file (YAML)."),
    ] = None,
) -> None:
    """Send the reports waiting in the spool (when the collector was unreachable), oldest first.

    Example: scanner submit --spool --config /etc/scanner/agent.yaml
    """
    from scanner.fleet.agent.spool import Spool  # the store and its spool: here, not in audit's start-up
    from scanner.store.database import open_store

    try:
        with open_store(db) as store:
            waiting = Spool(store)
            if list_spool:
                write(spool_table(waiting.all()))
                return
            if not spool:
                raise UsageError("say --spool to send the spooled reports (or --list to see them)")
            if url is None:
                raise UsageError("--submit URL is needed (or 'submit:' in --config)")
            target = destination(url, token_file, ca_cert)
            from scanner.fleet.agent.submit import Sender, flush

            if retry_rejected:
                waiting.retry_rejected()
            delivery = flush(waiting, Sender(target))
    except ScannerError as error:
        fail(error)
    say_delivery(delivery, target.url)
    if not (delivery.sent or delivery.duplicates or delivery.error or delivery.rejected):
        typer.echo("scanner: nothing to send", err=True)
    raise typer.Exit(EXIT_FOUND if delivery.error or delivery.rejected else EXIT_OK)
