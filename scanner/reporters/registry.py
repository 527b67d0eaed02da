"""Every ``--format``, and the reporter that renders it, keyed by the format each reporter declares;
likewise every ``scanner fleet summary --format`` and its fleet reporter.

A reporter's module is imported when its format is asked for: a run writes one format, and importing
every reporter (the HTML page and the fleet's, CycloneDX, SARIF...) cost each run about 9 ms of start-up.

Adding a format: its module, a member of ``Format`` (or ``FleetFormat``), a loader here, and a test;
the registry tests check that every member has exactly one reporter.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from scanner.reporters.interface import FleetFormat, FleetReporter, Format, Reporter


def _loader(module: str, name: str) -> Callable[[], type[Any]]:
    """The class ``name`` of ``scanner.reporters.MODULE``, imported when first called."""
    return lambda: getattr(importlib.import_module(f"scanner.reporters.{module}"), name)


REPORTERS: dict[Format, Callable[[], type[Reporter]]] = {
    Format.TABLE: _loader("table", "TableReporter"),
    Format.JSON: _loader("json", "JsonReporter"),
    Format.CSV: _loader("csv", "CsvReporter"),
    Format.CYCLONEDX: _loader("cyclonedx", "CycloneDxReporter"),
    Format.SARIF: _loader("sarif", "SarifReporter"),
    Format.HTML: _loader("html", "HtmlReporter"),
    Format.MARKDOWN: _loader("markdown", "MarkdownReporter"),
}
"""Each format's reporter class, imported when called."""

FLEET_REPORTERS: dict[FleetFormat, Callable[[], type[FleetReporter]]] = {
    FleetFormat.TABLE: _loader("fleet_table", "FleetTableReporter"),
    FleetFormat.JSON: _loader("json", "FleetJsonReporter"),
    FleetFormat.HTML: _loader("fleet_html", "FleetHtmlReporter"),
    FleetFormat.MARKDOWN: _loader("fleet_markdown", "FleetMarkdownReporter"),
}
"""Each fleet summary format's reporter class, imported when called."""


def reporter(chosen: Format) -> Reporter:
    return REPORTERS[chosen]()()


def fleet_reporter(chosen: FleetFormat) -> FleetReporter:
    return FLEET_REPORTERS[chosen]()()
