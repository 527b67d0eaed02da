"""Text for the terminal: the small renderers of the listing commands, and escaping for a terminal.

Each takes library objects or report documents and returns text; the CLI writes it. Anything read
from a scanned machine goes through ``terminal_safe`` so a hostile name cannot move the cursor.
"""

from __future__ import annotations

from typing import Any

from tabulate import tabulate

from scanner.policy.schema import Policy
from scanner.report import Report, location_text, verdict_of
from scanner.result import Explanation
from scanner.store.database import StoredScan

_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x00, 0x20), *range(0x7F, 0xA0))}


def terminal_safe(text: str) -> str:
    """Control characters shown as ``\\xNN``: a scanned name must not move the cursor or recolour
    the terminal (``ESC[2A`` could overwrite the verdict line)."""
    return text.translate(_CONTROL)


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
