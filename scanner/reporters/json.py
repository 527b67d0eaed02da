"""The JSON documents: a scan's report (``scanner.report``), compact, and the fleet summary, indented."""

from __future__ import annotations

import json

from scanner.printable import json_printable
from scanner.report import FleetSummary, Report
from scanner.reporters.interface import FleetFormat, FleetReporter, Format, Reporter


class JsonReporter(Reporter):
    id = Format.JSON

    def render(self, report: Report) -> str:
        # Compact on purpose: with an indent the json module falls back to its pure-Python encoder,
        # which took longer than the walk on a package-heavy machine. `jq .` pretty-prints. A report is a tree
        # the scanner built: no cycle to look for (the bookkeeping was a tenth of the encoding).
        return (
            json_printable(json.dumps(report, ensure_ascii=False, separators=(",", ":"), check_circular=False)) + "\n"
        )


class FleetJsonReporter(FleetReporter):
    id = FleetFormat.JSON

    def render(self, summary: FleetSummary) -> str:
        # Indented: the summary is a few KiB of counts whatever the fleet's size, and people read it.
        return json.dumps(summary, indent=2, ensure_ascii=False) + "\n"
