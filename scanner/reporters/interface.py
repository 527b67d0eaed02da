"""The reporter interface: a ``ScanResult`` in, the text of one output format out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from scanner.audit import ScanResult


class Reporter(ABC):
    """Renders a scan result. Reporters never print; ``cli.py`` writes what they return."""

    id: ClassVar[str]

    @abstractmethod
    def render(self, result: ScanResult) -> str: ...
