"""The fleet summary officials sign, as one self-contained HTML page or as Markdown.

It renders the document ``scanner.fleet.summary.fleet_summary`` builds, in the same order in both
forms: the fleet's verdict (compliant only when every host is compliant and none is silent), the
open violations by provider and kind, the hosts by tag, the worst hosts with their evidence, the
stale hosts, the waivers that expire soon, the reports agents had to drop, and the compliance trend.
It is a sibling of the single-machine summary (``scanner.reporters.html`` and ``.markdown``): the
same look, the same escaping, the same Content-Security-Policy that forbids loading anything, and
charts drawn as inline SVG. Host names, tags, subjects, paths and evidence were sent by the hosts
themselves, so every one of them is escaped: a host named ``<script>`` prints as text.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from scanner.report import location_text
from scanner.reporters.markup import breakable as _breakable
from scanner.reporters.markup import content_security_policy
from scanner.reporters.markup import escape_html as _h
from scanner.reporters.markup import escape_markdown as _md
from scanner.reporters.summary import RECORD_KINDS, chain_links

FleetSummary = dict[str, Any]
FORMS = ("html", "markdown")

STATES = ("compliant", "not-compliant", "incomplete", "stale")
_STATE_LABEL = {
    "compliant": "Compliant",
    "not-compliant": "Not compliant",
    "incomplete": "Incomplete",
    "stale": "Stale",
}
_STATE_COLOUR = {"compliant": "#067647", "not-compliant": "#b42318", "incomplete": "#dc6803", "stale": "#98a2b3"}
_VERDICT_CLASS = {"COMPLIANT": "ok", "NOT COMPLIANT": "bad", "NOT CONFIRMED": "partial"}
SILENT_HOST = "A silent host is not a compliant host."

# ---------------------------------------------------------------------------------------------
# What the page says, as plain text: shared by both forms so that they cannot drift apart.


def fleet_verdict(summary: FleetSummary) -> str:
    """``COMPLIANT`` only when every host is compliant and none is stale; ``NOT COMPLIANT`` when a
    host has an open violation; otherwise ``NOT CONFIRMED`` (incomplete scans, silent hosts, no host)."""
    hosts = summary["hosts"]
    if hosts["total"] and hosts["compliant"] == hosts["total"]:
        return "COMPLIANT"
    return "NOT COMPLIANT" if hosts["not_compliant"] else "NOT CONFIRMED"


def headline(summary: FleetSummary) -> str:
    hosts = summary["hosts"]
    return f"{hosts['compliant']} of {hosts['total']} hosts compliant"


def breakdown(summary: FleetSummary) -> str:
    hosts = summary["hosts"]
    return f"{hosts['not_compliant']} not compliant, {hosts['incomplete']} incomplete, {hosts['stale']} stale"


def verdict_meaning(summary: FleetSummary) -> str:
    """What the verdict means for this fleet, in one or two plain sentences."""
    hosts, days = summary["hosts"], summary["stale_after_days"]
    if not hosts["total"]:
        return "No host is known to the collector yet, so nothing can be confirmed."
    others = f"{hosts['incomplete']} could not be scanned completely and {hosts['stale']} are stale"
    word = fleet_verdict(summary)
    if word == "COMPLIANT":
        return f"Every host's latest report is compliant and every host reported within the last {days} day(s)."
    if word == "NOT COMPLIANT":
        return f"{hosts['not_compliant']} host(s) have open violations of policy in their latest report; {others}."
    return f"No host has an open violation, but not every host can be vouched for: {others}."


def fleet_rule(summary: FleetSummary) -> str:
    """The rule the verdict follows, said on every page so that nobody reads silence as compliance."""
    return (
        f"The fleet is compliant only when every host is compliant and none is stale. {SILENT_HOST} "
        f"A host with no report in the last {summary['stale_after_days']} day(s) is stale, never compliant."
    )


def tiles(summary: FleetSummary) -> list[tuple[str, int, str]]:
    """(label, count, state) for the verdict's tally; state picks a colour."""
    hosts = summary["hosts"]
    return [
        ("Hosts", hosts["total"], ""),
        ("Compliant", hosts["compliant"], "compliant"),
        ("Not compliant", hosts["not_compliant"], "not-compliant"),
        ("Incomplete", hosts["incomplete"], "incomplete"),
        ("Stale", hosts["stale"], "stale"),
    ]


