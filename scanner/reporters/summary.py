"""What the compliance summary for officials says, shared by its HTML and Markdown forms.

Both render the same sections in the same order. The first printed page holds the verdict, its counts
and the findings grouped by provider, kind and folder; then what to do next, each finding in a compact
table grouped the same way, the waived findings, what could not be read and whether that could hide
use, what was scanned, the policy and the sources it cites (by title and date), what changed since the
last scan, and lines for the reviewer's signature. Each count on the verdict's tiles is the length of
the list its section shows (``severity_sections``, ``count_tiles``), so a tile and its section cannot
disagree. Every value comes from a scanned machine, so both forms escape every value.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from scanner.report import Report, is_gap, location_text, policy_text
from scanner.reporters.grouping import group_by_folder, inside
from scanner.vocabulary import INVENTORY_KINDS, RecordKind, RuleId, Severity, SkipKind

Finding = dict[str, Any]

SEVERITIES: tuple[Severity, ...] = tuple(Severity)
"""Most severe first, as the pages list them."""
SEVERITY_TITLES: dict[Severity, str] = {
    Severity.VIOLATION: "Violations",
    Severity.WARNING: "Warnings",
    Severity.INFO: "Information",
}
"""A severity's tile label and section title: one word for both."""
WAIVED = "Waived"
NOT_READ = "Could not be read"
RECORD_KINDS = INVENTORY_KINDS
OVERVIEW_GROUPS = 12
"""Rows of the grouped overview: it shares the first printed page with the verdict."""
DETAIL_GROUPS = 40
"""Groups per severity in the findings' tables; folders are cut shorter to stay within it."""
INFOS_SHOWN = 50
SKIPPED_SHOWN = 50
SIGNATURE = ("Reviewed by (name, role)", "Date", "Signature")
"""The lines an official fills in at the foot of a page (the single machine's and the fleet's)."""
_NO_PROVIDER = "(not on the allow-list)"
_NO_PROVIDER_WAIVER = "(any provider)"

# ---------------------------------------------------------------------------------------------
# The verdict, its tiles and the sections they count: computed here once.


def open_findings(report: Report, severity: str) -> list[Finding]:
    """The unwaived findings of one severity, about the machine or about the waivers: what the severity's
    tile counts, what its section lists, and what the report's summary counts."""
    return [f for f in report["findings"] if not f["waived"] and f["severity"] == severity]


def waived_findings(report: Report) -> list[Finding]:
    return [f for f in report["findings"] if f["waived"]]


def unreadable_paths(report: Report) -> list[dict[str, str]]:
    """The coverage entries that leave the scan incomplete: what could not be read, as opposed to skipped by choice."""
    return [s for s in report["scan"]["coverage"]["skipped"] if is_gap(s)]


def severity_sections(report: Report) -> list[tuple[str, list[Finding]]]:
    """(title, findings) of each severity's section, most severe first."""
    return [(SEVERITY_TITLES[s], open_findings(report, s)) for s in SEVERITIES]


def count_tiles(report: Report) -> list[tuple[str, int]]:
    """The verdict's tiles: each is the length of the list under the section or heading of the same name."""
    severities = [(title, len(findings)) for title, findings in severity_sections(report)]
    return [*severities, (WAIVED, len(waived_findings(report))), (NOT_READ, len(unreadable_paths(report)))]


def titled(title: str, count: int) -> str:
    """A section's title with its count, as the tile of the same name shows it."""
    return f"{title} ({count})"


def verdict_meaning(report: Report) -> str:
    """The sentence under the verdict: what it means for this machine."""
    summary, policy = report["summary"], policy_text(report)
    gaps = len(unreadable_paths(report))
    if not summary["compliant"]:
        violations = len(open_findings(report, Severity.VIOLATION))
        tail = f" {gaps} path(s) could not be read as well, and could hide more." if not summary["complete"] else ""
        return f"{violations} violation(s) of policy {policy} found on this machine.{tail}"
    if not summary["complete"]:
        return (
            f"{gaps} path(s) could not be read and could hide use, so compliance cannot be confirmed; "
            "no violation was found in the rest."
        )
    waived = len(waived_findings(report))
    tail = f" ({waived} finding(s) are covered by approved waivers.)" if waived else ""
    return f"No banned AI provider, model or endpoint was found on this machine under policy {policy}.{tail}"


