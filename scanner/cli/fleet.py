"""The collector's side of the fleet on the command line: ``serve``, ``ingest`` and ``scanner fleet``.

The collector's side (``scanner.fleet.collector``: the web stack, starlette and uvicorn, and the
fleet storage) is imported inside the commands that need it: an agent install has no ``server``
extra, and its ``scanner --help`` must still work. Every command closes the storage it opens.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from scanner.cli.common import EXIT_FOUND, EXIT_OK, ListFormat, chosen_format, fail, fleet_format, reporter_for, write
from scanner.cli.conventions import ScannerGroup
from scanner.errors import ScannerError, UsageError
from scanner.reporters.interface import FleetFormat, Format
from scanner.reporters.registry import fleet_reporter
from scanner.reporters.terminal import (
    fleet_hosts_table,
    recent_reports_table,
    terminal_safe,
    terminal_safe_document,
    users_table,
)
from scanner.vocabulary import UserRole

if TYPE_CHECKING:
    from scanner.fleet.collector.storage import FleetStorage

fleet_app = typer.Typer(
    cls=ScannerGroup, help="The central collector's hosts, tokens, reports and summary.", no_args_is_help=True
)
token_app = typer.Typer(cls=ScannerGroup, help="Per-host tokens for submitting reports.", no_args_is_help=True)
fleet_app.add_typer(token_app, name="token")
user_app = typer.Typer(
    cls=ScannerGroup,
    help="People who may sign in to the collector's dashboard, and their API tokens.",
    no_args_is_help=True,
)
fleet_app.add_typer(user_app, name="user")


def _fleetdb_option() -> Any:
    return typer.Option(
        "--db",
        help="The collector's database: a SQLite file, or postgresql://USER@HOST/DBNAME. "
        "Default: $SCANNER_FLEET_DB, else fleet.db beside the local store.",
    )


def open_fleet(db: str | None) -> FleetStorage:
    """The collector's storage, to be used in a ``with`` block so that it is closed."""
    from scanner.fleet.collector.databases import open_fleet_storage
    from scanner.places import default_fleet_db

    return open_fleet_storage(db or default_fleet_db())


def policy_bundle_option(doing: str) -> Any:
    return typer.Option(dir_okay=False, help=f"The signed policy bundle ('scanner policy sign'): {doing}")


def stale_option() -> Any:
    return typer.Option(help="A host whose latest report is older than this many days is stale (not compliant).")


def serve(
    db: Annotated[str | None, _fleetdb_option()] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    tls_cert: Annotated[Path | None, typer.Option(dir_okay=False, exists=True, help="TLS certificate (PEM).")] = None,
    tls_key: Annotated[Path | None, typer.Option(dir_okay=False, exists=True, help="TLS private key (PEM).")] = None,
    burst: Annotated[int, typer.Option(help="Reports a host may send at once before the rate limit applies.")] = 60,
    rate: Annotated[float, typer.Option(help="Reports per second a host may send after its burst.")] = 1.0,
    header_timeout: Annotated[
        float, typer.Option(help="Seconds a connection may take to send a request's head before it is closed.")
    ] = 10.0,
    body_timeout: Annotated[
        float, typer.Option(help="Seconds a request may take to send its body before it is refused (408).")
    ] = 60.0,
    max_connections: Annotated[
        int | None,
        typer.Option(
            help="Open connections at most; past it the oldest idle one is closed. Default: what the file limit allows."
        ),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Collector processes sharing the port. More than one needs a PostgreSQL --db (SQLite has one writer).",
        ),
    ] = 1,
    policy_bundle: Annotated[
        Path | None,
        policy_bundle_option("given to agents (GET /api/v1/policy), read again when the file changes."),
    ] = None,
) -> None:
    """Run the collector: receive reports from agents (POST /api/v1/reports) into the fleet database, and
    serve the dashboard (/dashboard, for users made with 'scanner fleet user add') and its read API (/api/v1).

    Example: scanner serve --db postgresql://scanner@db.example/fleet --workers 2 --host 0.0.0.0 --port 8443 --tls-cert c.pem --tls-key k.pem
    """
    from scanner.fleet.collector.databases import is_postgres
    from scanner.fleet.collector.published import load_published
    from scanner.fleet.collector.server import ServeOptions
    from scanner.fleet.collector.server import serve as run_server
    from scanner.places import default_fleet_db

    if (tls_cert is None) != (tls_key is None):
        fail(UsageError("--tls-cert and --tls-key go together"))
    location = db or default_fleet_db()
    if workers > 1 and not is_postgres(location):
        fail(
            UsageError("--workers above 1 needs a PostgreSQL --db (postgresql://...): SQLite has one writer at a time")
        )
    try:
        open_fleet(location).close()  # migrated once, and its errors said here, before any worker starts
        if policy_bundle is not None:  # a bundle that cannot be read is said now, not to each agent
            load_published(policy_bundle)
    except ScannerError as error:
        fail(error)
    tls = (str(tls_cert), str(tls_key)) if tls_cert and tls_key else None
    bundle = str(policy_bundle.resolve()) if policy_bundle else None
    options = ServeOptions(location, burst, rate, header_timeout, body_timeout, max_connections, workers, bundle)
    run_server(host, port, tls, options)


