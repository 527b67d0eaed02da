"""Reporters: one module per output format, and the registry ``--format`` chooses from."""

from __future__ import annotations

from enum import Enum

from scanner.reporters.interface import Reporter
from scanner.reporters.json import JsonReporter
from scanner.reporters.table import TableReporter


class Format(str, Enum):
    """Every ``--format`` value. Adding one: a module, a member here, a line in ``REPORTERS``."""

    TABLE = "table"
    JSON = "json"


REPORTERS: dict[Format, type[Reporter]] = {
    Format.TABLE: TableReporter,
    Format.JSON: JsonReporter,
}
