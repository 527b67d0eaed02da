"""The compliance summary as one self-contained HTML page: print it, mail it, archive it.

It loads nothing (no links, scripts, images or fonts) and its Content-Security-Policy forbids it;
every value read from the scanned machine is escaped, so a folder named ``<script>`` prints as text.
The first printed page holds the verdict, the counts and the grouped overview; the findings follow as
compact tables grouped the same way (see ``style.SUMMARY`` for the print rules).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from scanner.report import Report, verdict
from scanner.reporters import style
from scanner.reporters import summary as say
from scanner.reporters.interface import Format, Reporter
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
from scanner.reporters.next_steps import next_steps
from scanner.vocabulary import Severity


def _html_table(
    headers: Sequence[str], rows: Iterable[Sequence[str]], nowrap: Sequence[int] = (), cls: str = ""
) -> str:
    """A table of plain-text cells (escaped here); the ``nowrap`` columns (dates, ids) stay on one line."""
    head = "".join(tag("th", _h(h)) for h in headers)
    body = "".join(
        tag("tr", "".join(tag("td", _breakable(c), "nowrap" if i in nowrap else "") for i, c in enumerate(row)))
        for row in rows
    )
    return tag("table", f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody>", cls)


def _dl(facts: Iterable[tuple[str, str]], cls: str = "facts") -> str:
    """A definition list of labels and values already escaped (some values carry markup)."""
    return tag("dl", "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts), cls)


_VERDICT_CLASS = {"COMPLIANT": "ok", "NOT COMPLIANT": "bad", "INCOMPLETE SCAN": "partial"}
SEVERITY_COLOURS: dict[Severity, str] = {
    Severity.VIOLATION: "#b42318",
    Severity.WARNING: "#c4700b",
    Severity.INFO: "#98a2b3",
}


def _html_verdict(report: Report) -> str:
    tally = "".join(f"<div><strong>{n}</strong><span>{_h(label)}</span></div>" for label, n in say.count_tiles(report))
    return verdict_banner(
        _VERDICT_CLASS[verdict(report)],
        "AI model-usage compliance summary",
        verdict(report),
        f'<p class="scan">{_h(say.header_line(report))}</p><p class="meaning">{_h(say.verdict_meaning(report))}</p>',
        tally,
    )


def _bar_chart(name: str, title: str, rows: list[tuple[str, Counter[str]]]) -> str:
    """Horizontal stacked bars (violation, warning, info) as inline SVG: no script, no image file."""
    label_w, bar_w, row_h = 104, 190, 20
    most = max([c.total() for _, c in rows] + [1])
    height = row_h * len(rows) + 4
    desc = "; ".join(f"{label}: " + ", ".join(f"{c[s]} {s}" for s in say.SEVERITIES) for label, c in rows)
    parts = [
        f'<svg class="chart" role="img" aria-labelledby="{name}-t {name}-d" viewBox="0 0 {label_w + bar_w + 40} {height}" '
        f'width="{label_w + bar_w + 40}" height="{height}">',
        f'<title id="{name}-t">{_h(title)}</title><desc id="{name}-d">{_h(desc)}</desc>',
    ]
    for i, (label, counts) in enumerate(rows):
        y, x = i * row_h + 2, float(label_w)
        parts.append(f'<text x="{label_w - 8}" y="{y + 13}" text-anchor="end">{_h(short_label(label))}</text>')
        parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{bar_w}" height="14" fill="#f2f4f7"/>')
        for severity in say.SEVERITIES:
            width = bar_w * counts[severity] / most
            if width:
                colour = SEVERITY_COLOURS[severity]
                parts.append(f'<rect x="{x:.1f}" y="{y + 3}" width="{width:.1f}" height="14" fill="{colour}"/>')
            x += width
        parts.append(f'<text x="{label_w + bar_w + 6}" y="{y + 13}" class="n">{counts.total()}</text>')
    return "".join(parts) + "</svg>"


def _html_overview(report: Report) -> str:
    providers = say.counts_by(report, "provider")
    kinds = say.counts_by(report, "kind")
    legend = "".join(legend_item(c, s) for s, c in SEVERITY_COLOURS.items())
    by_provider = _bar_chart("by-provider", "Unwaived findings by provider", providers) if providers else ""
    charts = (
        '<div class="charts">'
        f"<div><h3>By provider</h3>{by_provider or '<p>No unwaived finding.</p>'}</div>"
        f"<div><h3>By kind</h3>{_bar_chart('by-kind', 'Unwaived findings by kind', kinds)}</div>"
        f'</div><p class="legend">{legend} <span>Waived findings are not counted.</span></p>'
    )
    view = say.overview(report)
    if not view.rows:
        return charts
    numeric = range(3, len(say.OVERVIEW_COLUMNS))
    head = "".join(tag("th", _h(h), "n" if i in numeric else "") for i, h in enumerate(say.OVERVIEW_COLUMNS))
    body = "".join(
        tag(
            "tr",
            tag("td", _h(provider))
            + tag("td", _h(kind))
            + tag("td", _breakable(folder))
            + "".join(tag("td", str(counts[s]), "n") for s in say.SEVERITIES)
            + tag("td", tag("strong", str(counts.total())), "n"),
        )
        for provider, kind, folder, counts in view.rows
    )
    more = say.overview_more(view)
    return (
        charts
        + "<h3>By provider, kind and folder</h3>"
        + tag("table", f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody>", "overview")
        + (tag("p", _h(more), "more") if more else "")
    )


def _html_next_steps(report: Report) -> str:
    tasks = next_steps(report)
    if not tasks:
        return "<p>Nothing to do: there is no open violation or warning.</p>"
    body = ""
    for task in tasks:
        items = "".join(
            tag("li", _h(step.text) + (tag("code", _h(step.command), "cmd") if step.command else ""))
            for step in task.steps
        )
        more = tag("li", f"and {task.more} more: the findings below list every place.", "more") if task.more else ""
        body += tag("h3", _h(task.action.value)) + tag("ol", items + more, "steps")
    return body


def _html_details(report: Report, severity: str, findings: list[say.Finding]) -> str:
    """A compact table: a heading row per group (with what its findings share), one row per finding, and
    under it, full width, what is particular to it."""
    shown, rest = say.shown_findings(severity, findings)
    if not shown:
        return ""  # the title's "(0)" says it
    head = "".join(tag("th", _h(h)) for h in say.DETAIL_COLUMNS)
    groups = ""
    for group in say.detail_groups(report, shown):
        shared = "".join(tag("p", rich(line)) for line in group.shared)
        heading = tag("tr", f'<th colspan="3">{_h(group.title)}{tag("div", shared, "shared") if shared else ""}</th>')
        rows = ""
        for row in group.rows:
            rows += tag(
                "tr",
                tag("td", tag("strong", _breakable(row.subject)))
                + tag("td", tag("code", _breakable(row.where)))
                + tag("td", f"{_h(row.rule)}{tag('small', _h(row.confidence))}"),
                "finding",
            )
            chain = tag("ol", "".join(tag("li", chain_link(link)) for link in row.chain), "chain") if row.chain else ""
            why = "".join(tag("p", rich(line)) for line in row.why) + chain
            rows += f'<tr class="why"><td colspan="3">{why}</td></tr>' if why else ""
        groups += tag("tbody", heading + rows, "group")
    table = tag("table", f"<thead><tr>{head}</tr></thead>{groups}", f"details {severity}")
    return table + (tag("p", _h(rest), "more") if rest else "")


def _html_waivers(report: Report) -> str:
    rows = say.waiver_rows(report)
    body = _html_table(say.WAIVER_COLUMNS, rows, nowrap=(2, 5)) if rows else "<p>No finding is waived.</p>"
    note = say.waivers_note(report)
    return body + (tag("p", _h(note), "more") if note else "")


def _html_coverage(report: Report) -> str:
    unreadable = say.unreadable_paths(report)
    body = tag("h3", _h(say.titled(say.NOT_READ, len(unreadable))))
    if unreadable:
        body += tag("ul", "".join(tag("li", _h(line)) for line in say.coverage_lines(report, gaps=True)), "compact")
        rows = [[s["path"], s["reason"], s["kind"]] for s in unreadable[: say.SKIPPED_SHOWN]]
        body += _html_table(say.SKIPPED_COLUMNS, rows)
        if len(unreadable) > say.SKIPPED_SHOWN:
            body += f"<p>and {len(unreadable) - say.SKIPPED_SHOWN} more (the JSON report lists them all).</p>"
    else:
        body += f"<p>{_h(say.ALL_READ)}</p>"
    chosen = say.coverage_lines(report, gaps=False)
    body += tag("h3", _h(say.titled("Skipped by choice", say.chosen_count(report))))
    items = "".join(tag("li", _h(line)) for line in chosen)
    return body + (tag("ul", items, "compact") if chosen else "")


def _html_policy(report: Report) -> str:
    reasons = [(f"Why {_h(p)} matters", rich(r)) for p, r in sorted(say.provider_reasons(report).items())]
    sources = say.source_rows(report)
    body = _dl((_h(k), _h(v)) for k, v in say.policy_facts(report))
    body += _dl(reasons, "facts small") if reasons else ""
    body += tag("h3", _h(say.titled("Sources cited", len(sources))))
    items = "".join(tag("li", _h(say.source_text(source))) for source in sources)
    return body + (tag("ol", items, "sources") if sources else "<p>None.</p>")


def _html_changes(report: Report) -> str:
    changes = report.get("changes")
    if not changes:
        return f"<p>{_h(say.FIRST_SCAN)}</p>"
    body = f"<p>{_h(say.previous_text(changes))}</p>"
    for key, title in (("new", "New since the previous scan"), ("resolved", "Resolved since the previous scan")):
        if changes[key]:
            rows = [say.brief_row(b) for b in changes[key]]
            body += f"<h3>{title} ({len(rows)})</h3>" + _html_table(say.BRIEF_COLUMNS, rows, nowrap=(0, 1))
    return body


def summary_main(report: Report) -> str:
    """The page's content without its shell: what the collector's dashboard shows inside its own."""
    severities = [
        (say.titled(title, len(findings)), _html_details(report, severity, findings))
        for severity, (title, findings) in zip(say.SEVERITIES, say.severity_sections(report), strict=True)
    ]
    sections = [
        ("Findings at a glance", _html_overview(report), "glance"),
        ("What to do next", _html_next_steps(report), ""),
        *((title, body, "") for title, body in severities),
        (say.titled(say.WAIVED, len(say.waived_findings(report))), _html_waivers(report), ""),
        ("What could not be scanned", _html_coverage(report), ""),
        ("What was scanned", _dl(((_h(k), _h(v)) for k, v in say.scan_facts(report)), "facts two"), ""),
        ("Policy applied", _html_policy(report), ""),
        ("Changes since the previous scan", _html_changes(report), ""),
    ]
    body = "".join(section(i, title, content, cls) for i, (title, content, cls) in enumerate(sections, 1))
    sign = signature_block(say.SIGNATURE, say.SIGN_OFF)
    return f"{_html_verdict(report)}{body}{sign}<footer>{_h(say.footer_text(report))}</footer>"


def summary_title(report: Report) -> str:
    return f"{verdict(report)}: AI model-usage compliance, {report['scan']['host']}"


class HtmlReporter(Reporter):
    """The summary as one HTML page that needs nothing else: print it, mail it, archive it."""

    id = Format.HTML

    def render(self, report: Report) -> str:
        return html_page(summary_title(report), style.SUMMARY, summary_main(report))