@token_app.command("add")
def token_add(
    host: Annotated[str, typer.Argument(help="The host name its reports will carry (what 'hostname' prints there).")],
    db: Annotated[str | None, _fleetdb_option()] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the token to FILE (created 0600) instead of stdout.")
    ] = None,
) -> None:
    """Create a token for HOST (replacing any earlier one) and give it once; only its hash is stored.

    Example: scanner fleet token add web-01 --output /secure/web-01.token
    """
    from scanner.fleet.collector.tokens import new_token, token_hash

    token = new_token()
    try:
        with open_fleet(db) as storage:
            storage.add_token(host, token_hash(token))
        write(token + "\n", output)
    except ScannerError as error:
        fail(error)
    if output is not None:
        typer.echo(f"token of {host} written to {output}", err=True)


@token_app.command("revoke")
def token_revoke(
    host: Annotated[str, typer.Argument(help="The host whose token stops working.")],
    db: Annotated[str | None, _fleetdb_option()] = None,
) -> None:
    """Revoke HOST's token: its reports are refused (401) until a new token is added.

    Example: scanner fleet token revoke web-01
    """
    try:
        with open_fleet(db) as storage:
            known = storage.revoke_token(host)
    except ScannerError as error:
        fail(error)
    if not known:
        fail(UsageError(f"no host {host!r} in the fleet database"))
    typer.echo(f"token of {host} revoked")


@fleet_app.command("hosts")
def fleet_hosts(
    db: Annotated[str | None, _fleetdb_option()] = None,
    stale_days: Annotated[int, stale_option()] = 3,
    format: Annotated[ListFormat, typer.Option("--format", "-f", help="Output format.")] = ListFormat.TABLE,
) -> None:
    """List the fleet's hosts: state, last report, counts and tags.

    Example: scanner fleet hosts --stale-days 7
    """
    from datetime import datetime, timedelta, timezone

    from scanner.fleet.collector.summary import host_state

    try:
        with open_fleet(db) as storage:
            hosts = storage.hosts()
    except ScannerError as error:
        fail(error)
    now = datetime.now(timezone.utc)
    listed = terminal_safe_document(
        [{**h.to_dict(), "state": host_state(h, now, timedelta(days=stale_days))} for h in hosts]
    )
    write(json.dumps(listed, indent=2) + "\n" if format is ListFormat.JSON else fleet_hosts_table(listed))


@fleet_app.command("show")
def fleet_show(
    host: Annotated[str, typer.Argument(help="The host.")],
    db: Annotated[str | None, _fleetdb_option()] = None,
    format: Annotated[
        Format | None,
        typer.Option("--format", "-f", help="Format of the host's latest report. Default: table on a terminal."),
    ] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to FILE.")] = None,
) -> None:
    """Show a host's latest report (any format) and, in the table, its recent reports. What the host sent
    is shown with control and text-direction characters as visible escapes (\\x1b, \\u202e), in every format.

    Example: scanner fleet show web-01 --format html -o web-01.html
    """
    try:
        with open_fleet(db) as storage:
            recent = storage.reports(host)
            if not recent:
                raise UsageError(f"no reports from host {host!r}")
            report = storage.report(host, recent[0]["id"])
        assert report is not None
        chosen = chosen_format(format, output)
        text = reporter_for(chosen).render(terminal_safe_document(report))
        if chosen is Format.TABLE:
            text += recent_reports_table(terminal_safe_document(recent))
        write(text, output)
    except ScannerError as error:
        fail(error)


