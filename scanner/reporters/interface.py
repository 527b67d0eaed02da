"""The reporter interface: a report document in, the text of one output format out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from scanner.report import Report


class Reporter(ABC):
    """Renders a report document (``scanner.report``). Reporters never print; ``cli.py`` writes what they return."""

    id: ClassVar[str]

    @abstractmethod
    def render(self, report: Report) -> str: ...
