"""The fleet summary as Markdown, for tickets and wikis: the same sections as the HTML page.

What it says comes from ``scanner.reporters.fleet_summary``; every value a host sent is escaped, so
a host named ``[x](http://evil)`` or a ``|`` in a tag cannot become a link, HTML or a table cell.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from scanner.report import FleetSummary
from scanner.reporters import fleet_summary as say
from scanner.reporters.interface import FleetFormat, FleetReporter
from scanner.reporters.markup import escape_markdown as _md
from scanner.reporters.markup import markdown_bar, markdown_table
from scanner.reporters.summary import SIGNATURE, chain_links


def _md_violations(summary: FleetSummary) -> list[str]:
    providers = say.provider_rows(summary)
    most = max([n for _, n, _ in providers] + [1])
    lines = (
        markdown_table(
            ["Provider", "Violations", "Hosts affected", ""],
            [[p, n, h, markdown_bar(n, most)] for p, n, h in providers],
        )
        if providers
        else [say.NO_VIOLATION, ""]
    )
    kinds = say.kind_rows(summary)
    most = max([n for _, n in kinds] + [1])
    lines += markdown_table(["Kind", "Violations", ""], [[k, n, markdown_bar(n, most)] for k, n in kinds])
    return [*lines, say.COUNTED, ""]


def _md_by_tag(summary: FleetSummary) -> list[str]:
    by_tag: dict[str, dict[str, dict[str, int]]] = summary["by_tag"]
    untagged = [f"### {_md(say.untagged_title(summary))}", "", _md(say.untagged_text(summary)), ""]
    if not by_tag:
        return [say.NO_TAGS, "", *untagged]
    lines: list[str] = []
    headers = ["Value", "Hosts", *(say.STATE_LABELS[s] for s in say.STATES), "Compliant share"]
    for key, values in by_tag.items():
        rows = [[value, total, *counts, say.share(counts[0], total)] for value, total, counts in say.tag_rows(values)]
        lines += [f"### By {_md(key)}", "", *markdown_table(headers, rows)]
    return lines + untagged


def _md_policy(summary: FleetSummary) -> list[str]:
    lines = say.policy_lines(summary)
    return [*(f"- {_md(line)}" for line in lines), ""] if lines else [_md(say.policy_headline(summary)), ""]


def _md_worst(summary: FleetSummary) -> list[str]:
    worst: list[dict[str, Any]] = summary["worst_hosts"]
    if not worst:
        return [say.NO_WORST, ""]
    lines: list[str] = []
    for host in worst:
        lines += [f"### {_md(host['host'])}", "", _md(say.host_line(host)), ""]
        for finding in host["findings"]:
            kind, subject, location, relation, rule = say.finding_sentence_parts(finding)
            lines.append(
                f"- {_md(kind)} **{_md(subject)}**, found at {_md(location)}, {_md(relation)} (rule {_md(rule)})."
            )
            if finding["evidence"]:
                lines.append(f"  - {_md(finding['evidence'][0])}")
            if finding["lineage"]:
                lines.append("  - Lineage: " + " → ".join(_md(link) for link in chain_links(finding)))
        more = say.more_text(host)
        lines += [f"- {more}"] if more else []
        lines.append("")
    return lines


def _md_stale(summary: FleetSummary) -> list[str]:
    rows = say.stale_rows(summary)
    if not rows:
        return [say.all_reported(summary), ""]
    return [say.STALE_NOTE, "", *markdown_table(say.STALE_COLUMNS, rows)]


def _md_waivers(summary: FleetSummary) -> list[str]:
    rows = say.waiver_rows(summary)
    if not rows:
        return [say.NO_WAIVER_EXPIRING, ""]
    return [say.RENEW_WAIVERS, "", *markdown_table(say.WAIVER_COLUMNS, rows)]


def _md_lost(summary: FleetSummary) -> list[str]:
    return [_md(say.lost_text(summary["lost_reports"])), ""]


def _md_trend(summary: FleetSummary) -> list[str]:
    points = say.trend_points(summary)
    if not points:
        return [_md(say.trend_caption(points)), ""]
    rows = [[day.isoformat(), total, ok, say.share(ok, total), markdown_bar(ok, total)] for day, total, ok in points]
    return [
        _md(say.trend_caption(points)),
        "",
        *markdown_table(["Day", "Hosts reporting", "Compliant", "Share", ""], rows),
    ]


BODIES: dict[say.Section, Callable[[FleetSummary], list[str]]] = {
    say.Section.VIOLATIONS: _md_violations,
    say.Section.TAGS: _md_by_tag,
    say.Section.WORST: _md_worst,
    say.Section.STALE: _md_stale,
    say.Section.WAIVERS: _md_waivers,
    say.Section.LOST: _md_lost,
    say.Section.TREND: _md_trend,
    say.Section.POLICY: _md_policy,
}
"""Each section's renderer (a test checks that every ``Section`` has one)."""


class FleetMarkdownReporter(FleetReporter):
    """The fleet summary as Markdown, for tickets and wikis; the same sections as the HTML page."""

    id = FleetFormat.MARKDOWN

    def render(self, summary: FleetSummary) -> str:
        word = say.fleet_verdict(summary)
        lines = [
            f"# {word}: AI model-usage compliance, fleet summary",
            "",
            f"**{word}: {_md(say.headline(summary))}** ({_md(say.breakdown(summary))}).",
            "",
            _md(say.verdict_meaning(summary)),
            "",
            f"_{_md(say.fleet_rule(summary))}_",
            "",
            _md(say.policy_headline(summary)),
            "",
            *markdown_table([label for label, _, _ in say.tiles(summary)], [[n for _, n, _ in say.tiles(summary)]]),
        ]
        for number, (title, key) in enumerate(say.sections(summary), 1):
            lines += [f"## {number}. {_md(title)}", "", *BODIES[key](summary)]
        lines += markdown_table(list(SIGNATURE), [["", "", ""]])
        lines.append(f"_{_md(say.footer_text(summary))}_")
        return "\n".join(lines) + "\n"
