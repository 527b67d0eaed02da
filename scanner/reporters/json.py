"""The JSON report: the report document itself (``scanner.report``), compact."""

from __future__ import annotations

import json

from scanner.report import Report
from scanner.reporters.interface import Format, Reporter


class JsonReporter(Reporter):
    id = Format.JSON

    def render(self, report: Report) -> str:
        # Compact on purpose: with an indent the json module falls back to its pure-Python encoder,
        # which took longer than the walk on a package-heavy machine. `jq .` pretty-prints.
        return json.dumps(report, ensure_ascii=False, separators=(",", ":")) + "\n"
