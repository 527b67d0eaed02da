"""Every ``--format``, and the reporter that renders it, keyed by the format each reporter declares.

Adding a format: its module, a member of ``Format``, a line here, and a test; the registry test checks
that every member has exactly one reporter.
"""

from __future__ import annotations

from scanner.reporters.csv import CsvReporter
from scanner.reporters.cyclonedx import CycloneDxReporter
from scanner.reporters.html import HtmlReporter
from scanner.reporters.interface import Format, Reporter
from scanner.reporters.json import JsonReporter
from scanner.reporters.markdown import MarkdownReporter
from scanner.reporters.sarif import SarifReporter
from scanner.reporters.table import TableReporter

REPORTERS: dict[Format, type[Reporter]] = {
    reporter.id: reporter
    for reporter in (
        TableReporter,
        JsonReporter,
        CsvReporter,
        CycloneDxReporter,
        SarifReporter,
        HtmlReporter,
        MarkdownReporter,
    )
}
