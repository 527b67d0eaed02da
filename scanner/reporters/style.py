"""The look of the pages officials read: one base stylesheet, and each page's small additions.

The single-machine summary (``html``) and the fleet summary (``fleet_html``) are siblings: one A4
sheet, the same type, colours, verdict banner, tables, charts and lineage chains. The base holds
what they share, so a change of look is made once; each page adds only what its own sections need.
A page's additions come after the base, so where both set a property on the same element the
addition wins.
"""

from __future__ import annotations

BASE = """
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
.verdict .meaning { font-weight: 600; }
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
table { width: 100%; border-collapse: collapse; margin: 4px 0; font-size: 8.6pt; }
thead { display: table-header-group; }
tr { break-inside: avoid; page-break-inside: avoid; }
th { text-align: left; background: #f2f4f7; font-weight: 600; white-space: nowrap; }
th, td { padding: 3px 6px; border-bottom: 1px solid #eaecf0; vertical-align: top; }
.nowrap { white-space: nowrap; }
.charts { display: grid; grid-template-columns: 1fr 1fr; gap: 18px; }
.chart text { font-size: 11px; fill: #1d2939; }
.chart text.n { font-weight: 700; }
.legend { font-size: 8pt; color: #475467; }
.legend span { margin-right: 12px; }
.sentence { margin: 0; }
.badge { display: inline-block; font-size: 7pt; font-weight: 700; text-transform: uppercase; color: #fff; background: #b42318; border-radius: 3px; padding: 1px 5px; vertical-align: 1px; }
.chain { list-style: none; background: #f2f4f7; border-radius: 4px; font-size: 8.6pt; }
.chain::before { content: "Lineage "; font-weight: 700; color: #475467; }
.chain li { display: inline; }
.chain li + li::before { content: " \\2192  "; font-weight: 700; color: #b42318; }
.chain small { color: #667085; font-size: 7.8pt; }
.evidence { font-size: 8.6pt; color: #344054; }
.callout { border: 1px solid #c4700b; background: #fffaeb; border-radius: 4px; padding: 4px 10px; margin: 6px 0; break-inside: avoid; }
.sign { margin-top: 22px; break-inside: avoid; page-break-inside: avoid; }
.sign p { font-size: 8.6pt; color: #344054; }
.sign .lines { display: grid; grid-template-columns: 2fr 1fr 2fr; gap: 16px; margin-top: 26px; }
.sign .lines div { border-top: 1px solid #1d2939; padding-top: 2px; height: 30px; }
.sign span { font-size: 7.5pt; color: #475467; }
footer { margin-top: 14px; padding-top: 6px; border-top: 1px solid #d0d5dd; font-size: 7.5pt; color: #667085; }
@media print { html { background: #fff; } main { max-width: none; padding: 0; } }
"""

SUMMARY = (
    BASE
    + """
.verdict .meaning { font-size: 11pt; }
h2 { margin-top: 10px; }
.verdict .scan { font-size: 9pt; color: #344054; margin-top: 2px; overflow-wrap: anywhere; }
.facts { display: grid; grid-template-columns: 30mm 1fr; gap: 1px 10px; margin: 0; }
.facts dt { font-weight: 600; color: #475467; }
.facts dd { margin: 0; overflow-wrap: anywhere; }
th, td { overflow-wrap: break-word; }
.facts.two { grid-template-columns: 30mm 1fr 22mm 1.2fr; }
.facts.small { margin-top: 4px; font-size: 7.6pt; line-height: 1.35; color: #344054; }
section.glance { break-inside: avoid; page-break-inside: avoid; }
th.n, td.n { text-align: right; font-variant-numeric: tabular-nums; }
table.overview td { padding: 2px 6px; }
.more { font-size: 8.6pt; color: #475467; }
ol.steps { margin: 2px 0 6px; padding-left: 18px; font-size: 9pt; }
ol.steps li { margin: 2px 0; break-inside: avoid; }
ol.steps li.more { list-style: none; }
code.cmd { display: block; margin: 1px 0 0; padding: 1px 6px; background: #f2f4f7; border-radius: 3px; width: fit-content; max-width: 100%; }
table.details { table-layout: fixed; font-size: 8pt; line-height: 1.3; }
table.details tr.finding td { padding-top: 2px; }
table.details th:nth-child(1) { width: 37%; }
table.details th:nth-child(2) { width: 41%; }
table.details tr.finding td:nth-child(3) { font-size: 7.4pt; white-space: nowrap; }
table.details code { font-size: 7.6pt; }
table.details td small { color: #667085; font-size: 7pt; margin-left: 4px; }
table.details tr.finding td { border-bottom: none; padding-bottom: 1px; }
table.details tr.why { break-before: avoid; page-break-before: avoid; }
table.details tr.why td { padding: 0 6px 3px 14px; font-size: 7.6pt; color: #344054; }
table.details p { margin: 0 0 1px; }
tbody.group > tr:first-child { break-after: avoid; page-break-after: avoid; }
tbody.group > tr:first-child th { background: #fff; border-bottom: 1.5px solid #98a2b3; padding-top: 7px; font-size: 8.4pt; white-space: normal; overflow-wrap: anywhere; }
table.details.violation tbody.group > tr:first-child th { border-left: 4px solid #b42318; }
table.details.warning tbody.group > tr:first-child th { border-left: 4px solid #c4700b; }
table.details.info tbody.group > tr:first-child th { border-left: 4px solid #98a2b3; }
.shared { font-weight: 400; font-size: 7.6pt; color: #344054; }
.shared p { margin: 1px 0 0; }
.chain { margin: 2px 0 0; padding: 2px 6px; font-size: 7.6pt; }
.chain small { font-size: 7pt; }
.compact { padding-left: 16px; font-size: 8.6pt; margin: 2px 0; }
ol.sources { columns: 2; column-gap: 16px; margin: 2px 0; padding-left: 20px; font-size: 7pt; line-height: 1.25; color: #344054; }
ol.sources li { break-inside: avoid; }
"""
)
"""The single-machine summary's stylesheet: facts lists, the grouped overview, steps, compact grouped tables."""