@fleet_app.command("summary")
def fleet_summary(
    db: Annotated[str | None, _fleetdb_option()] = None,
    stale_days: Annotated[int, stale_option()] = 3,
    format: Annotated[
        FleetFormat | None,
        typer.Option("--format", "-f", help="Output format. Default: what the -o file's suffix names, else the table."),
    ] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to FILE.")] = None,
    policy_bundle: Annotated[
        Path | None, policy_bundle_option("hosts whose latest report was judged by other policies are listed.")
    ] = None,
) -> None:
    """The fleet summary for officials: compliance, violations by provider, kind and tag, worst and stale hosts.

    Example: scanner fleet summary --format html -o fleet.html --policy-bundle /srv/scanner/policy-bundle.json
    """
    from scanner.fleet.collector.published import load_published
    from scanner.fleet.collector.summary import fleet_summary

    try:
        published = load_published(policy_bundle) if policy_bundle is not None else None
        with open_fleet(db) as storage:
            summary = terminal_safe_document(fleet_summary(storage, stale_days, published=published))
        write(fleet_reporter(fleet_format(format, output)).render(summary), output)
    except ScannerError as error:
        fail(error)


@fleet_app.command("prune")
def fleet_prune(
    keep_last: Annotated[
        int, typer.Option(min=1, metavar="N", help="Keep each host's N latest reports (its latest always).")
    ] = 30,
    older_than: Annotated[
        int | None, typer.Option(min=0, metavar="DAYS", help="Only remove reports that arrived more than DAYS ago.")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would be removed; remove nothing.")] = False,
    db: Annotated[str | None, _fleetdb_option()] = None,
) -> None:
    """Remove old reports from the fleet database, host by host, and say how much it holds.

    Each host keeps its latest report whatever the limits (the fleet views judge it by that one).

    Example: scanner fleet prune --keep-last 30 --older-than 90
    """
    from datetime import datetime, timedelta, timezone

    cutoff = None
    if older_than is not None:
        cutoff = (datetime.now(timezone.utc) - timedelta(days=older_than)).strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        with open_fleet(db) as storage:
            count = storage.prune(keep_last, cutoff, dry_run)
            size = storage.size_bytes()
    except ScannerError as error:
        fail(error)
    verb = "would remove" if dry_run else "removed"
    write(f"{verb} {count} report(s); the fleet database holds {size / 1048576:.1f} MiB\n")


def ingest(
    files: Annotated[list[Path], typer.Argument(help="Report files (JSON, or gzip JSON) or folders of them.")],
    db: Annotated[str | None, _fleetdb_option()] = None,
) -> None:
    """Load report files collected by other means (SCCM, Ansible fetch, a share) into the fleet database.

    The same checks as the collector; a report already stored is skipped. Exit 1 when a file is refused.

    Example: scanner ingest /srv/reports/incoming
    """
    from scanner.fleet.collector.ingest import ingest_paths

    try:
        with open_fleet(db) as storage:
            result = ingest_paths(storage, [str(f) for f in files])
    except ScannerError as error:
        fail(error)
    for path, reason in result.refused:
        typer.echo(f"scanner: {terminal_safe(path)}: refused: {terminal_safe(reason)}", err=True)
    typer.echo(f"{result.stored} stored, {result.duplicates} already stored, {len(result.refused)} refused")
    raise typer.Exit(EXIT_FOUND if result.refused else EXIT_OK)


def _password(password_file: Path | None) -> str:
    """The new password: asked for twice, or the first line of a file (``-``: standard input), never argv."""
    if password_file is None:
        return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))
    try:
        text = sys.stdin.read() if str(password_file) == "-" else password_file.read_text(encoding="utf-8")
    except OSError as error:
        raise UsageError(f"{password_file}: cannot read the password: {error.strerror or error}") from error
    return text.splitlines()[0] if text else ""


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="The name the user signs in with.")],
    role: Annotated[
        UserRole, typer.Option(help="viewer: reads every page and the API; admin: also revokes tokens, removes users.")
    ] = UserRole.VIEWER,
    password_file: Annotated[
        Path | None,
        typer.Option(help="Read the password from the first line of FILE ('-': standard input) instead of asking."),
    ] = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Give an existing user this password and role; their sessions end.")
    ] = False,
    db: Annotated[str | None, _fleetdb_option()] = None,
) -> None:
    """Add a user of the collector's dashboard; the password (12 characters at least) is asked for, or
    read from a file or standard input, and stored as a scrypt hash.

    Example: scanner fleet user add alice --role admin
    """
    from scanner.fleet.collector.accounts import PasswordError, hash_password

    try:
        with open_fleet(db) as storage:
            hashed = hash_password(_password(password_file))
            if not storage.add_user(name, role, hashed, replace):
                raise UsageError(f"there is already a user {name!r}; --replace gives them a new password and role")
    except PasswordError as error:
        fail(UsageError(str(error)))
    except ScannerError as error:
        fail(error)
    typer.echo(f"user {terminal_safe(name)} ({role}) {'replaced' if replace else 'added'}", err=True)


