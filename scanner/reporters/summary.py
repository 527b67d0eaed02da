"""What the one-page compliance summary for officials says, shared by its HTML and Markdown forms.

Both render the same sections in the same order: the verdict, what was scanned, the policy and its
sources, counts by provider and kind, each violation and warning in one plain sentence with its
evidence and lineage, the waivers, what could not be read, and what changed since the last scan.
Every value comes from a scanned machine, so every value is escaped: a folder named
``<script>`` or ``[x](http://evil)`` must print as text. The HTML page loads nothing (no links,
scripts, images or fonts) and its Content-Security-Policy forbids it, so it can be mailed, archived
and printed as it is.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

from scanner.report import Report, is_gap, location_text, policy_text
from scanner.vocabulary import INVENTORY_KINDS, Severity

Finding = dict[str, Any]

SEVERITIES: tuple[Severity, ...] = tuple(Severity)
"""Most severe first, as the pages list them."""
RECORD_KINDS = INVENTORY_KINDS
SKIPPED_SHOWN = 50
INFOS_SHOWN = 20
_NO_PROVIDER = "(not on the allow-list)"

# ---------------------------------------------------------------------------------------------
# What the page says, as plain text: shared by both formats so that they cannot drift apart.


def verdict_meaning(report: Report) -> str:
    """The one sentence under the verdict: what it means for this machine."""
    summary, policy = report["summary"], policy_text(report)
    if not summary["compliant"]:
        tail = " Part of the machine could not be read as well." if not summary["complete"] else ""
        return f"{summary['violations']} violation(s) of policy {policy} found on this machine.{tail}"
    if not summary["complete"]:
        return "Part of the machine could not be read, so compliance cannot be confirmed; no violation was found in the rest."
    waived = len(waived_findings(report))
    tail = f" ({waived} finding(s) are covered by approved waivers.)" if waived else ""
    return f"No banned AI provider, model or endpoint was found on this machine under policy {policy}.{tail}"


def count_tiles(report: Report) -> list[tuple[str, int]]:
    summary = report["summary"]
    return [
        ("Violations", summary["violations"]),
        ("Warnings", summary["warnings"]),
        ("Info", summary["infos"]),
        ("Waived", len(waived_findings(report))),
        ("Unreadable paths", len(unreadable_paths(report))),
    ]


def _when(timestamp: str) -> str:
    return timestamp.replace("T", " ").replace("Z", " UTC")


def _duration(scan: dict[str, Any]) -> str:
    started, finished = (datetime.strptime(scan[k], "%Y-%m-%dT%H:%M:%SZ") for k in ("started", "finished"))
    seconds = int((finished - started).total_seconds())
    return f"{seconds // 60} min {seconds % 60} s" if seconds >= 60 else f"{seconds} s"


def scan_facts(report: Report) -> list[tuple[str, str]]:
    scan, summary = report["scan"], report["summary"]
    coverage = scan["coverage"]
    found = ", ".join(f"{n} {kind}(s)" for kind, n in summary["records"].items()) or "nothing"
    return [
        ("Host", scan["host"]),
        ("Root", f"{scan['root']} (standing in for /)" if scan["root"] else "the live machine (/)"),
        ("Paths scanned", ", ".join(scan["roots"])),
        ("Excluded", ", ".join(scan["excludes"]) or "nothing"),
        ("Started", _when(scan["started"])),
        ("Finished", f"{_when(scan['finished'])} (took {_duration(scan)})"),
        ("Examined", f"{coverage['dirs']} directories, {coverage['files']} files; found {found}"),
        ("Scanner", f"version {scan['scanner_version']}, scan {scan['id']}"),
    ]


_MODES = {
    "denylist": "deny-list: what the policy names is reported",
    "allowlist": "allow-list: whatever the policy does not allow is reported",
}


def policy_facts(report: Report) -> list[tuple[str, str]]:
    scan = report["scan"]
    facts = [("Policy", f"{p['id']} {p['version']}, {p['path']} (sha256 {p['sha256'][:12]})") for p in scan["policy"]]
    return [*facts, ("Mode", _MODES.get(scan["policy_mode"], scan["policy_mode"]))]


def cited_sources(report: Report) -> list[str]:
    """The distinct policy sources the findings cite, in the order they are first cited."""
    return list(dict.fromkeys(s for f in report["findings"] for s in f["sources"]))


def _judged(report: Report) -> list[Finding]:
    """Findings about what is on the machine (waiver findings are about the waivers file)."""
    return [f for f in report["findings"] if f["kind"] in RECORD_KINDS]


def open_findings(report: Report, severity: str) -> list[Finding]:
    return [f for f in _judged(report) if not f["waived"] and f["severity"] == severity]


def waived_findings(report: Report) -> list[Finding]:
    return [f for f in report["findings"] if f["waived"]]


def about_waivers(report: Report, rule_id: str) -> list[Finding]:
    return [f for f in report["findings"] if f["rule_id"] == rule_id]


def provider_reasons(report: Report) -> dict[str, str]:
    """Each provider's "why it matters" sentence, when all its findings end with the same one.

    The engine closes every finding with the provider's rationale and sources; said once under the
    policy it is read once, and the findings keep only what is particular to them.
    """
    endings: dict[str, set[str]] = {}
    for f in _judged(report):
        if f["provider"] and len(f["evidence"]) > 1:
            endings.setdefault(f["provider"], set()).add(f["evidence"][-1])
    return {provider: ends.pop() for provider, ends in endings.items() if len(ends) == 1}


def evidence_lines(finding: Finding, reasons: dict[str, str]) -> list[str]:
    shared = reasons.get(finding["provider"] or "")
    return [e for e in finding["evidence"] if e != shared]


def chain_links(finding: Finding) -> list[str]:
    """The lineage as links of a chain: the engine writes each link after the first as ``→ ...``."""
    return [link.removeprefix("→").strip() for link in finding["lineage"]]


def counts_by(report: Report, key: str) -> list[tuple[str, Counter[str]]]:
    """Unwaived findings per provider or kind, split by severity (waived ones are not a problem)."""
    counts: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for f in _judged(report):
        if not f["waived"]:
            counts[f[key] or _NO_PROVIDER][f["severity"]] += 1
    if key == "kind":  # all three, in a fixed order: "0 endpoints" is news too
        return [(kind, counts[kind]) for kind in RECORD_KINDS]
    return sorted(counts.items(), key=lambda item: (-item[1].total(), item[0]))


def relation_text(finding: Finding) -> str:
    """How a finding's subject relates to its provider, as its sentence says it (the fleet page's too)."""
    provider = finding["provider"]
    if provider is None:
        return "is not on the policy's allow-list"
    return f"{'points to' if finding['kind'] == 'endpoint' else 'is attributed to'} provider {provider}"


def sentence_fields(finding: Finding) -> dict[str, str]:
    """The parts of the plain sentence that describes a finding (see ``SENTENCE``)."""
    return {
        "kind": finding["kind"].capitalize(),
        "subject": finding["subject"],
        "location": location_text(finding["location"]),
        "relation": relation_text(finding),
        "rule": finding["rule_id"],
        "confidence": finding["confidence"],
    }


SENTENCE = "{kind} {subject}, found at {location}, {relation} (rule {rule}, {confidence} evidence)."


def info_text(finding: Finding) -> str:
    """Infos are listed, not explained: what, whose, where and which rule."""
    where = location_text(finding["location"])
    return f"{finding['subject']} ({finding['provider'] or 'no provider'}) at {where}, rule {finding['rule_id']}"


def unreadable_paths(report: Report) -> list[dict[str, str]]:
    return [s for s in report["scan"]["coverage"]["skipped"] if is_gap(s)]


def _chosen(report: Report) -> Counter[str]:
    return Counter(s["kind"] for s in report["scan"]["coverage"]["skipped"] if not is_gap(s))


def chosen_text(report: Report) -> str:
    chosen = _chosen(report)
    detail = ", ".join(f"{n} {kind}" for kind, n in sorted(chosen.items()))
    return f"{chosen.total()} path(s) were skipped by choice" + (f" ({detail})." if detail else ".")


def waiver_of(finding: Finding) -> dict[str, str]:
    return finding.get("waiver") or dict.fromkeys(("reference", "approved_by", "reason", "expires", "location"), "-")


def previous_text(changes: dict[str, Any]) -> str:
    previous = changes["previous_scan"]
    return (
        f"Compared with the previous scan of the same host and paths ({previous['id'][:8]}, finished "
        f"{_when(previous['finished'])}): {len(changes['new'])} new, {len(changes['resolved'])} resolved, "
        f"{len(changes['unchanged'])} unchanged finding(s)."
    )


FIRST_SCAN = "This is the first recorded scan of this host and paths: there is nothing to compare with."


def brief_row(brief: Finding) -> list[str]:
    severity = brief["severity"] + (" (waived)" if brief["waived"] else "")
    return [severity, brief["provider"] or "-", brief["subject"], location_text(brief["location"])]