def when(timestamp: str) -> str:
    return timestamp.replace("T", " ").replace("Z", " UTC")


def header_line(report: Report) -> str:
    """Whose machine, when and against what: the line above the verdict."""
    scan = report["scan"]
    return f"Host {scan['host']} · scanned {when(scan['finished'])} · policy {policy_text(report)}"


# ---------------------------------------------------------------------------------------------
# The findings at a glance: counts by provider and kind, and grouped by provider, kind and folder.


def provider_label(finding: Finding) -> str:
    if finding["provider"]:
        return str(finding["provider"])
    return _NO_PROVIDER_WAIVER if finding["kind"] == RecordKind.WAIVER else _NO_PROVIDER


def _open(report: Report) -> list[Finding]:
    return [f for f in report["findings"] if not f["waived"]]


def counts_by(report: Report, key: str) -> list[tuple[str, Counter[str]]]:
    """Unwaived findings per provider or kind, split by severity (waived ones are not a problem)."""
    counts: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for f in _open(report):
        counts[provider_label(f) if key == "provider" else f[key]][f["severity"]] += 1
    if key == "kind":  # the three record kinds always, in a fixed order ("0 endpoints" is news too)
        return [(kind, counts[kind]) for kind in RECORD_KINDS] + [
            (kind, c) for kind, c in counts.items() if kind not in RECORD_KINDS
        ]
    return sorted(counts.items(), key=lambda item: (-item[1].total(), item[0]))


@dataclass(frozen=True)
class Overview:
    rows: tuple[tuple[str, str, str, Counter[str]], ...]
    """(provider, kind, folder, count per severity), in the order of their first finding."""
    more_groups: int
    more_findings: int


def overview(report: Report) -> Overview:
    """The unwaived findings grouped by provider, kind and folder, folders cut short enough for the groups to
    fit the first page; if even one folder level makes too many, the largest groups are shown."""
    groups = group_by_folder(_open(report), lambda f: (provider_label(f), f["kind"]), OVERVIEW_GROUPS)
    largest = sorted(range(len(groups)), key=lambda i: -len(groups[i].findings))[:OVERVIEW_GROUPS]
    rows = tuple(
        (groups[i].key[0], groups[i].key[1], groups[i].folder, Counter(f["severity"] for f in groups[i].findings))
        for i in sorted(largest)
    )
    hidden = [g for i, g in enumerate(groups) if i not in largest]
    return Overview(rows, len(hidden), sum(len(g.findings) for g in hidden))


OVERVIEW_COLUMNS = ("Provider", "Kind", "Folder", *SEVERITY_TITLES.values(), "Total")


def overview_more(view: Overview) -> str | None:
    if not view.more_groups:
        return None
    return f"and {view.more_groups} smaller group(s) with {view.more_findings} finding(s), in the tables below."


# ---------------------------------------------------------------------------------------------
# Each finding, in a table grouped like the overview.


@dataclass(frozen=True)
class DetailRow:
    subject: str
    where: str
    """The finding's place, inside its group's folder."""
    rule: str
    confidence: str
    why: tuple[str, ...]
    """The evidence particular to this finding (its place said as ``PLACE_SHOWN``: the row shows it)."""
    chain: tuple[str, ...]
    """The lineage, link by link."""


@dataclass(frozen=True)
class DetailGroup:
    provider: str
    kind: str
    folder: str
    shared: tuple[str, ...]
    """Evidence every finding of the group gives, said once for the group."""
    rows: tuple[DetailRow, ...]

    @property
    def title(self) -> str:
        return f"{self.provider} · {self.kind} · {self.folder} ({len(self.rows)})"


PLACE_SHOWN = "the place shown"
"""Stands for each finding's own place in evidence said once for a group."""


def _placeless(line: str, finding: Finding) -> str:
    """The evidence line with the finding's own place said as ``PLACE_SHOWN``: ten .env files that set the
    same URL say so in one line for the group, not ten (a place that is not a path is left as it is)."""
    location = finding["location"]
    if not str(location["path"]).startswith("/"):
        return line
    return line.replace(location_text(location), PLACE_SHOWN).replace(str(location["path"]), PLACE_SHOWN)