@user_app.command("list")
def user_list(
    db: Annotated[str | None, _fleetdb_option()] = None,
    format: Annotated[ListFormat, typer.Option("--format", "-f", help="Output format.")] = ListFormat.TABLE,
) -> None:
    """List the dashboard's users: name, role, when added, whether they have an API token.

    Example: scanner fleet user list --format json
    """
    try:
        with open_fleet(db) as storage:
            users = [u.to_dict() for u in storage.users()]
    except ScannerError as error:
        fail(error)
    write(json.dumps(users, indent=2) + "\n" if format is ListFormat.JSON else users_table(users))


@user_app.command("remove")
def user_remove(
    name: Annotated[str, typer.Argument(help="The user who may no longer sign in.")],
    db: Annotated[str | None, _fleetdb_option()] = None,
) -> None:
    """Remove a user: their sessions end and their API token stops working at once.

    Example: scanner fleet user remove alice
    """
    try:
        with open_fleet(db) as storage:
            if not storage.remove_user(name):
                raise UsageError(f"no user {name!r} in the fleet database")
    except ScannerError as error:
        fail(error)
    typer.echo(f"user {terminal_safe(name)} removed", err=True)


@user_app.command("token")
def user_token(
    name: Annotated[str, typer.Argument(help="The user the token acts for.")],
    db: Annotated[str | None, _fleetdb_option()] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the token to FILE (created 0600) instead of stdout.")
    ] = None,
    revoke: Annotated[bool, typer.Option("--revoke", help="Take the user's API token away; make none.")] = False,
) -> None:
    """Give a user a read-only API token for scripts (replacing any earlier one), once; only its hash is
    stored. It reads GET /api/v1/... (summary, hosts, a host, exports) with 'Authorization: Bearer TOKEN'.

    Example: scanner fleet user token alice --output /secure/alice.api-token
    """
    from scanner.fleet.collector.accounts import new_api_token
    from scanner.fleet.collector.tokens import token_hash

    token = None if revoke else new_api_token()
    try:
        with open_fleet(db) as storage:
            if storage.account(name) is None:
                raise UsageError(f"no user {name!r} in the fleet database")
            if token:  # given out first: a token that cannot be written must not replace the user's
                write(token + "\n", output)
            if not storage.set_api_token(name, token_hash(token) if token else None):
                raise UsageError(f"no user {name!r} in the fleet database (removed meanwhile)")
    except ScannerError as error:
        fail(error)
    if revoke:
        typer.echo(f"API token of {terminal_safe(name)} revoked", err=True)
    elif output is not None:
        typer.echo(f"API token of {terminal_safe(name)} written to {output}", err=True)
