"""The fleet summary as one self-contained HTML page, for officials to print, sign and archive.

A sibling of the single-machine page (``scanner.reporters.html``): the same stylesheet base, the
same escaping, the same Content-Security-Policy that forbids loading anything, and charts drawn as
inline SVG. What it says comes from ``scanner.reporters.fleet_summary``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from scanner.report import FleetSummary
from scanner.reporters import fleet_summary as say
from scanner.reporters import style
from scanner.reporters.interface import FleetFormat, FleetReporter
from scanner.reporters.markup import breakable as _breakable
from scanner.reporters.markup import (
    chain_link,
    html_page,
    legend_item,
    rich,
    section,
    short_label,
    signature_block,
    tag,
    verdict_banner,
)
from scanner.reporters.markup import escape_html as _h
from scanner.reporters.summary import SIGNATURE, chain_links
from scanner.vocabulary import HostState

STATE_COLOURS: dict[HostState, str] = {
    HostState.COMPLIANT: "#067647",
    HostState.NOT_COMPLIANT: "#b42318",
    HostState.INCOMPLETE: "#dc6803",
    HostState.STALE: "#98a2b3",
}
_VERDICT_CLASS = {"COMPLIANT": "ok", "NOT COMPLIANT": "bad", "NOT CONFIRMED": "partial"}


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], numeric: Sequence[int] = (), cls: str = "") -> str:
    """A table of cells already escaped (some carry markup); ``numeric`` columns are right-aligned."""
    head = "".join(tag("th", _h(h), "n" if i in numeric else "") for i, h in enumerate(headers))
    body = "".join(
        tag("tr", "".join(tag("td", c, "n" if i in numeric else "") for i, c in enumerate(row))) for row in rows
    )
    return tag("table", f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody>", cls)


def _html_verdict(summary: FleetSummary) -> str:
    word = say.fleet_verdict(summary)
    tally = "".join(
        tag("div", f"<strong>{n}</strong><span>{_h(label)}</span>", state or "")
        for label, n, state in say.tiles(summary)
    )
    return verdict_banner(
        _VERDICT_CLASS[word],
        f"AI model-usage compliance &middot; fleet summary &middot; {_h(say.when(summary['generated']))}",
        word,
        f'<p class="headline">{_h(say.headline(summary))} <span>({_h(say.breakdown(summary))})</span></p>'
        f'<p class="meaning">{_h(say.verdict_meaning(summary))}</p><p class="rule">{_h(say.fleet_rule(summary))}</p>'
        f'<p class="rule">{_h(say.policy_headline(summary))}</p>',
        tally,
    )


def _bar_chart(name: str, title: str, rows: list[tuple[str, int, str]]) -> str:
    """Horizontal bars of open violations as inline SVG, each with its count and a note (hosts affected)."""
    label_w, bar_w, row_h, note_w = 96, 132, 24, 112
    most = max([n for _, n, _ in rows] + [1])
    height = row_h * len(rows) + 4
    width = label_w + bar_w + note_w
    desc = "; ".join(f"{label}: {n} violation(s)" + (f" {note}" if note else "") for label, n, note in rows)
    parts = [
        f'<svg class="chart" role="img" aria-labelledby="{name}-t {name}-d" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}">',
        f'<title id="{name}-t">{_h(title)}</title><desc id="{name}-d">{_h(desc)}</desc>',
    ]
    for i, (label, n, note) in enumerate(rows):
        y = i * row_h + 2
        parts.append(f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end">{_h(short_label(label))}</text>')
        parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{bar_w}" height="16" fill="#f2f4f7"/>')
        if n:
            parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{bar_w * n / most:.1f}" height="16" fill="#b42318"/>')
        tail = f'<tspan class="note"> {_h(note)}</tspan>' if note else ""
        parts.append(f'<text x="{label_w + bar_w + 6}" y="{y + 15}" class="n">{n}{tail}</text>')
    return "".join(parts) + "</svg>"


def _html_violations(summary: FleetSummary) -> str:
    providers = [(p, n, f"on {hosts} host(s)") for p, n, hosts in say.provider_rows(summary)]
    kinds = [(k, n, "") for k, n in say.kind_rows(summary)]
    by_provider = (
        _bar_chart("by-provider", "Open violations by provider", providers)
        if providers
        else f"<p>{_h(say.NO_VIOLATION)}</p>"
    )
    return (
        '<div class="charts">'
        f"<div><h3>By provider, with the hosts affected</h3>{by_provider}</div>"
        f"<div><h3>By kind</h3>{_bar_chart('by-kind', 'Open violations by kind', kinds)}</div></div>"
        f'<p class="legend">{_h(say.COUNTED)}</p>'
    )


def _state_bar(counts: list[int], total: int) -> str:
    """A small stacked bar of a group's hosts by state, in ``STATES`` order."""
    width, x = 80.0, 0.0
    parts = [f'<svg class="mini" width="{width:.0f}" height="10" aria-hidden="true">']
    parts.append(f'<rect width="{width:.0f}" height="10" fill="#f2f4f7"/>')
    for state, n in zip(say.STATES, counts, strict=True):
        if n and total:
            w = width * n / total
            parts.append(f'<rect x="{x:.1f}" width="{w:.1f}" height="10" fill="{STATE_COLOURS[state]}"/>')
            x += w
    return "".join(parts) + "</svg>"