def detail_groups(report: Report, findings: list[Finding]) -> list[DetailGroup]:
    """The findings grouped like the overview. A row shows the finding's place, so its evidence says
    ``PLACE_SHOWN`` instead; evidence that every finding of a group gives is said once for the group."""
    reasons = provider_reasons(report)
    groups = group_by_folder(findings, lambda f: (provider_label(f), f["kind"]), DETAIL_GROUPS)
    result = []
    for group in groups:
        lines = [evidence_lines(f, reasons) for f in group.findings]
        generic = [[_placeless(e, f) for e in own] for f, own in zip(group.findings, lines, strict=True)]
        shared = [e for e in generic[0] if all(e in other for other in generic[1:])] if len(lines) > 1 else []
        rows = tuple(
            DetailRow(
                f["subject"],
                inside(group.folder, location_text(f["location"])),
                f["rule_id"],
                f["confidence"],
                tuple(g for g in general if g not in shared),
                tuple(chain_links(f)),
            )
            for f, general in zip(group.findings, generic, strict=True)
        )
        result.append(DetailGroup(group.key[0], group.key[1], group.folder, tuple(shared), rows))
    return result


DETAIL_COLUMNS = ("Finding", "Where", "Rule")


def shown_findings(severity: str, findings: list[Finding]) -> tuple[list[Finding], str | None]:
    """The findings a severity's table lists, and the line that counts the rest: every violation and
    warning; information up to ``INFOS_SHOWN``."""
    if severity != Severity.INFO or len(findings) <= INFOS_SHOWN:
        return findings, None
    return findings[:INFOS_SHOWN], f"and {len(findings) - INFOS_SHOWN} more (the JSON report lists them all)."


def provider_reasons(report: Report) -> dict[str, str]:
    """Each provider's "why it matters" sentence, when all its findings end with the same one.

    The engine closes every finding with the provider's rationale and sources; said once under the
    policy it is read once, and the findings keep only what is particular to them.
    """
    endings: dict[str, set[str]] = {}
    for f in report["findings"]:
        if f["kind"] in RECORD_KINDS and f["provider"] and len(f["evidence"]) > 1:
            endings.setdefault(f["provider"], set()).add(f["evidence"][-1])
    return {provider: ends.pop() for provider, ends in endings.items() if len(ends) == 1}


def evidence_lines(finding: Finding, reasons: dict[str, str]) -> list[str]:
    shared = reasons.get(finding["provider"] or "")
    return [e for e in finding["evidence"] if e != shared]


def chain_links(finding: Finding) -> list[str]:
    """The lineage as links of a chain: the engine writes each link after the first as ``→ ...``."""
    return [link.removeprefix("→").strip() for link in finding["lineage"]]


def relation_text(finding: Finding) -> str:
    """How a finding's subject relates to its provider, as the fleet page's sentences say it."""
    provider = finding["provider"]
    if provider is None:
        return "is not on the policy's allow-list"
    return f"{'points to' if finding['kind'] == 'endpoint' else 'is attributed to'} provider {provider}"


# ---------------------------------------------------------------------------------------------
# Waivers, coverage, what was scanned, the policy and its sources, changes.


def waivers_note(report: Report) -> str | None:
    """Where the findings about the waivers themselves are: with the warnings and information, each once."""
    expired = sum(1 for f in report["findings"] if f["rule_id"] == RuleId.WAIVER_EXPIRED)
    stale = sum(1 for f in report["findings"] if f["rule_id"] == RuleId.WAIVER_STALE)
    if not expired and not stale:
        return None
    return (
        f"{expired} expired and {stale} stale waiver(s) (one that matches nothing) are listed with the warnings "
        "and information above."
    )


def waiver_of(finding: Finding) -> dict[str, str]:
    return finding.get("waiver") or dict.fromkeys(("reference", "approved_by", "reason", "expires", "location"), "-")


WAIVER_COLUMNS = ("Finding", "Location", "Reference", "Approved by", "Reason", "Expires")


def waiver_rows(report: Report) -> list[list[str]]:
    keys = ("reference", "approved_by", "reason", "expires")
    return [
        [f["subject"], location_text(f["location"]), *(waiver_of(f)[k] for k in keys)] for f in waived_findings(report)
    ]


