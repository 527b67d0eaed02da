"""Every ``--format``, and the reporter that renders it, keyed by the format each reporter declares;
likewise every ``scanner fleet summary --format`` and its fleet reporter.

A reporter's module is imported when its format is asked for: a run writes one format, and importing
every reporter (the HTML page and the fleet's, CycloneDX, SARIF...) cost each run about 9 ms of start-up.

Adding a format: its module, a member of ``Format`` (or ``FleetFormat``), a loader here, and a test;
the registry tests check that every member has exactly one reporter.
"""

from __future__ import annotations

from collections.abc import Callable

from scanner.reporters.interface import FleetFormat, FleetReporter, Format, Reporter


def _table() -> type[Reporter]:
    from scanner.reporters.table import TableReporter

    return TableReporter


def _json() -> type[Reporter]:
    from scanner.reporters.json import JsonReporter

    return JsonReporter


def _csv() -> type[Reporter]:
    from scanner.reporters.csv import CsvReporter

    return CsvReporter


def _cyclonedx() -> type[Reporter]:
    from scanner.reporters.cyclonedx import CycloneDxReporter

    return CycloneDxReporter


def _sarif() -> type[Reporter]:
    from scanner.reporters.sarif import SarifReporter

    return SarifReporter


def _html() -> type[Reporter]:
    from scanner.reporters.html import HtmlReporter

    return HtmlReporter


def _markdown() -> type[Reporter]:
    from scanner.reporters.markdown import MarkdownReporter

    return MarkdownReporter


def _fleet_table() -> type[FleetReporter]:
    from scanner.reporters.fleet_table import FleetTableReporter

    return FleetTableReporter


def _fleet_json() -> type[FleetReporter]:
    from scanner.reporters.json import FleetJsonReporter

    return FleetJsonReporter


def _fleet_html() -> type[FleetReporter]:
    from scanner.reporters.fleet_html import FleetHtmlReporter

    return FleetHtmlReporter


def _fleet_markdown() -> type[FleetReporter]:
    from scanner.reporters.fleet_markdown import FleetMarkdownReporter

    return FleetMarkdownReporter


REPORTERS: dict[Format, Callable[[], type[Reporter]]] = {
    Format.TABLE: _table,
    Format.JSON: _json,
    Format.CSV: _csv,
    Format.CYCLONEDX: _cyclonedx,
    Format.SARIF: _sarif,
    Format.HTML: _html,
    Format.MARKDOWN: _markdown,
}
"""Each format's reporter class, imported when called."""

FLEET_REPORTERS: dict[FleetFormat, Callable[[], type[FleetReporter]]] = {
    FleetFormat.TABLE: _fleet_table,
    FleetFormat.JSON: _fleet_json,
    FleetFormat.HTML: _fleet_html,
    FleetFormat.MARKDOWN: _fleet_markdown,
}
"""Each fleet summary format's reporter class, imported when called."""


def reporter(chosen: Format) -> Reporter:
    return REPORTERS[chosen]()()


def fleet_reporter(chosen: FleetFormat) -> FleetReporter:
    return FLEET_REPORTERS[chosen]()()
