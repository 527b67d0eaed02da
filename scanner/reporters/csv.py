"""CSV: one row per finding, for spreadsheets and ticketing imports.

A scanned name can be anything, and a spreadsheet runs a cell that starts with ``=``, ``+``, ``-``
or ``@`` as a formula (CSV injection); such cells get a leading apostrophe, as OWASP advises. Control
characters are shown as ``\\xNN``, as in the table: a CSV file is read with ``cat`` and ``less`` too.
"""

from __future__ import annotations

import csv
import io

from scanner.report import Report
from scanner.reporters.interface import Format, Reporter
from scanner.reporters.terminal import terminal_safe

COLUMNS = (
    "scan_id",
    "host",
    "severity",
    "confidence",
    "provider",
    "rule_id",
    "kind",
    "subject",
    "path",
    "line",
    "waived",
    "waiver_reference",
    "waiver_expires",
    "evidence",
    "lineage",
    "fingerprint",
)
_FORMULA_STARTS = ("=", "+", "-", "@")  # tab and CR, formula starts too, are escaped before


def _cell(value: object) -> str:
    text = "" if value is None else terminal_safe(str(value))
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


class CsvReporter(Reporter):
    id = Format.CSV

    def render(self, report: Report) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(COLUMNS)
        scan = report["scan"]
        for f in report["findings"]:
            waiver = f.get("waiver") or {}
            row = (
                scan["id"],
                scan["host"],
                f["severity"],
                f["confidence"],
                f["provider"],
                f["rule_id"],
                f["kind"],
                f["subject"],
                f["location"]["path"],
                f["location"]["line"],
                "yes" if f["waived"] else "no",
                waiver.get("reference"),
                waiver.get("expires"),
                " ".join(f["evidence"]),
                " → ".join(f["lineage"]),
                f["fingerprint"],
            )
            writer.writerow([_cell(v) for v in row])
        return out.getvalue()
