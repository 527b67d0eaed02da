"""The reporter interfaces: a document in, the text of one output format out.

``Reporter`` renders a scan's report (``scanner audit --format``); ``FleetReporter`` renders the
fleet summary document (``scanner fleet summary --format``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from scanner.report import FleetSummary, Report
from scanner.vocabulary import Word


class Format(Word):
    """Every ``--format`` value; ``registry.REPORTERS`` has one reporter per member."""

    TABLE = "table"
    JSON = "json"
    CSV = "csv"
    CYCLONEDX = "cyclonedx"
    SARIF = "sarif"
    HTML = "html"
    MARKDOWN = "markdown"


class Reporter(ABC):
    """Renders a report document (``scanner.report``). Reporters never print; the CLI writes what they return."""

    id: ClassVar[Format]

    @abstractmethod
    def render(self, report: Report) -> str: ...

    def encoded(self, report: Report) -> bytes:
        """What is written: the text in UTF-8, a lone surrogate hostile input smuggled in as ``\\udXXX``."""
        return self.render(report).encode("utf-8", "backslashreplace")


class FleetFormat(Word):
    """Every ``scanner fleet summary --format`` value; ``registry.FLEET_REPORTERS`` has one reporter per member."""

    TABLE = "table"
    JSON = "json"
    HTML = "html"
    MARKDOWN = "markdown"


class FleetReporter(ABC):
    """Renders the fleet summary document (``scanner.report.FleetSummary``), which the collector builds;
    so a reporter never needs the collector, and the page can be made again from a saved summary."""

    id: ClassVar[FleetFormat]

    @abstractmethod
    def render(self, summary: FleetSummary) -> str: ...
