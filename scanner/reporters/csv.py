"""CSV: one row per finding, for spreadsheets and ticketing imports; and the dashboard's host listing.

A scanned name can be anything, and a spreadsheet runs a cell that starts with ``=``, ``+``, ``-``
or ``@`` as a formula (CSV injection); such cells get a leading apostrophe, as OWASP advises. Control
characters are shown as ``\\xNN``, as in the table: a CSV file is read with ``cat`` and ``less`` too.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from typing import Any

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


HOST_COLUMNS = (
    "host",
    "state",
    "last_seen",
    "violations",
    "warnings",
    "reports",
    "lost_reports",
    "tags",
    "last_report",
    "token",
)


def hosts_csv(hosts: Iterable[Mapping[str, Any]], header: bool) -> str:
    """Rows of the host listing (``HostInfo.to_dict()`` with its ``state``), with the header row first
    when ``header``: a long listing is written a chunk at a time."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if header:
        writer.writerow(HOST_COLUMNS)
    for h in hosts:
        token = "revoked" if h["revoked"] else "active" if h["has_token"] else "none"
        tags = ";".join(f"{k}={v}" for k, v in sorted(h["tags"].items()))
        row = (h["host"], h["state"], h["last_seen"], h["violations"], h["warnings"], h["reports"])
        writer.writerow([_cell(v) for v in (*row, h["lost_reports"], tags, h["last_report"], token)])
    return out.getvalue()
