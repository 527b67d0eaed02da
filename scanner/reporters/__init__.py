"""Reporters: one module per output format, and the registry ``--format`` chooses from."""

from __future__ import annotations

from enum import Enum

from scanner.reporters.csv import CsvReporter
from scanner.reporters.cyclonedx import CycloneDxReporter
from scanner.reporters.html import HtmlReporter
from scanner.reporters.interface import Reporter
from scanner.reporters.json import JsonReporter
from scanner.reporters.markdown import MarkdownReporter
from scanner.reporters.sarif import SarifReporter
from scanner.reporters.table import TableReporter


class Format(str, Enum):
    """Every ``--format`` value. Adding one: a module, a member here, a line in ``REPORTERS``."""

    TABLE = "table"
    JSON = "json"
    CSV = "csv"
    CYCLONEDX = "cyclonedx"
    SARIF = "sarif"
    HTML = "html"
    MARKDOWN = "markdown"


REPORTERS: dict[Format, type[Reporter]] = {
    Format.TABLE: TableReporter,
    Format.JSON: JsonReporter,
    Format.CSV: CsvReporter,
    Format.CYCLONEDX: CycloneDxReporter,
    Format.SARIF: SarifReporter,
    Format.HTML: HtmlReporter,
    Format.MARKDOWN: MarkdownReporter,
}
