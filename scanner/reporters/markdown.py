"""The compliance summary as Markdown, for tickets and wikis: the same sections as the HTML page.

Every value read from the scanned machine is escaped, so ``[x](http://evil)`` or a ``|`` in a name
cannot become a link, HTML or a table cell.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from scanner.report import Report, location_text, verdict
from scanner.reporters.interface import Format, Reporter
from scanner.reporters.markup import escape_markdown as _md
from scanner.reporters.markup import markdown_bar, markdown_table
from scanner.reporters.summary import (
    FIRST_SCAN,
    INFOS_SHOWN,
    SENTENCE,
    SEVERITIES,
    SKIPPED_SHOWN,
    Finding,
    about_waivers,
    brief_row,
    chain_links,
    chosen_text,
    cited_sources,
    count_tiles,
    counts_by,
    evidence_lines,
    info_text,
    open_findings,
    policy_facts,
    previous_text,
    provider_reasons,
    scan_facts,
    sentence_fields,
    unreadable_paths,
    verdict_meaning,
    waived_findings,
    waiver_of,
)


def _md_facts(facts: Iterable[tuple[str, str]]) -> list[str]:
    return [f"- **{_md(k)}:** {_md(v)}" for k, v in facts]


def _md_bars(rows: list[tuple[str, Counter[str]]], label: str) -> list[str]:
    most = max([c.total() for _, c in rows] + [1])
    table = [[name, *(str(c[s]) for s in SEVERITIES), markdown_bar(c.total(), most)] for name, c in rows]
    return markdown_table([label, "Violations", "Warnings", "Info", ""], table)


def _md_finding(finding: Finding, reasons: dict[str, str]) -> list[str]:
    fields = {k: _md(v) for k, v in sentence_fields(finding).items()}
    fields["subject"] = f"**{fields['subject']}**"
    lines = [f"- {SENTENCE.format(**fields)}"]
    if finding["lineage"]:
        lines.append("  - Lineage: " + " → ".join(_md(link) for link in chain_links(finding)))
    return lines + [f"  - {_md(e)}" for e in evidence_lines(finding, reasons)]


def _md_findings(report: Report, severity: str) -> list[str]:
    reasons = provider_reasons(report)
    lines = [line for f in open_findings(report, severity) for line in _md_finding(f, reasons)]
    return [*(lines or ["None."]), ""]


def _md_infos(report: Report) -> list[str]:
    infos = open_findings(report, "info")
    if not infos:
        return []
    items = [f"- {_md(info_text(f))}" for f in infos[:INFOS_SHOWN]]
    more = [f"- and {len(infos) - INFOS_SHOWN} more"] if len(infos) > INFOS_SHOWN else []
    return [f"### Information ({len(infos)})", "", *items, *more, ""]


def _md_waivers(report: Report) -> list[str]:
    keys = ("reference", "approved_by", "reason", "expires")
    rows = [
        [f["subject"], location_text(f["location"]), *(waiver_of(f)[k] for k in keys)] for f in waived_findings(report)
    ]
    headers = ["Finding", "Location", "Reference", "Approved by", "Reason", "Expires"]
    lines = markdown_table(headers, rows) if rows else ["No finding is waived.", ""]
    for rule, title in (("waiver-expired", "Expired waivers"), ("waiver-stale", "Stale waivers")):
        notes = about_waivers(report, rule)
        if notes:
            lines += [f"**{title} ({len(notes)}):**", ""]
            lines += [f"- **{_md(f['subject'])}**. {_md(' '.join(f['evidence']))}" for f in notes] + [""]
    return lines


def _md_skipped(report: Report) -> list[str]:
    unreadable = unreadable_paths(report)
    rows = [[s["path"], s["reason"], s["kind"]] for s in unreadable[:SKIPPED_SHOWN]]
    lines = markdown_table(["Path", "Reason", "Kind"], rows) if rows else ["Every path in scope could be read.", ""]
    if len(unreadable) > SKIPPED_SHOWN:
        lines += [f"and {len(unreadable) - SKIPPED_SHOWN} more (the JSON report lists them all).", ""]
    return [*lines, _md(chosen_text(report)), ""]


def _md_changes(report: Report) -> list[str]:
    changes = report.get("changes")
    if not changes:
        return [_md(FIRST_SCAN), ""]
    lines = [_md(previous_text(changes)), ""]
    for key, title in (("new", "New since the previous scan"), ("resolved", "Resolved since the previous scan")):
        if changes[key]:
            lines += [f"### {title} ({len(changes[key])})", ""]
            lines += markdown_table(
                ["Severity", "Provider", "Subject", "Location"], [brief_row(b) for b in changes[key]]
            )
    return lines


def _md_policy(report: Report) -> list[str]:
    sources = cited_sources(report)
    facts = [*policy_facts(report), (f"Sources cited ({len(sources)})", ", ".join(sources) or "none")]
    facts += [(f"Why {p} matters", r) for p, r in sorted(provider_reasons(report).items())]
    return [*_md_facts(facts), ""]


class MarkdownReporter(Reporter):
    """The summary as Markdown, for tickets and wikis; the same sections as the HTML page."""

    id = Format.MARKDOWN

    def render(self, report: Report) -> str:
        word = verdict(report)
        tally = count_tiles(report)
        sections: list[tuple[str, list[str]]] = [
            ("What was scanned", [*_md_facts(scan_facts(report)), ""]),
            ("Policy applied", _md_policy(report)),
            (
                "Findings at a glance (unwaived)",
                [
                    *_md_bars(counts_by(report, "provider"), "Provider"),
                    *_md_bars(counts_by(report, "kind"), "Kind"),
                ],
            ),
            (f"Violations ({len(open_findings(report, 'violation'))})", _md_findings(report, "violation")),
            (
                f"Warnings ({len(open_findings(report, 'warning'))})",
                _md_findings(report, "warning") + _md_infos(report),
            ),
            ("Waivers", _md_waivers(report)),
            ("What could not be scanned", _md_skipped(report)),
            ("Changes since the previous scan", _md_changes(report)),
        ]
        lines = [
            f"# {word}: AI model-usage compliance, {_md(report['scan']['host'])}",
            "",
            f"**{word}.** {_md(verdict_meaning(report))}",
            "",
            *markdown_table([label for label, _ in tally], [[str(n) for _, n in tally]]),
        ]
        for number, (title, content) in enumerate(sections, 1):
            lines += [f"## {number}. {title}", "", *content]
        scan = report["scan"]
        lines.append(f"_Generated by scanner {_md(scan['scanner_version'])} from scan {_md(scan['id'])}._")
        return "\n".join(lines) + "\n"
