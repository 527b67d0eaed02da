"""Collectors: one module per source of facts, and the registry the audit builds them from."""

from __future__ import annotations

from enum import Enum

from scanner.collectors.interface import Collector
from scanner.collectors.models import ModelCollector
from scanner.collectors.packages import PythonPackageCollector


class CollectorId(str, Enum):
    """Every collector the audit runs. Adding one: a module, a line here, a line in ``COLLECTORS``."""

    PYTHON_PACKAGES = "python-package-collector"
    MODELS = "model-collector"


COLLECTORS: dict[CollectorId, type[Collector]] = {
    CollectorId.PYTHON_PACKAGES: PythonPackageCollector,
    CollectorId.MODELS: ModelCollector,
}