def when(timestamp: str | None) -> str:
    if timestamp is None:
        return "never reported"
    return timestamp.replace("T", " ").replace("Z", " UTC")


def _moment(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))


def silent_for(timestamp: str | None, generated: str) -> str:
    """How long a stale host has been silent, as of when the summary was made."""
    if timestamp is None:
        return "since it was registered"
    days = (_moment(generated) - _moment(timestamp)).days
    return f"{days} day(s)" if days >= 1 else "less than a day"


def tags_text(tags: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(tags.items())) or "-"


def kind_rows(summary: FleetSummary) -> list[tuple[str, int]]:
    """Violations per kind: the three record kinds always (zero endpoints is news too), then any other."""
    by_kind: dict[str, int] = summary["violations_by_kind"]
    extra = [(k, n) for k, n in by_kind.items() if k not in RECORD_KINDS]
    return [(k, by_kind.get(k, 0)) for k in RECORD_KINDS] + extra


def provider_rows(summary: FleetSummary) -> list[tuple[str, int, int]]:
    """(provider, open violations, hosts affected), most violations first."""
    affected: dict[str, int] = summary["hosts_by_provider"]
    return [(p, n, affected.get(p, 0)) for p, n in summary["violations_by_provider"].items()]


def tag_rows(values: dict[str, dict[str, int]]) -> list[tuple[str, int, list[int]]]:
    """(value, hosts, count per state in ``STATES`` order) for one tag key."""
    return [(value, c.get("hosts", 0), [c.get(s, 0) for s in STATES]) for value, c in values.items()]


def finding_sentence_parts(finding: dict[str, Any]) -> tuple[str, str, str, str, str]:
    """(kind, subject, location, relation, rule) of the plain sentence that names a worst host's finding."""
    provider = finding["provider"]
    if provider is None:
        relation = "is not on the policy's allow-list"
    else:
        relation = f"{'points to' if finding['kind'] == 'endpoint' else 'is attributed to'} provider {provider}"
    return (
        finding["kind"].capitalize(),
        finding["subject"],
        location_text(finding["location"]),
        relation,
        finding["rule_id"],
    )


def host_line(host: dict[str, Any]) -> str:
    return (
        f"{host['violations']} violation(s), {host['warnings']} warning(s); latest report {when(host['last_seen'])}; "
        f"tags: {tags_text(host['tags'])}"
    )


def lost_text(lost: int) -> str:
    return (
        f"{lost} report(s) never reached the collector: agents had to drop them from a full spool (as they told "
        "the collector on their next delivery). What those scans found is unknown; the hosts' later reports are "
        "counted above."
    )


def trend_points(summary: FleetSummary) -> list[tuple[date, int, int]]:
    return [(date.fromisoformat(t["day"]), t["hosts"], t["compliant"]) for t in summary["trend"]]


def share(ok: int, total: int) -> str:
    return f"{round(100 * ok / total)}%" if total else "-"


def trend_caption(points: list[tuple[date, int, int]]) -> str:
    if not points:
        return "No host reported in the period the trend covers: there is no trend to show."
    first, last = points[0], points[-1]
    span = f"on {last[0]}" if len(points) == 1 else f"from {first[0]} to {last[0]}"
    return (
        f"Share of the hosts that reported each day whose last report that day was compliant (no open violation, "
        f"and the whole machine read), {span} (latest: {last[2]} of {last[1]}, {share(last[2], last[1])}). Hosts "
        "that did not report on a day are not counted in that day (see the stale hosts)."
    )


