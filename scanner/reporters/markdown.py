"""The compliance summary as Markdown, for tickets and wikis: the same sections as the HTML page.

Every value read from the scanned machine is escaped, so ``[x](http://evil)`` or a ``|`` in a name
cannot become a link, HTML or a table cell.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from scanner.report import Report, verdict
from scanner.reporters import summary as say
from scanner.reporters.interface import Format, Reporter
from scanner.reporters.markup import escape_markdown as _md
from scanner.reporters.markup import markdown_bar, markdown_table
from scanner.reporters.next_steps import next_steps


def _md_facts(facts: Iterable[tuple[str, str]]) -> list[str]:
    return [f"- **{_md(k)}:** {_md(v)}" for k, v in facts]


def _md_bars(rows: list[tuple[str, Counter[str]]], label: str) -> list[str]:
    most = max([c.total() for _, c in rows] + [1])
    table = [[name, *(str(c[s]) for s in say.SEVERITIES), markdown_bar(c.total(), most)] for name, c in rows]
    return markdown_table([label, *say.SEVERITY_TITLES.values(), ""], table)


def _md_overview(report: Report) -> list[str]:
    providers = say.counts_by(report, "provider")
    lines = _md_bars(providers, "Provider") if providers else ["No unwaived finding.", ""]
    lines += _md_bars(say.counts_by(report, "kind"), "Kind")
    view = say.overview(report)
    if view.rows:
        rows = [[p, k, folder, *(c[s] for s in say.SEVERITIES), c.total()] for p, k, folder, c in view.rows]
        lines += ["### By provider, kind and folder", "", *markdown_table(say.OVERVIEW_COLUMNS, rows)]
    more = say.overview_more(view)
    return lines + ([_md(more), ""] if more else [])


def _md_next_steps(report: Report) -> list[str]:
    tasks = next_steps(report)
    if not tasks:
        return ["Nothing to do: there is no open violation or warning.", ""]
    lines: list[str] = []
    for task in tasks:
        lines += [f"### {task.action.value}", ""]
        for number, step in enumerate(task.steps, 1):
            # the command as escaped text after a hard line break: a code span would show the escapes
            lines.append(f"{number}. {_md(step.text)}" + (f"\\\n   Run: {_md(step.command)}" if step.command else ""))
        lines += [f"- and {task.more} more: the findings below list every place."] if task.more else []
        lines.append("")
    return lines


def _md_details(report: Report, severity: str, findings: list[say.Finding]) -> list[str]:
    shown, rest = say.shown_findings(severity, findings)
    if not shown:
        return []  # the title's "(0)" says it
    lines: list[str] = []
    for group in say.detail_groups(report, shown):
        lines += [f"#### {_md(group.title)}", ""]
        lines += [f"- {_md(line)}" for line in group.shared] + ([""] if group.shared else [])
        rows = [
            [
                row.subject,
                row.where,
                f"{row.rule} ({row.confidence})",
                " ".join([*row.why, *(["Lineage: " + " → ".join(row.chain)] if row.chain else [])]),
            ]
            for row in group.rows
        ]
        lines += markdown_table([*say.DETAIL_COLUMNS, "Why"], rows)
    return lines + ([_md(rest), ""] if rest else [])


def _md_waivers(report: Report) -> list[str]:
    rows = say.waiver_rows(report)
    lines = markdown_table(say.WAIVER_COLUMNS, rows) if rows else ["No finding is waived.", ""]
    note = say.waivers_note(report)
    return lines + ([_md(note), ""] if note else [])


def _md_coverage(report: Report) -> list[str]:
    unreadable = say.unreadable_paths(report)
    lines = [f"### {_md(say.titled(say.NOT_READ, len(unreadable)))}", ""]
    if unreadable:
        lines += [f"- {_md(line)}" for line in say.coverage_lines(report, gaps=True)] + [""]
        rows = [[s["path"], s["reason"], s["kind"]] for s in unreadable[: say.SKIPPED_SHOWN]]
        lines += markdown_table(say.SKIPPED_COLUMNS, rows)
        if len(unreadable) > say.SKIPPED_SHOWN:
            lines += [f"and {len(unreadable) - say.SKIPPED_SHOWN} more (the JSON report lists them all).", ""]
    else:
        lines += [say.ALL_READ, ""]
    chosen = say.coverage_lines(report, gaps=False)
    lines += [f"### {_md(say.titled('Skipped by choice', say.chosen_count(report)))}", ""]
    return lines + [f"- {_md(line)}" for line in chosen] + [""]


def _md_policy(report: Report) -> list[str]:
    facts = [
        *say.policy_facts(report),
        *((f"Why {p} matters", r) for p, r in sorted(say.provider_reasons(report).items())),
    ]
    sources = say.source_rows(report)
    lines = [*_md_facts(facts), "", f"### {say.titled('Sources cited', len(sources))}", ""]
    items = [f"{n}. {_md(say.source_text(source))}" for n, source in enumerate(sources, 1)]
    return lines + ([*items, ""] if sources else ["None.", ""])


def _md_changes(report: Report) -> list[str]:
    changes = report.get("changes")
    if not changes:
        return [_md(say.FIRST_SCAN), ""]
    lines = [_md(say.previous_text(changes)), ""]
    for key, title in (("new", "New since the previous scan"), ("resolved", "Resolved since the previous scan")):
        if changes[key]:
            lines += [f"### {title} ({len(changes[key])})", ""]
            lines += markdown_table(say.BRIEF_COLUMNS, [say.brief_row(b) for b in changes[key]])
    return lines


class MarkdownReporter(Reporter):
    """The summary as Markdown, for tickets and wikis; the same sections as the HTML page."""

    id = Format.MARKDOWN

    def render(self, report: Report) -> str:
        word = verdict(report)
        tally = say.count_tiles(report)
        severities = [
            (say.titled(title, len(findings)), _md_details(report, severity, findings))
            for severity, (title, findings) in zip(say.SEVERITIES, say.severity_sections(report), strict=True)
        ]
        sections: list[tuple[str, list[str]]] = [
            ("Findings at a glance", _md_overview(report)),
            ("What to do next", _md_next_steps(report)),
            *severities,
            (say.titled(say.WAIVED, len(say.waived_findings(report))), _md_waivers(report)),
            ("What could not be scanned", _md_coverage(report)),
            ("What was scanned", [*_md_facts(say.scan_facts(report)), ""]),
            ("Policy applied", _md_policy(report)),
            ("Changes since the previous scan", _md_changes(report)),
        ]
        lines = [
            f"# {word}: AI model-usage compliance, {_md(report['scan']['host'])}",
            "",
            _md(say.header_line(report)),
            "",
            f"**{word}.** {_md(say.verdict_meaning(report))}",
            "",
            *markdown_table([label for label, _ in tally], [[str(n) for _, n in tally]]),
        ]
        for number, (title, content) in enumerate(sections, 1):
            lines += [f"## {number}. {_md(title)}", "", *content]
        lines += [_md(say.SIGN_OFF), "", *markdown_table(say.SIGNATURE, [["", "", ""]])]
        lines.append(f"_{_md(say.footer_text(report))}_")
        return "\n".join(lines) + "\n"
