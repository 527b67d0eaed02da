"""The JSON documents: a scan's report (``scanner.report``), compact, and the fleet summary, indented."""

from __future__ import annotations

import json

from scanner.printable import json_printable
from scanner.report import FleetSummary, Report
from scanner.reporters.interface import FleetFormat, FleetReporter, Format, Reporter


class JsonReporter(Reporter):
    id = Format.JSON

    def render(self, report: Report) -> str:
        return self.encoded(report).decode("utf-8")

    def encoded(self, report: Report) -> bytes:
        return report_json(report)


def report_json(report: Report) -> bytes:
    """A report as one compact line of UTF-8 JSON: what ``--format json`` writes and an agent sends.

    Compact on purpose: with an indent the json module falls back to its pure-Python encoder, which took
    longer than the walk on a package-heavy machine (`jq .` pretty-prints). Whole, the C encoder keeps every
    scrap of its output until it joins them, and a text holding one character beyond U+FFFF takes four
    bytes a character (and as many again to encode it): 34 MiB for a whole machine's 4 MiB report, the
    scan's peak memory. Each list item is encoded on its own, straight to UTF-8, and the bytes joined once.
    A report is a tree the scanner built: no cycle to look for (the bookkeeping was a tenth of the encoding).
    """
    parts = [b"{"]
    for index, (key, value) in enumerate(report.items()):
        parts += [b"," * bool(index), _encoded(key), b":"]
        if isinstance(value, list):
            parts += [b"[", b",".join([_encoded(item) for item in value]), b"]"]
        else:
            parts.append(_encoded(value))
    parts.append(b"}\n")
    return b"".join(parts)


def _encoded(value: object) -> bytes:
    text = json_printable(json.dumps(value, ensure_ascii=False, separators=(",", ":"), check_circular=False))
    return text.encode("utf-8", "backslashreplace")  # a lone surrogate hostile input smuggled in: \udXXX


class FleetJsonReporter(FleetReporter):
    id = FleetFormat.JSON

    def render(self, summary: FleetSummary) -> str:
        # Indented: the summary is a few KiB of counts whatever the fleet's size, and people read it.
        return json.dumps(summary, indent=2, ensure_ascii=False) + "\n"