def footer_text(summary: FleetSummary) -> str:
    return (
        f"Fleet summary generated {when(summary['generated'])} from each host's latest report; hosts are stale after "
        f"{summary['stale_after_days']} day(s) without a report. Host names, tags, paths and evidence on this page "
        "were sent by the hosts and are shown as plain text."
    )


# ---------------------------------------------------------------------------------------------
# HTML (escaping as scanner.reporters.html does; its helpers are private, so the few needed are here)


def _rich(text: str) -> str:
    """Escaped text whose `quoted` parts (names, the way the engine writes them) become <code>."""
    parts = text.split("`")
    if len(parts) % 2 == 0:
        return _h(text)
    return "".join(f"<code>{_h(p)}</code>" if i % 2 else _h(p) for i, p in enumerate(parts))


def _tag(name: str, body: str, cls: str = "") -> str:
    return f'<{name} class="{cls}">{body}</{name}>' if cls else f"<{name}>{body}</{name}>"


def _section(number: int, title: str, body: str) -> str:
    return _tag("section", f'<h2><span class="num">{number}</span>{_h(title)}</h2>{body}')


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], numeric: Sequence[int] = (), cls: str = "") -> str:
    """A table of cells already escaped (some carry markup); ``numeric`` columns are right-aligned."""
    head = "".join(_tag("th", _h(h), "n" if i in numeric else "") for i, h in enumerate(headers))
    body = "".join(
        _tag("tr", "".join(_tag("td", c, "n" if i in numeric else "") for i, c in enumerate(row))) for row in rows
    )
    return _tag("table", f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody>", cls)


def _short(label: str, most: int = 16) -> str:
    return label if len(label) <= most else label[: most - 1] + "…"


_ICONS = {
    "ok": '<path d="M14 25l7 7 13-15"/>',
    "bad": '<path d="M16 16l16 16M32 16L16 32"/>',
    "partial": '<path d="M24 12v14M24 34v1"/>',
}


def _html_verdict(summary: FleetSummary) -> str:
    word = fleet_verdict(summary)
    cls = _VERDICT_CLASS[word]
    icon = (
        '<svg class="icon" viewBox="0 0 48 48" width="64" height="64" aria-hidden="true">'
        f'<circle cx="24" cy="24" r="23"/>{_ICONS[cls]}</svg>'
    )
    tally = "".join(
        _tag("div", f"<strong>{n}</strong><span>{_h(label)}</span>", state) for label, n, state in tiles(summary)
    )
    return (
        f'<header class="verdict {cls}"><div class="top">{icon}<div>'
        f'<p class="kicker">AI model-usage compliance &middot; fleet summary &middot; {_h(when(summary["generated"]))}</p>'
        f"<h1>{_h(word)}</h1>"
        f'<p class="headline">{_h(headline(summary))} <span>({_h(breakdown(summary))})</span></p>'
        f'<p class="meaning">{_h(verdict_meaning(summary))}</p><p class="rule">{_h(fleet_rule(summary))}</p>'
        "</div></div>"
        f'<div class="tally">{tally}</div></header>'
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
        parts.append(f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end">{_h(_short(label))}</text>')
        parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{bar_w}" height="16" fill="#f2f4f7"/>')
        if n:
            parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{bar_w * n / most:.1f}" height="16" fill="#b42318"/>')
        tail = f'<tspan class="note"> {_h(note)}</tspan>' if note else ""
        parts.append(f'<text x="{label_w + bar_w + 6}" y="{y + 15}" class="n">{n}{tail}</text>')
    return "".join(parts) + "</svg>"


def _html_violations(summary: FleetSummary) -> str:
    providers = [(p, n, f"on {hosts} host(s)") for p, n, hosts in provider_rows(summary)]
    kinds = [(k, n, "") for k, n in kind_rows(summary)]
    by_provider = (
        _bar_chart("by-provider", "Open violations by provider", providers)
        if providers
        else "<p>No open violation on any host.</p>"
    )
    return (
        '<div class="charts">'
        f"<div><h3>By provider, with the hosts affected</h3>{by_provider}</div>"
        f"<div><h3>By kind</h3>{_bar_chart('by-kind', 'Open violations by kind', kinds)}</div></div>"
        '<p class="legend">Counted from each host&#x27;s latest report; waived findings are not counted.</p>'
    )


def _state_bar(counts: list[int], total: int) -> str:
    """A small stacked bar of a group's hosts by state, in ``STATES`` order."""
    width, x = 80.0, 0.0
    parts = [f'<svg class="mini" width="{width:.0f}" height="10" aria-hidden="true">']
    parts.append(f'<rect width="{width:.0f}" height="10" fill="#f2f4f7"/>')
    for state, n in zip(STATES, counts, strict=True):
        if n and total:
            w = width * n / total
            parts.append(f'<rect x="{x:.1f}" width="{w:.1f}" height="10" fill="{_STATE_COLOUR[state]}"/>')
            x += w
    return "".join(parts) + "</svg>"


def _html_by_tag(summary: FleetSummary) -> str:
    by_tag: dict[str, dict[str, dict[str, int]]] = summary["by_tag"]
    if not by_tag:
        return "<p>No host reported tags (agents set them in their configuration, e.g. department).</p>"
    body = ""
    headers = ["Value", "Hosts", *(_STATE_LABEL[s] for s in STATES), "Compliant share", ""]
    for key, values in by_tag.items():
        rows = [
            [
                _breakable(value),
                str(total),
                *(str(n) for n in counts),
                share(counts[0], total),
                _state_bar(counts, total),
            ]
            for value, total, counts in tag_rows(values)
        ]
        body += f"<h3>By {_h(key)}</h3>" + _table(headers, rows, numeric=(1, 2, 3, 4, 5, 6), cls="tags")
    legend = "".join(
        f'<span><svg width="10" height="10" aria-hidden="true"><rect width="10" height="10" fill="{_STATE_COLOUR[s]}"/>'
        f"</svg> {_h(_STATE_LABEL[s].lower())}</span>"
        for s in STATES
    )
    return body + f'<p class="legend">{legend}</p>'


def _html_link(link: str) -> str:
    """One link of a lineage chain: what it is, with its (where from) in small print."""
    head, bracket, detail = link.partition(" (")
    return _rich(head) + (" " + _tag("small", _rich(bracket.strip() + detail)) if bracket else "")


def _html_finding(finding: dict[str, Any]) -> str:
    kind, subject, location, relation, rule = finding_sentence_parts(finding)
    sentence = (
        f"{_h(kind)} <strong>{_h(subject)}</strong>, found at <code>{_breakable(location)}</code>, "
        f"{_h(relation)} (rule <code>{_h(rule)}</code>)."
    )
    chain = "".join(_tag("li", _html_link(link)) for link in chain_links(finding))
    evidence = _tag("p", _rich(finding["evidence"][0]), "evidence") if finding["evidence"] else ""
    return _tag(
        "li",
        _tag("p", sentence, "sentence") + evidence + (_tag("ol", chain, "chain") if chain else ""),
    )


def _html_worst(summary: FleetSummary) -> str:
    worst: list[dict[str, Any]] = summary["worst_hosts"]
    if not worst:
        return "<p>No host has an open violation.</p>"
    articles = []
    for host in worst:
        shown = len(host["findings"])
        more = (
            f'<p class="more">and {host["violations"] - shown} more violation(s) in this host&#x27;s report.</p>'
            if host["violations"] > shown
            else ""
        )
        articles.append(
            _tag(
                "article",
                f'<h3><span class="badge">{host["violations"]} violation(s)</span> {_breakable(host["host"])}</h3>'
                f'<p class="about">{_h(host_line(host))}</p>'
                + _tag("ul", "".join(_html_finding(f) for f in host["findings"]), "findings")
                + more,
                "host",
            )
        )
    return "".join(articles)


def _html_stale(summary: FleetSummary) -> str:
    stale: list[dict[str, Any]] = summary["stale_hosts"]
    if not stale:
        return f"<p>Every host reported within the last {summary['stale_after_days']} day(s).</p>"
    rows = [
        [
            _breakable(h["host"]),
            _h(tags_text(h["tags"])),
            _tag("span", _h(when(h["last_seen"])), "nowrap"),
            _h(silent_for(h["last_seen"], summary["generated"])),
        ]
        for h in stale
    ]
    note = f"<p>{_h(SILENT_HOST)} These hosts count against the fleet until they report again.</p>"
    return note + _table(["Host", "Tags", "Latest report", "Silent for"], rows)


def _html_waivers(summary: FleetSummary) -> str:
    waivers: list[dict[str, Any]] = summary["waivers_expiring"]
    if not waivers:
        return "<p>No waiver expires within the next 30 days.</p>"
    rows = [
        [
            _breakable(w["host"]),
            _breakable(w["subject"]),
            _tag("span", _h(w["reference"]), "nowrap"),
            _h(w["approved_by"]),
            _tag("span", _h(w["expires"]), "nowrap"),
        ]
        for w in waivers
    ]
    note = "<p>Renew these waivers, or end the use they cover, before they expire.</p>"
    return note + _table(["Host", "Finding", "Reference", "Approved by", "Expires"], rows)


def _html_trend(summary: FleetSummary) -> str:
    points = trend_points(summary)
    if not points:
        return f"<p>{_h(trend_caption(points))}</p>"
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
                f'<text x="{centre:.1f}" y="{top - 4}" text-anchor="middle" class="n">{share(ok, total)}</text>'
            )
        if i % step == 0 or i == len(points) - 1:
            parts.append(
                f'<text x="{centre:.1f}" y="{height - 8}" text-anchor="middle" class="axis">{day:%m-%d}</text>'
            )
    legend = (
        '<span><svg width="10" height="10" aria-hidden="true"><rect width="10" height="10" fill="#067647"/></svg> '
        'no open violation</span><span><svg width="10" height="10" aria-hidden="true"><rect width="10" '
        'height="10" fill="#fecdca"/></svg> open violations</span>'
    )
    return "".join(parts) + f'</svg><p class="legend">{legend}</p><p class="caption">{_h(trend_caption(points))}</p>'


_SIGNATURE = (
    '<div class="sign"><div><span>Reviewed by (name, role)</span></div><div><span>Date</span></div>'
    "<div><span>Signature</span></div></div>"
)

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
h3 { font-size: 10pt; margin: 8px 0 4px; overflow-wrap: anywhere; }
p { margin: 4px 0; }
.verdict { padding: 12px 16px; border-radius: 6px; border: 2px solid; break-inside: avoid; }
.verdict .top { display: flex; align-items: center; gap: 16px; }
.verdict .top > div { min-width: 0; }
.verdict h1 { font-size: 32pt; line-height: 1.05; letter-spacing: .5px; }
.verdict .kicker { text-transform: uppercase; letter-spacing: 1px; font-size: 8pt; color: #475467; }
.verdict .headline { font-size: 14pt; font-weight: 700; color: #1d2939; margin-top: 2px; }
.verdict .headline span { font-size: 10pt; font-weight: 400; color: #344054; }
.verdict .meaning { font-size: 10pt; font-weight: 600; color: #1d2939; }
.verdict .rule { font-size: 8.6pt; color: #344054; }
.verdict .icon { flex: none; }
.verdict .icon circle { fill: currentColor; }
.verdict .icon path { stroke: #fff; stroke-width: 5; fill: none; stroke-linecap: round; stroke-linejoin: round; }
.ok { color: #067647; background: #ecfdf3; border-color: #067647; }
.bad { color: #b42318; background: #fef3f2; border-color: #b42318; }
.partial { color: #b54708; background: #fffaeb; border-color: #b54708; }
.tally { display: grid; grid-template-columns: repeat(5, 1fr); gap: 6px; margin-top: 10px; text-align: center; color: #1d2939; }
.tally div { background: #fff; border: 1px solid #d0d5dd; border-top: 4px solid #d0d5dd; border-radius: 4px; padding: 3px 6px; }
.tally div.compliant { border-top-color: #067647; }
.tally div.not-compliant { border-top-color: #b42318; }
.tally div.incomplete { border-top-color: #dc6803; }
.tally div.stale { border-top-color: #98a2b3; }
.tally strong { display: block; font-size: 15pt; line-height: 1.15; }
.tally span { font-size: 7pt; text-transform: uppercase; letter-spacing: .5px; color: #475467; }
table { width: 100%; border-collapse: collapse; margin: 4px 0; font-size: 8.6pt; }
thead { display: table-header-group; }
tr { break-inside: avoid; page-break-inside: avoid; }
th { text-align: left; background: #f2f4f7; font-weight: 600; white-space: nowrap; }
th, td { padding: 3px 6px; border-bottom: 1px solid #eaecf0; vertical-align: top; overflow-wrap: anywhere; }
table.tags { table-layout: fixed; }
table.tags th { white-space: normal; overflow-wrap: normal; vertical-align: bottom; font-size: 8pt; }
table.tags th:first-child { width: 30%; }
table.tags th:last-child { width: 96px; }
th.n, td.n { text-align: right; font-variant-numeric: tabular-nums; }
.nowrap { white-space: nowrap; }
.mini { vertical-align: -1px; }
.charts { display: grid; grid-template-columns: 1fr 1fr; gap: 18px; }
.chart text { font-size: 11px; fill: #1d2939; }
.chart text.n { font-weight: 700; }
.chart .note { font-weight: 400; fill: #475467; }
.chart text.axis { font-size: 10px; fill: #475467; }
.trend { display: block; max-width: 100%; height: auto; }
.legend { font-size: 8pt; color: #475467; }
.caption { font-size: 8.6pt; color: #344054; }
.legend span { margin-right: 12px; }
.host { border: 1px solid #d0d5dd; border-left: 5px solid #b42318; border-radius: 4px; padding: 6px 10px; margin: 6px 0; break-inside: avoid; page-break-inside: avoid; }
.host h3 { margin: 0; font-size: 10.5pt; }
.host .about { font-size: 8.6pt; color: #475467; margin: 1px 0 4px; overflow-wrap: anywhere; }
.badge { display: inline-block; font-size: 7pt; font-weight: 700; text-transform: uppercase; color: #fff; background: #b42318; border-radius: 3px; padding: 1px 5px; vertical-align: 1px; }
.findings { margin: 0; padding-left: 16px; }
.findings > li { margin: 4px 0; }
.sentence { margin: 0; }
.evidence { margin: 1px 0 0; font-size: 8.6pt; color: #344054; }
.chain { list-style: none; margin: 3px 0 2px; padding: 3px 8px; background: #f2f4f7; border-radius: 4px; font-size: 8.6pt; }
.chain::before { content: "Lineage "; font-weight: 700; color: #475467; }
.chain li { display: inline; }
.chain li + li::before { content: " \\2192  "; font-weight: 700; color: #b42318; }
.chain small { color: #667085; font-size: 7.8pt; }
.more { font-size: 8.6pt; color: #475467; }
.callout { border: 1px solid #c4700b; background: #fffaeb; border-radius: 4px; padding: 4px 10px; margin: 6px 0; break-inside: avoid; }
.sign { display: grid; grid-template-columns: 2fr 1fr 2fr; gap: 16px; margin-top: 28px; break-inside: avoid; }
.sign div { border-top: 1px solid #1d2939; padding-top: 2px; height: 34px; }
.sign span { font-size: 7.5pt; color: #475467; }
footer { margin-top: 14px; padding-top: 6px; border-top: 1px solid #d0d5dd; font-size: 7.5pt; color: #667085; }
@media print { html { background: #fff; } main { max-width: none; padding: 0; } }
"""
_CSP = content_security_policy(_CSS)


def _sections(summary: FleetSummary) -> list[tuple[str, str]]:
    """The page's sections after the verdict, as (title, key) in order; lost reports only when some were lost."""
    sections = [
        ("Open violations by provider and kind", "violations"),
        ("Hosts by tag", "tags"),
        (f"Worst hosts ({len(summary['worst_hosts'])})", "worst"),
        (f"Stale hosts ({len(summary['stale_hosts'])})", "stale"),
        (f"Waivers expiring soon ({len(summary['waivers_expiring'])})", "waivers"),
    ]
    if summary["lost_reports"] > 0:
        sections.append((f"Reports lost ({summary['lost_reports']})", "lost"))
    return [*sections, ("Compliance trend", "trend")]


def render_html(summary: FleetSummary) -> str:
    bodies = {
        "violations": _html_violations,
        "tags": _html_by_tag,
        "worst": _html_worst,
        "stale": _html_stale,
        "waivers": _html_waivers,
        "lost": lambda s: _tag("p", _h(lost_text(s["lost_reports"])), "callout"),
        "trend": _html_trend,
    }
    body = "".join(_section(i, title, bodies[key](summary)) for i, (title, key) in enumerate(_sections(summary), 1))
    title = f"{fleet_verdict(summary)}: AI model-usage compliance, fleet of {summary['hosts']['total']} host(s)"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_h(title)}</title>"
        f"<style>{_CSS}</style></head>\n<body><main>{_html_verdict(summary)}{body}{_SIGNATURE}"
        f"<footer>{_h(footer_text(summary))}</footer></main></body></html>\n"
    )


# ---------------------------------------------------------------------------------------------
# Markdown (escaping as scanner.reporters.markdown does; its helper is private, so it is here)


def _md_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(_md(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    return [*lines, *("| " + " | ".join(_md(c) for c in row) + " |" for row in rows), ""]


def _md_bar(n: int, most: int, width: int = 12) -> str:
    return "█" * round(width * n / most) if most else ""


def _md_violations(summary: FleetSummary) -> list[str]:
    providers = provider_rows(summary)
    most = max([n for _, n, _ in providers] + [1])
    lines = (
        _md_table(
            ["Provider", "Violations", "Hosts affected", ""], [[p, n, h, _md_bar(n, most)] for p, n, h in providers]
        )
        if providers
        else ["No open violation on any host.", ""]
    )
    kinds = kind_rows(summary)
    most = max([n for _, n in kinds] + [1])
    lines += _md_table(["Kind", "Violations", ""], [[k, n, _md_bar(n, most)] for k, n in kinds])
    return [*lines, "Counted from each host's latest report; waived findings are not counted.", ""]


def _md_by_tag(summary: FleetSummary) -> list[str]:
    by_tag: dict[str, dict[str, dict[str, int]]] = summary["by_tag"]
    if not by_tag:
        return ["No host reported tags (agents set them in their configuration, e.g. department).", ""]
    lines: list[str] = []
    headers = ["Value", "Hosts", *(_STATE_LABEL[s] for s in STATES), "Compliant share"]
    for key, values in by_tag.items():
        rows = [[value, total, *counts, share(counts[0], total)] for value, total, counts in tag_rows(values)]
        lines += [f"### By {_md(key)}", "", *_md_table(headers, rows)]
    return lines


def _md_worst(summary: FleetSummary) -> list[str]:
    worst: list[dict[str, Any]] = summary["worst_hosts"]
    if not worst:
        return ["No host has an open violation.", ""]
    lines: list[str] = []
    for host in worst:
        lines += [f"### {_md(host['host'])}", "", _md(host_line(host)), ""]
        for finding in host["findings"]:
            kind, subject, location, relation, rule = finding_sentence_parts(finding)
            lines.append(
                f"- {_md(kind)} **{_md(subject)}**, found at {_md(location)}, {_md(relation)} (rule {_md(rule)})."
            )
            if finding["evidence"]:
                lines.append(f"  - {_md(finding['evidence'][0])}")
            if finding["lineage"]:
                lines.append("  - Lineage: " + " → ".join(_md(link) for link in chain_links(finding)))
        if host["violations"] > len(host["findings"]):
            lines.append(f"- and {host['violations'] - len(host['findings'])} more violation(s) in this host's report.")
        lines.append("")
    return lines


def _md_stale(summary: FleetSummary) -> list[str]:
    stale: list[dict[str, Any]] = summary["stale_hosts"]
    if not stale:
        return [f"Every host reported within the last {summary['stale_after_days']} day(s).", ""]
    rows = [
        [h["host"], tags_text(h["tags"]), when(h["last_seen"]), silent_for(h["last_seen"], summary["generated"])]
        for h in stale
    ]
    note = f"{SILENT_HOST} These hosts count against the fleet until they report again."
    return [note, "", *_md_table(["Host", "Tags", "Latest report", "Silent for"], rows)]


def _md_waivers(summary: FleetSummary) -> list[str]:
    waivers: list[dict[str, Any]] = summary["waivers_expiring"]
    if not waivers:
        return ["No waiver expires within the next 30 days.", ""]
    rows = [[w["host"], w["subject"], w["reference"], w["approved_by"], w["expires"]] for w in waivers]
    return [
        "Renew these waivers, or end the use they cover, before they expire.",
        "",
        *_md_table(["Host", "Finding", "Reference", "Approved by", "Expires"], rows),
    ]


def _md_trend(summary: FleetSummary) -> list[str]:
    points = trend_points(summary)
    if not points:
        return [_md(trend_caption(points)), ""]
    rows = [[day.isoformat(), total, ok, share(ok, total), _md_bar(ok, total)] for day, total, ok in points]
    return [
        _md(trend_caption(points)),
        "",
        *_md_table(["Day", "Hosts reporting", "Compliant", "Share", ""], rows),
    ]


def render_markdown(summary: FleetSummary) -> str:
    word = fleet_verdict(summary)
    bodies = {
        "violations": _md_violations,
        "tags": _md_by_tag,
        "worst": _md_worst,
        "stale": _md_stale,
        "waivers": _md_waivers,
        "lost": lambda s: [_md(lost_text(s["lost_reports"])), ""],
        "trend": _md_trend,
    }
    lines = [
        f"# {word}: AI model-usage compliance, fleet summary",
        "",
        f"**{word}: {_md(headline(summary))}** ({_md(breakdown(summary))}).",
        "",
        _md(verdict_meaning(summary)),
        "",
        f"_{_md(fleet_rule(summary))}_",
        "",
        *_md_table([label for label, _, _ in tiles(summary)], [[n for _, n, _ in tiles(summary)]]),
    ]
    for number, (title, key) in enumerate(_sections(summary), 1):
        lines += [f"## {number}. {_md(title)}", "", *bodies[key](summary)]
    lines += _md_table(["Reviewed by (name, role)", "Date", "Signature"], [["", "", ""]])
    lines.append(f"_{_md(footer_text(summary))}_")
    return "\n".join(lines) + "\n"


def render_fleet_page(summary: FleetSummary, form: str) -> str:
    """The fleet summary as ``html`` (one self-contained page) or ``markdown``."""
    if form == "html":
        return render_html(summary)
    if form == "markdown":
        return render_markdown(summary)
    raise ValueError(f"unknown form {form!r}: expected one of {', '.join(FORMS)}")
