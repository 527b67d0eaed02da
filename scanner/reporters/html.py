"""The compliance summary as one self-contained HTML page: print it, mail it, archive it.

It loads nothing (no links, scripts, images or fonts) and its Content-Security-Policy forbids it;
every value read from the scanned machine is escaped, so a folder named ``<script>`` prints as text.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from scanner.report import Report, location_text, verdict
from scanner.reporters.interface import Format, Reporter
from scanner.reporters.markup import breakable as _breakable
from scanner.reporters.markup import content_security_policy
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

# ---------------------------------------------------------------------------------------------
# HTML


def _rich(text: str) -> str:
    """Escaped text whose `quoted` parts (names, the way the engine writes them) become <code>."""
    parts = text.split("`")
    if len(parts) % 2 == 0:  # an unbalanced backtick: show the text as it is
        return _h(text)
    return "".join(f"<code>{_h(p)}</code>" if i % 2 else _h(p) for i, p in enumerate(parts))


def _tag(name: str, body: str, cls: str = "") -> str:
    return f'<{name} class="{cls}">{body}</{name}>' if cls else f"<{name}>{body}</{name}>"


def _html_table(headers: Sequence[str], rows: Iterable[Sequence[str]], nowrap: Sequence[int] = ()) -> str:
    """A table of plain-text cells (escaped here); the ``nowrap`` columns (dates, ids) stay on one line."""
    head = "".join(_tag("th", _h(h)) for h in headers)
    body = "".join(
        _tag("tr", "".join(_tag("td", _breakable(c), "nowrap" if i in nowrap else "") for i, c in enumerate(row)))
        for row in rows
    )
    return _tag("table", f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody>")


def _dl(facts: Iterable[tuple[str, str]], cls: str = "facts") -> str:
    """A definition list of labels and values already escaped (some values carry markup)."""
    return _tag("dl", "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts), cls)


def _section(number: int, title: str, body: str) -> str:
    return _tag("section", f'<h2><span class="num">{number}</span>{_h(title)}</h2>{body}')


_ICONS = {
    "ok": '<path d="M14 25l7 7 13-15"/>',
    "bad": '<path d="M16 16l16 16M32 16L16 32"/>',
    "partial": '<path d="M24 12v14M24 34v1"/>',
}
_VERDICT_CLASS = {"COMPLIANT": "ok", "NOT COMPLIANT": "bad", "INCOMPLETE SCAN": "partial"}
SEVERITY_COLOURS: dict[Severity, str] = {
    Severity.VIOLATION: "#b42318",
    Severity.WARNING: "#c4700b",
    Severity.INFO: "#98a2b3",
}


def _html_verdict(report: Report) -> str:
    word = verdict(report)
    cls = _VERDICT_CLASS[word]
    icon = (
        '<svg class="icon" viewBox="0 0 48 48" width="64" height="64" aria-hidden="true">'
        f'<circle cx="24" cy="24" r="23"/>{_ICONS[cls]}</svg>'
    )
    tally = "".join(f"<div><strong>{n}</strong><span>{_h(label)}</span></div>" for label, n in count_tiles(report))
    return (
        f'<header class="verdict {cls}"><div class="top">{icon}<div>'
        f'<p class="kicker">AI model-usage compliance summary &middot; {_h(report["scan"]["host"])}</p>'
        f'<h1>{_h(word)}</h1><p class="meaning">{_h(verdict_meaning(report))}</p></div></div>'
        f'<div class="tally">{tally}</div></header>'
    )


def _html_policy(report: Report) -> str:
    sources = cited_sources(report)
    cited = ", ".join(_tag("span", _h(s), "nowrap") for s in sources) or "none"
    small = [(f"Sources cited ({len(sources)})", cited)]
    small += [(f"Why {_h(p)} matters", _rich(r)) for p, r in sorted(provider_reasons(report).items())]
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
        shown = label if len(label) <= 16 else label[:15] + "…"
        parts.append(f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end">{_h(shown)}</text>')
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
    legend = "".join(
        f'<span><svg width="10" height="10" aria-hidden="true"><rect width="10" height="10" fill="{c}"/></svg> {s}</span>'
        for s, c in SEVERITY_COLOURS.items()
    )
    by_provider = _bar_chart("by-provider", "Unwaived findings by provider", providers) if providers else ""
    return (
        '<div class="charts">'
        f"<div><h3>By provider</h3>{by_provider or '<p>No unwaived finding.</p>'}</div>"
        f"<div><h3>By kind</h3>{_bar_chart('by-kind', 'Unwaived findings by kind', kinds)}</div>"
        f'</div><p class="legend">{legend} <span>Waived findings are not counted.</span></p>'
    )


def _html_link(link: str) -> str:
    """One link of a lineage chain: what it is, with its (where from) in small print."""
    head, bracket, detail = link.partition(" (")
    return _rich(head) + (" " + _tag("small", _rich(bracket.strip() + detail)) if bracket else "")


def _html_finding(finding: Finding, reasons: dict[str, str]) -> str:
    plain = sentence_fields(finding)
    fields = {k: _h(v) for k, v in plain.items()}
    fields["subject"] = _tag("strong", fields["subject"])
    fields["location"] = _tag("code", _breakable(plain["location"]))
    fields["rule"] = _tag("code", fields["rule"])
    chain = "".join(_tag("li", _html_link(link)) for link in chain_links(finding))
    evidence = "".join(_tag("li", _rich(e)) for e in evidence_lines(finding, reasons))
    return _tag(
        "article",
        f'<p class="sentence"><span class="badge">{_h(finding["severity"])}</span> {SENTENCE.format(**fields)}</p>'
        + (_tag("ol", chain, "chain") if chain else "")
        + (_tag("ul", evidence, "evidence") if evidence else ""),
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
    items = "".join(_tag("li", _h(info_text(f))) for f in infos[:INFOS_SHOWN])
    more = f"<li>and {len(infos) - INFOS_SHOWN} more</li>" if len(infos) > INFOS_SHOWN else ""
    return f"<h3>Information ({len(infos)})</h3>" + _tag("ul", items + more, "compact")


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
                _tag("li", f"<strong>{_h(f['subject'])}</strong>. {_rich(' '.join(f['evidence']))}") for f in notes
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


_CSS = """
@page { margin: 14mm 13mm 16mm; @bottom-right { content: "Page " counter(page) " of " counter(pages); font: 8pt sans-serif; color: #667085; } }
* { box-sizing: border-box; }
html { background: #e4e7ec; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { margin: 0; font: 10pt/1.45 "Helvetica Neue", Arial, "Liberation Sans", "DejaVu Sans", sans-serif; color: #1d2939; }
main { max-width: 210mm; margin: 0 auto; padding: 12mm 13mm; background: #fff; }
code { font: 8.6pt "DejaVu Sans Mono", Menlo, Consolas, monospace; overflow-wrap: anywhere; }
h1, h2, h3 { margin: 0; break-after: avoid; page-break-after: avoid; }
h2 { font-size: 12pt; margin: 16px 0 6px; padding-bottom: 3px; border-bottom: 1.5px solid #d0d5dd; }
h2 .num { display: inline-block; width: 1.6em; color: #667085; }
h3 { font-size: 10pt; margin: 8px 0 4px; }
p { margin: 4px 0; }
.verdict { padding: 12px 16px; border-radius: 6px; border: 2px solid; break-inside: avoid; }
.verdict .top { display: flex; align-items: center; gap: 16px; }
.verdict h1 { font-size: 32pt; line-height: 1.05; letter-spacing: .5px; }
.verdict .kicker { text-transform: uppercase; letter-spacing: 1px; font-size: 8pt; color: #475467; }
.verdict .meaning { font-size: 11pt; font-weight: 600; }
.verdict .icon circle { fill: currentColor; }
.verdict .icon path { stroke: #fff; stroke-width: 5; fill: none; stroke-linecap: round; stroke-linejoin: round; }
.ok { color: #067647; background: #ecfdf3; border-color: #067647; }
.bad { color: #b42318; background: #fef3f2; border-color: #b42318; }
.partial { color: #b54708; background: #fffaeb; border-color: #b54708; }
.verdict .meaning, .verdict .tally { color: #1d2939; }
.tally { display: grid; grid-template-columns: repeat(5, 1fr); gap: 6px; margin-top: 10px; text-align: center; }
.tally div { background: #fff; border: 1px solid #d0d5dd; border-radius: 4px; padding: 3px 6px; }
.tally strong { display: block; font-size: 15pt; line-height: 1.15; }
.tally span { font-size: 7pt; text-transform: uppercase; letter-spacing: .5px; color: #475467; }
.facts { display: grid; grid-template-columns: 30mm 1fr; gap: 1px 10px; margin: 0; }
.facts dt { font-weight: 600; color: #475467; }
.facts dd { margin: 0; overflow-wrap: anywhere; }
table { width: 100%; border-collapse: collapse; margin: 4px 0; font-size: 8.6pt; }
thead { display: table-header-group; }
tr { break-inside: avoid; page-break-inside: avoid; }
th { text-align: left; background: #f2f4f7; font-weight: 600; white-space: nowrap; }
th, td { padding: 3px 6px; border-bottom: 1px solid #eaecf0; vertical-align: top; overflow-wrap: break-word; }
.facts.two { grid-template-columns: 30mm 1fr 22mm 1.2fr; }
.facts.small { margin-top: 4px; font-size: 8pt; color: #344054; }
.nowrap { white-space: nowrap; }
.charts { display: grid; grid-template-columns: 1fr 1fr; gap: 18px; }
.chart text { font-size: 11px; fill: #1d2939; }
.chart text.n { font-weight: 700; }
.legend { font-size: 8pt; color: #475467; }
.legend span { margin-right: 12px; }
.finding { border: 1px solid #d0d5dd; border-left: 5px solid; border-radius: 4px; padding: 6px 10px; margin: 6px 0; break-inside: avoid; page-break-inside: avoid; }
.finding.violation { border-left-color: #b42318; }
.finding.warning { border-left-color: #c4700b; }
.sentence { margin: 0; }
.badge { display: inline-block; font-size: 7pt; font-weight: 700; text-transform: uppercase; color: #fff; background: #b42318; border-radius: 3px; padding: 1px 5px; vertical-align: 1px; }
.warning .badge { background: #c4700b; }
.chain { list-style: none; margin: 5px 0 2px; padding: 4px 8px; background: #f2f4f7; border-radius: 4px; font-size: 8.6pt; }
.chain::before { content: "Lineage "; font-weight: 700; color: #475467; }
.chain li { display: inline; }
.chain li + li::before { content: " \\2192  "; font-weight: 700; color: #b42318; }
.chain small { color: #667085; font-size: 7.8pt; }
.evidence { margin: 4px 0 0; padding-left: 16px; font-size: 8.6pt; color: #344054; }
.compact { padding-left: 16px; font-size: 8.6pt; }
.callout { border: 1px solid #c4700b; background: #fffaeb; border-radius: 4px; padding: 4px 10px; margin: 6px 0; break-inside: avoid; font-size: 8.6pt; }
.callout ul { margin: 2px 0; padding-left: 16px; }
footer { margin-top: 14px; padding-top: 6px; border-top: 1px solid #d0d5dd; font-size: 7.5pt; color: #667085; }
@media print { html { background: #fff; } main { max-width: none; padding: 0; } }
"""
_CSP = content_security_policy(_CSS)


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
        body = "".join(_section(i, title, content) for i, (title, content) in enumerate(sections, 1))
        scan = report["scan"]
        footer = (
            f"Generated by scanner {_h(scan['scanner_version'])} from scan {_h(scan['id'])} "
            f"(report schema {_h(report['schema_version'])}). Names, paths and reasons on this page were read "
            "from the scanned machine and are shown as plain text."
        )
        return (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_h(verdict(report))}: AI model-usage compliance, {_h(scan['host'])}</title>"
            f"<style>{_CSS}</style></head>\n<body><main>{_html_verdict(report)}{body}"
            f"<footer>{footer}</footer></main></body></html>\n"
        )