def _html_by_tag(summary: FleetSummary) -> str:
    by_tag: dict[str, dict[str, dict[str, int]]] = summary["by_tag"]
    untagged = tag("h3", _h(say.untagged_title(summary))) + tag("p", _breakable(say.untagged_text(summary)))
    if not by_tag:
        return f"<p>{_h(say.NO_TAGS)}</p>" + untagged
    body = ""
    headers = ["Value", "Hosts", *(say.STATE_LABELS[s] for s in say.STATES), "Compliant share", ""]
    for key, values in by_tag.items():
        rows = [
            [
                _breakable(value),
                str(total),
                *(str(n) for n in counts),
                say.share(counts[0], total),
                _state_bar(counts, total),
            ]
            for value, total, counts in say.tag_rows(values)
        ]
        body += f"<h3>By {_h(key)}</h3>" + _table(headers, rows, numeric=(1, 2, 3, 4, 5, 6), cls="tags")
    legend = "".join(legend_item(STATE_COLOURS[s], say.STATE_LABELS[s].lower()) for s in say.STATES)
    return body + f'<p class="legend">{legend}</p>' + untagged


def _html_policy(summary: FleetSummary) -> str:
    lines = say.policy_lines(summary)
    if not lines:
        return f"<p>{_h(say.policy_headline(summary))}</p>"
    return tag("ul", "".join(tag("li", _breakable(line)) for line in lines), "policies")


def _html_finding(finding: dict[str, Any]) -> str:
    kind, subject, location, relation, rule = say.finding_sentence_parts(finding)
    sentence = (
        f"{_h(kind)} <strong>{_h(subject)}</strong>, found at <code>{_breakable(location)}</code>, "
        f"{_h(relation)} (rule <code>{_h(rule)}</code>)."
    )
    chain = "".join(tag("li", chain_link(link)) for link in chain_links(finding))
    evidence = tag("p", rich(finding["evidence"][0]), "evidence") if finding["evidence"] else ""
    return tag(
        "li",
        tag("p", sentence, "sentence") + evidence + (tag("ol", chain, "chain") if chain else ""),
    )


def _html_worst(summary: FleetSummary) -> str:
    worst: list[dict[str, Any]] = summary["worst_hosts"]
    if not worst:
        return f"<p>{_h(say.NO_WORST)}</p>"
    articles = []
    for host in worst:
        more = say.more_text(host)
        articles.append(
            tag(
                "article",
                f'<h3><span class="badge">{host["violations"]} violation(s)</span> {_breakable(host["host"])}</h3>'
                f'<p class="about">{_h(say.host_line(host))}</p>'
                + tag("ul", "".join(_html_finding(f) for f in host["findings"]), "findings")
                + (tag("p", _h(more), "more") if more else ""),
                "host",
            )
        )
    return "".join(articles)


def _plain_table(
    headers: Sequence[str], rows: Iterable[Sequence[str]], breaks: Sequence[int], nowrap: Sequence[int]
) -> str:
    """A table of plain-text cells, escaped here: the ``breaks`` columns (names, paths) may wrap after a
    slash, the ``nowrap`` ones (dates, references) stay on one line."""

    def cell(column: int, text: str) -> str:
        if column in breaks:
            return _breakable(text)
        return tag("span", _h(text), "nowrap") if column in nowrap else _h(text)

    return _table(headers, [[cell(i, text) for i, text in enumerate(row)] for row in rows])


def _html_stale(summary: FleetSummary) -> str:
    rows = say.stale_rows(summary)
    if not rows:
        return f"<p>{_h(say.all_reported(summary))}</p>"
    return f"<p>{_h(say.STALE_NOTE)}</p>" + _plain_table(say.STALE_COLUMNS, rows, breaks=(0,), nowrap=(2,))


