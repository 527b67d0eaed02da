"""Text for the terminal: the small renderers of the listing commands, and escaping for a terminal.

Each takes library objects or report documents and returns text; the CLI writes it. Anything read
from a scanned machine goes through ``terminal_safe`` so a hostile name cannot move the cursor.
The fleet's listings take documents, or a protocol the agent's records meet: the reporters sit
below the fleet and never import it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from scanner.limits import shown
from scanner.policy.schema import Policy
from scanner.printable import printable
from scanner.report import Report, location_text, verdict_of
from scanner.reporters.tables import tabulate
from scanner.result import Explanation

if TYPE_CHECKING:  # the store's types, for annotations: an audit with --no-store never loads the store (sqlite3)
    from scanner.store.database import StoredScan, StoreSize
    from scanner.store.retention import Pruned, Retention


def terminal_safe(text: str) -> str:
    """Control characters shown as ``\\xNN`` and text-direction controls as ``\\uNNNN``: a scanned name
    must not move the cursor, recolour the terminal (``ESC[2A`` could overwrite the verdict line) or
    reorder what is printed after it (U+202E). Secrets are masked and long values cut, as in every report."""
    return printable(shown(text))


def terminal_safe_document(value: Any) -> Any:
    """A document (a report, a summary, a listing) with every string in it, keys too, made
    ``terminal_safe``: for what the fleet's agents wrote, before any format renders it, so that no field
    a renderer forgets can reach the admin's terminal raw (a policy id once carried clear-screen and an
    OSC 52 clipboard write into ``fleet show``)."""
    if isinstance(value, str):
        return terminal_safe(value)
    if isinstance(value, dict):
        return {terminal_safe(str(k)): terminal_safe_document(v) for k, v in value.items()}
    if isinstance(value, list):
        return [terminal_safe_document(v) for v in value]
    return value


def explanation_text(explanation: Explanation) -> str:
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


def diff_text(old: Report, new: Report, changes: dict[str, Any]) -> str:
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


def history_table(scans: list[StoredScan]) -> str:
    rows = [
        [
            s.id[:8],
            s.finished,
            terminal_safe(s.host),
            verdict_of(s.compliant, s.complete),
            s.violations,
            s.warnings,
            s.records,
            terminal_safe(s.policy),
        ]
        for s in scans
    ]
    headers = ["scan", "finished", "host", "verdict", "violations", "warnings", "records", "policy"]
    return (tabulate(rows, headers) if rows else "No scans recorded yet.") + "\n"


def megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def store_footer(size: StoreSize, retention: Retention, pruned: Pruned) -> str:
    """Under ``history``: the store's size, and what ``retention`` would remove."""
    cache = (
        f"file cache: {size.file_cache_entries} entries, {megabytes(size.file_cache_bytes)}, "
        f"{size.quiet_files} files passed over while unchanged; "
        f"folder listings: {megabytes(size.folder_listings_bytes)}"
    )
    would = f"{len(pruned.scans)} scan(s)" if pruned.scans else "nothing"
    return (
        f"Store: {megabytes(size.bytes)} ({cache}). Retention ({retention.describe()}) would remove {would} "
        "(see: scanner prune --dry-run).\n"
    )


def prune_text(pruned: Pruned) -> str:
    if not pruned.scans:
        return f"Nothing to remove; the store takes {megabytes(pruned.before.bytes)}.\n"
    listing = history_table(list(pruned.scans))
    if pruned.dry_run:
        return f"{listing}Would remove these {len(pruned.scans)} scan(s) (dry run: nothing removed).\n"
    return (
        f"{listing}Removed {len(pruned.scans)} scan(s); the store went from {megabytes(pruned.before.bytes)} "
        f"to {megabytes(pruned.after.bytes)}.\n"
    )


def policy_summary(loaded: Policy) -> str:
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


def fleet_hosts_table(hosts: list[dict[str, Any]]) -> str:
    """The hosts as ``scanner fleet hosts --format json`` lists them (each with its ``state``), as a table;
    names and tags were sent by the hosts, so they are made safe."""
    rows = [
        [
            terminal_safe(h["host"]),
            h["state"].upper(),
            h["last_seen"] or "never",
            h["violations"],
            h["warnings"],
            h["reports"],
            "revoked" if h["revoked"] else ("yes" if h["has_token"] else "no"),
            _ahead(h["clock_ahead"]),
            terminal_safe(", ".join(f"{k}={v}" for k, v in sorted(h["tags"].items()))),
        ]
        for h in hosts
    ]
    headers = ["host", "state", "last report", "violations", "warnings", "reports", "token", "clock", "tags"]
    return (tabulate(rows, headers) if rows else "No hosts yet.") + "\n"


def users_table(users: list[dict[str, Any]]) -> str:
    """The dashboard's users as ``scanner fleet user list --format json`` lists them, as a table."""
    rows = [[terminal_safe(u["name"]), u["role"], u["created"], "yes" if u["api_token"] else "no"] for u in users]
    headers = ["user", "role", "created", "API token"]
    return (tabulate(rows, headers) if rows else "No users yet: scanner fleet user add NAME --role admin") + "\n"


def recent_reports_table(recent: list[dict[str, Any]]) -> str:
    """A host's recent reports (the collector's storage rows), last arrived first, under its latest report;
    ``clock`` says by how much a report was dated after it arrived (its host's clock ahead)."""
    rows = [
        [
            terminal_safe(r["id"][:8]),
            r["finished"],
            r["received"],
            _ahead(r["clock_ahead"]),
            r["violations"],
            r["warnings"],
        ]
        for r in recent
    ]
    headers = ["report", "finished", "received", "clock", "violations", "warnings"]
    return "\nRecent reports:\n" + tabulate(rows, headers) + "\n"


def _ahead(seconds: int) -> str:
    return f"{seconds} s ahead" if seconds > 0 else ""


class SpooledReport(Protocol):
    """A report waiting in the agent's spool (the agent's ``Spooled`` is one)."""

    @property
    def id(self) -> str: ...
    @property
    def created(self) -> str: ...
    @property
    def attempts(self) -> int: ...
    @property
    def rejected(self) -> bool: ...
    @property
    def last_error(self) -> str | None: ...


def spool_table(spooled: Sequence[SpooledReport]) -> str:
    rows = [[s.id, s.created, s.attempts, "rejected" if s.rejected else "pending", s.last_error or ""] for s in spooled]
    headers = ["report", "spooled", "attempts", "state", "last error"]
    return (tabulate(rows, headers) if rows else "The spool is empty.") + "\n"