SKIP_MEANINGS: dict[SkipKind, tuple[str, str]] = {
    SkipKind.UNREADABLE: (
        "could not be read",
        "This could hide use: a package, model, key or setting there was not seen.",
    ),
    SkipKind.ERROR: (
        "made a part of the scanner fail",
        "This could hide use: what that part looks for was not checked there.",
    ),
    SkipKind.UNSUPPORTED: (
        "were read in part or not understood (a log cut at its cap, lines in no known format)",
        "This could hide use: what was not understood was not checked.",
    ),
    SkipKind.EXCLUDED: ("were excluded on purpose (--exclude)", "Not checked, by choice."),
    SkipKind.FILESYSTEM: (
        "are on a filesystem the walk does not enter (network or pseudo filesystems; --include-fstype adds one)",
        "Not checked, by choice: scan it on the machine that holds it.",
    ),
    SkipKind.DUPLICATE_MOUNT: (
        "are a filesystem mounted a second time",
        "This hides nothing: it was read at its other place.",
    ),
    SkipKind.PARTIAL: (
        "are large text files read up to the size cap for their kind",
        "This hides nothing: what was not read names no provider, or its use was already found.",
    ),
    SkipKind.SPECIAL: (
        "are FIFOs, sockets, devices, pseudo-filesystem files or links not read through",
        "This hides nothing: they hold nothing at rest, or nothing their owner could read through the link.",
    ),
}
"""What each kind of coverage entry means, and whether what it left unread could hide use."""


def coverage_lines(report: Report, gaps: bool) -> list[str]:
    """One plain sentence per kind of coverage entry: the gaps (``gaps``), or what was skipped by choice."""
    counts = Counter(SkipKind(s["kind"]) for s in report["scan"]["coverage"]["skipped"] if is_gap(s) == gaps)
    return [
        f"{n} path(s) {SKIP_MEANINGS[kind][0]}. {SKIP_MEANINGS[kind][1]}"
        for kind, n in sorted(counts.items(), key=lambda item: list(SkipKind).index(item[0]))
    ]


def chosen_count(report: Report) -> int:
    return sum(1 for s in report["scan"]["coverage"]["skipped"] if not is_gap(s))


ALL_READ = "Every path in scope could be read."
SKIPPED_COLUMNS = ("Path", "Reason", "Kind")


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
        ("Started", when(scan["started"])),
        ("Finished", f"{when(scan['finished'])} (took {_duration(scan)})"),
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


def source_rows(report: Report) -> list[dict[str, str]]:
    """The sources the findings cite (title, date, kind), in the order first cited; a report made before
    reports carried their sources names a source by its id alone."""
    known: dict[str, dict[str, str]] = report.get("sources") or {}
    cited = dict.fromkeys(s for f in report["findings"] for s in f["sources"])
    return [known.get(s) or {"title": s, "date": "", "kind": ""} for s in cited]


def source_text(source: dict[str, str]) -> str:
    """``Title (date, kind)``: how the pages name a source."""
    about = ", ".join(part for part in (source["date"], source["kind"]) if part)
    return source["title"] + (f" ({about})" if about else "")


def previous_text(changes: dict[str, Any]) -> str:
    previous = changes["previous_scan"]
    return (
        f"Compared with the previous scan of the same host and paths ({previous['id'][:8]}, finished "
        f"{when(previous['finished'])}): {len(changes['new'])} new, {len(changes['resolved'])} resolved, "
        f"{len(changes['unchanged'])} unchanged finding(s)."
    )


FIRST_SCAN = "This is the first recorded scan of this host and paths: there is nothing to compare with."
BRIEF_COLUMNS = ("Severity", "Provider", "Subject", "Location")


def brief_row(brief: Finding) -> list[str]:
    severity = brief["severity"] + (" (waived)" if brief["waived"] else "")
    return [severity, brief["provider"] or "-", brief["subject"], location_text(brief["location"])]


SIGN_OFF = "Reviewed against the findings above; the actions listed under What to do next are assigned."


def footer_text(report: Report) -> str:
    scan = report["scan"]
    return (
        f"Generated by scanner {scan['scanner_version']} from scan {scan['id']} (report schema "
        f"{report['schema_version']}). Names, paths and reasons on this page were read from the scanned machine "
        "and are shown as plain text."
    )