def _html_waivers(summary: FleetSummary) -> str:
    rows = say.waiver_rows(summary)
    if not rows:
        return f"<p>{_h(say.NO_WAIVER_EXPIRING)}</p>"
    return f"<p>{_h(say.RENEW_WAIVERS)}</p>" + _plain_table(say.WAIVER_COLUMNS, rows, breaks=(0, 1), nowrap=(2, 4))


def _html_lost(summary: FleetSummary) -> str:
    return tag("p", _h(say.lost_text(summary["lost_reports"])), "callout")


def _html_trend(summary: FleetSummary) -> str:
    points = say.trend_points(summary)
    if not points:
        return f"<p>{_h(say.trend_caption(points))}</p>"
    width, height, left, right, top, bottom = 680, 170, 40, 8, 18, 24
    plot_w, plot_h = width - left - right, height - top - bottom
    first = points[0][0]
    span = (points[-1][0] - first).days + 1
    slot = plot_w / span
    bar = min(slot * 0.72, 28.0)
    desc = "; ".join(f"{day}: {ok} of {total} compliant" for day, total, ok in points)
    parts = [
        f'<svg class="chart trend" role="img" aria-labelledby="trend-t trend-d" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}">',
        f'<title id="trend-t">Share of reporting hosts that were compliant, per day</title><desc id="trend-d">{_h(desc)}</desc>',
    ]
    for fraction in (0, 0.5, 1):
        y = top + plot_h * (1 - fraction)
        parts.append(f'<rect x="{left}" y="{y:.1f}" width="{plot_w}" height="0.8" fill="#d0d5dd"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" class="axis">{fraction:.0%}</text>')
    step = max(1, math.ceil(len(points) / 8))
    for i, (day, total, ok) in enumerate(points):
        x = left + (day - first).days * slot + (slot - bar) / 2
        parts.append(f'<rect x="{x:.1f}" y="{top}" width="{bar:.1f}" height="{plot_h}" fill="#fecdca"/>')
        green = plot_h * ok / total if total else 0
        if green:
            parts.append(
                f'<rect x="{x:.1f}" y="{top + plot_h - green:.1f}" width="{bar:.1f}" height="{green:.1f}" fill="#067647"/>'
            )
        centre = x + bar / 2
        if len(points) <= 14 or i == len(points) - 1:
            parts.append(
                f'<text x="{centre:.1f}" y="{top - 4}" text-anchor="middle" class="n">{say.share(ok, total)}</text>'
            )
        if i % step == 0 or i == len(points) - 1:
            parts.append(
                f'<text x="{centre:.1f}" y="{height - 8}" text-anchor="middle" class="axis">{day:%m-%d}</text>'
            )
    legend = legend_item("#067647", "no open violation") + legend_item("#fecdca", "open violations")
    return (
        "".join(parts) + f'</svg><p class="legend">{legend}</p><p class="caption">{_h(say.trend_caption(points))}</p>'
    )


BODIES: dict[say.Section, Callable[[FleetSummary], str]] = {
    say.Section.VIOLATIONS: _html_violations,
    say.Section.TAGS: _html_by_tag,
    say.Section.WORST: _html_worst,
    say.Section.STALE: _html_stale,
    say.Section.WAIVERS: _html_waivers,
    say.Section.LOST: _html_lost,
    say.Section.TREND: _html_trend,
    say.Section.POLICY: _html_policy,
}
"""Each section's renderer (a test checks that every ``Section`` has one)."""


def fleet_main(summary: FleetSummary) -> str:
    """The page's content without its shell: what the collector's dashboard shows inside its own."""
    body = "".join(section(i, title, BODIES[key](summary)) for i, (title, key) in enumerate(say.sections(summary), 1))
    return f"{_html_verdict(summary)}{body}{signature_block(SIGNATURE)}<footer>{_h(say.footer_text(summary))}</footer>"


def fleet_title(summary: FleetSummary) -> str:
    return f"{say.fleet_verdict(summary)}: AI model-usage compliance, fleet of {summary['hosts']['total']} host(s)"


class FleetHtmlReporter(FleetReporter):
    """The fleet summary as one HTML page that needs nothing else, with boxes for the official's signature."""

    id = FleetFormat.HTML

    def render(self, summary: FleetSummary) -> str:
        return html_page(fleet_title(summary), style.FLEET, fleet_main(summary))
