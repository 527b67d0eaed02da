"""The reporter interface: a report document in, the text of one output format out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from scanner.report import Report
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
