"""The compliance summary as one self-contained HTML page: print it, mail it, archive it.

It loads nothing (no links, scripts, images or fonts) and its Content-Security-Policy forbids it;
every value read from the scanned machine is escaped, so a folder named ``<script>`` prints as text.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from scanner.report import Report, location_text, verdict
from scanner.reporters import style
from scanner.reporters.interface import Format, Reporter
from scanner.reporters.markup import breakable as _breakable
from scanner.reporters.markup import chain_link, html_page, legend_item, rich, section, short_label, tag, verdict_banner
from scanner.reporters.markup import escape_html as _h
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
from scanner.vocabulary import Severity


def _html_table(headers: Sequence[str], rows: Iterable[Sequence[str]], nowrap: Sequence[int] = ()) -> str:
    """A table of plain-text cells (escaped here); the ``nowrap`` columns (dates, ids) stay on one line."""
    head = "".join(tag("th", _h(h)) for h in headers)
    body = "".join(
        tag("tr", "".join(tag("td", _breakable(c), "nowrap" if i in nowrap else "") for i, c in enumerate(row)))
        for row in rows
    )
    return tag("table", f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody>")


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
    word = verdict(report)
    tally = "".join(f"<div><strong>{n}</strong><span>{_h(label)}</span></div>" for label, n in count_tiles(report))
    return verdict_banner(
        _VERDICT_CLASS[word],
        f"AI model-usage compliance summary &middot; {_h(report['scan']['host'])}",
        word,
        f'<p class="meaning">{_h(verdict_meaning(report))}</p>',
        tally,
    )


def _html_policy(report: Report) -> str:
    sources = cited_sources(report)
    cited = ", ".join(tag("span", _h(s), "nowrap") for s in sources) or "none"
    small = [(f"Sources cited ({len(sources)})", cited)]
    small += [(f"Why {_h(p)} matters", rich(r)) for p, r in sorted(provider_reasons(report).items())]
    return _dl((_h(k), _h(v)) for k, v in policy_facts(report)) + _dl(small, "facts small")


def _bar_chart(name: str, title: str, rows: list[tuple[str, Counter[str]]]) -> str:
    """Horizontal stacked bars (violation, warning, info) as inline SVG: no script, no image file."""
    label_w, bar_w, row_h = 104, 190, 24
    most = max([c.total() for _, c in rows] + [1])
    height = row_h * len(rows) + 4
    desc = "; ".join(f"{label}: " + ", ".join(f"{c[s]} {s}" for s in SEVERITIES) for label, c in rows)
    parts = [
        f'<svg class="chart" role="img" aria-labelledby="{name}-t {name}-d" viewBox="0 0 {label_w + bar_w + 40} {height}" '
        f'width="{label_w + bar_w + 40}" height="{height}">',
        f'<title id="{name}-t">{_h(title)}</title><desc id="{name}-d">{_h(desc)}</desc>',
    ]
    for i, (label, counts) in enumerate(rows):
        y, x = i * row_h + 2, float(label_w)
        parts.append(f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end">{_h(short_label(label))}</text>')
        parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{bar_w}" height="16" fill="#f2f4f7"/>')
        for severity in SEVERITIES:
            width = bar_w * counts[severity] / most
            if width:
                colour = SEVERITY_COLOURS[severity]
                parts.append(f'<rect x="{x:.1f}" y="{y + 3}" width="{width:.1f}" height="16" fill="{colour}"/>')
            x += width
        parts.append(f'<text x="{label_w + bar_w + 6}" y="{y + 15}" class="n">{counts.total()}</text>')
    return "".join(parts) + "</svg>"


def _html_charts(report: Report) -> str:
    providers = counts_by(report, "provider")
    kinds = counts_by(report, "kind")
    legend = "".join(legend_item(c, s) for s, c in SEVERITY_COLOURS.items())
    by_provider = _bar_chart("by-provider", "Unwaived findings by provider", providers) if providers else ""
    return (
        '<div class="charts">'
        f"<div><h3>By provider</h3>{by_provider or '<p>No unwaived finding.</p>'}</div>"
        f"<div><h3>By kind</h3>{_bar_chart('by-kind', 'Unwaived findings by kind', kinds)}</div>"
        f'</div><p class="legend">{legend} <span>Waived findings are not counted.</span></p>'
    )


def _html_finding(finding: Finding, reasons: dict[str, str]) -> str:
    plain = sentence_fields(finding)
    fields = {k: _h(v) for k, v in plain.items()}
    fields["subject"] = tag("strong", fields["subject"])
    fields["location"] = tag("code", _breakable(plain["location"]))
    fields["rule"] = tag("code", fields["rule"])
    chain = "".join(tag("li", chain_link(link)) for link in chain_links(finding))
    evidence = "".join(tag("li", rich(e)) for e in evidence_lines(finding, reasons))
    return tag(
        "article",
        f'<p class="sentence"><span class="badge">{_h(finding["severity"])}</span> {SENTENCE.format(**fields)}</p>'
        + (tag("ol", chain, "chain") if chain else "")
        + (tag("ul", evidence, "evidence") if evidence else ""),
        f"finding {_h(finding['severity'])}",
    )


def _html_findings(report: Report, severity: str) -> str:
    reasons = provider_reasons(report)
    findings = open_findings(report, severity)
    return "".join(_html_finding(f, reasons) for f in findings) or "<p>None.</p>"


def _html_infos(report: Report) -> str:
    infos = open_findings(report, "info")
    if not infos:
        return ""
    items = "".join(tag("li", _h(info_text(f))) for f in infos[:INFOS_SHOWN])
    more = f"<li>and {len(infos) - INFOS_SHOWN} more</li>" if len(infos) > INFOS_SHOWN else ""
    return f"<h3>Information ({len(infos)})</h3>" + tag("ul", items + more, "compact")


def _html_waivers(report: Report) -> str:
    waived = waived_findings(report)
    rows = [
        [
            f["subject"],
            location_text(f["location"]),
            *(waiver_of(f)[k] for k in ("reference", "approved_by", "reason", "expires")),
        ]
        for f in waived
    ]
    headers = ["Finding", "Location", "Reference", "Approved by", "Reason", "Expires"]
    body = _html_table(headers, rows, nowrap=(2, 5)) if rows else "<p>No finding is waived.</p>"
    for rule, title in (("waiver-expired", "Expired waivers"), ("waiver-stale", "Stale waivers")):
        notes = about_waivers(report, rule)
        if notes:
            items = "".join(
                tag("li", f"<strong>{_h(f['subject'])}</strong>. {rich(' '.join(f['evidence']))}") for f in notes
            )
            body += f'<div class="callout {rule}"><h3>{title} ({len(notes)})</h3><ul>{items}</ul></div>'
    return body


def _html_skipped(report: Report) -> str:
    unreadable = unreadable_paths(report)
    rows = [[s["path"], s["reason"], s["kind"]] for s in unreadable[:SKIPPED_SHOWN]]
    body = _html_table(["Path", "Reason", "Kind"], rows) if rows else "<p>Every path in scope could be read.</p>"
    if len(unreadable) > SKIPPED_SHOWN:
        body += f"<p>and {len(unreadable) - SKIPPED_SHOWN} more (the JSON report lists them all).</p>"
    return body + f"<p>{_h(chosen_text(report))}</p>"


def _html_changes(report: Report) -> str:
    changes = report.get("changes")
    if not changes:
        return f"<p>{_h(FIRST_SCAN)}</p>"
    body = f"<p>{_h(previous_text(changes))}</p>"
    for key, title in (("new", "New since the previous scan"), ("resolved", "Resolved since the previous scan")):
        if changes[key]:
            rows = [brief_row(b) for b in changes[key]]
            table = _html_table(["Severity", "Provider", "Subject", "Location"], rows, nowrap=(0, 1))
            body += f"<h3>{title} ({len(rows)})</h3>{table}"
    return body


class HtmlReporter(Reporter):
    """The summary as one HTML page that needs nothing else: print it, mail it, archive it."""

    id = Format.HTML

    def render(self, report: Report) -> str:
        sections = [
            ("What was scanned", _dl(((_h(k), _h(v)) for k, v in scan_facts(report)), "facts two")),
            ("Policy applied", _html_policy(report)),
            ("Findings at a glance", _html_charts(report)),
            (f"Violations ({len(open_findings(report, 'violation'))})", _html_findings(report, "violation")),
            (
                f"Warnings ({len(open_findings(report, 'warning'))})",
                _html_findings(report, "warning") + _html_infos(report),
            ),
            ("Waivers", _html_waivers(report)),
            ("What could not be scanned", _html_skipped(report)),
            ("Changes since the previous scan", _html_changes(report)),
        ]
        body = "".join(section(i, title, content) for i, (title, content) in enumerate(sections, 1))
        scan = report["scan"]
        footer = (
            f"Generated by scanner {_h(scan['scanner_version'])} from scan {_h(scan['id'])} "
            f"(report schema {_h(report['schema_version'])}). Names, paths and reasons on this page were read "
            "from the scanned machine and are shown as plain text."
        )
        return html_page(
            f"{verdict(report)}: AI model-usage compliance, {scan['host']}",
            style.SUMMARY,
            f"{_html_verdict(report)}{body}<footer>{footer}</footer>",
        )
