"""Every ``--format``, and the reporter that renders it, keyed by the format each reporter declares;
likewise every ``scanner fleet summary --format`` and its fleet reporter.

Adding a format: its module, a member of ``Format`` (or ``FleetFormat``), a line here, and a test;
the registry tests check that every member has exactly one reporter.
"""

from __future__ import annotations

from scanner.reporters.csv import CsvReporter
from scanner.reporters.cyclonedx import CycloneDxReporter
from scanner.reporters.fleet_html import FleetHtmlReporter
from scanner.reporters.fleet_markdown import FleetMarkdownReporter
from scanner.reporters.fleet_table import FleetTableReporter
from scanner.reporters.html import HtmlReporter
from scanner.reporters.interface import FleetFormat, FleetReporter, Format, Reporter
from scanner.reporters.json import FleetJsonReporter, JsonReporter
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

FLEET_REPORTERS: dict[FleetFormat, type[FleetReporter]] = {
    reporter.id: reporter
    for reporter in (FleetTableReporter, FleetJsonReporter, FleetHtmlReporter, FleetMarkdownReporter)
}