FLEET = (
    BASE
    + """
h3 { overflow-wrap: anywhere; }
.verdict .top > div { min-width: 0; }
.verdict .headline { font-size: 14pt; font-weight: 700; color: #1d2939; margin-top: 2px; }
.verdict .headline span { font-size: 10pt; font-weight: 400; color: #344054; }
.verdict .meaning { font-size: 10pt; }
.verdict .rule { font-size: 8.6pt; color: #344054; }
.verdict .icon { flex: none; }
.tally div { border-top: 4px solid #d0d5dd; }
.tally div.compliant { border-top-color: #067647; }
.tally div.not-compliant { border-top-color: #b42318; }
.tally div.incomplete { border-top-color: #dc6803; }
.tally div.stale { border-top-color: #98a2b3; }
th, td { overflow-wrap: anywhere; }
table.tags { table-layout: fixed; }
table.tags th { white-space: normal; overflow-wrap: normal; vertical-align: bottom; font-size: 8pt; }
table.tags th:first-child { width: 30%; }
table.tags th:last-child { width: 96px; }
th.n, td.n { text-align: right; font-variant-numeric: tabular-nums; }
.mini { vertical-align: -1px; }
.chart .note { font-weight: 400; fill: #475467; }
.chart text.axis { font-size: 10px; fill: #475467; }
.trend { display: block; max-width: 100%; height: auto; }
.caption { font-size: 8.6pt; color: #344054; }
.host { border: 1px solid #d0d5dd; border-left: 5px solid #b42318; border-radius: 4px; padding: 6px 10px; margin: 6px 0; break-inside: avoid; page-break-inside: avoid; }
.host h3 { margin: 0; font-size: 10.5pt; }
.host .about { font-size: 8.6pt; color: #475467; margin: 1px 0 4px; overflow-wrap: anywhere; }
.findings { margin: 0; padding-left: 16px; }
.findings > li { margin: 4px 0; }
.evidence { margin: 1px 0 0; }
.chain { margin: 3px 0 2px; padding: 3px 8px; }
.more { font-size: 8.6pt; color: #475467; }
"""
)
"""The fleet summary's stylesheet: tallies coloured by host state, tag tables, host cards, the trend."""

DASHBOARD = """
nav.dash { max-width: 210mm; margin: 0 auto; padding: 6px 13mm; background: #1d2939; color: #fff; display: flex; gap: 16px; align-items: center; font-size: 9.5pt; }
nav.dash a { color: #fff; text-decoration: none; font-weight: 600; }
nav.dash a.here { text-decoration: underline; }
nav.dash .who { margin-left: auto; color: #d0d5dd; overflow-wrap: anywhere; }
nav.dash form { margin: 0; }
button { font: inherit; padding: 2px 10px; border: 1px solid #98a2b3; border-radius: 4px; background: #fff; color: #1d2939; cursor: pointer; }
button.danger { border-color: #b42318; color: #b42318; }
input, select { font: inherit; padding: 2px 4px; }
form.filters { display: flex; flex-wrap: wrap; gap: 8px; align-items: flex-end; margin: 6px 0 10px; }
form.filters label, form.signin label { display: flex; flex-direction: column; font-size: 8pt; color: #475467; }
form.signin { display: grid; gap: 8px; max-width: 80mm; margin-top: 10px; }
.pages, .tools { display: flex; flex-wrap: wrap; gap: 12px; align-items: center; font-size: 9pt; margin: 8px 0; }
td.state { font-weight: 600; white-space: nowrap; }
td.compliant { color: #067647; }
td.not-compliant { color: #b42318; }
td.incomplete { color: #b54708; }
td.stale { color: #667085; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.message { border: 1px solid #b42318; background: #fef3f2; border-radius: 4px; padding: 4px 10px; }
.admin { border: 1px solid #d0d5dd; border-radius: 4px; padding: 6px 10px; margin: 10px 0; }
.admin form { display: inline; }
@media print { nav.dash, .noprint { display: none; } }
"""
"""The dashboard's additions to either page's stylesheet: the navigation, forms, the host listing."""
