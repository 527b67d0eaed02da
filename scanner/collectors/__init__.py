"""Collectors: one module per source of facts, and the registry the audit builds them from."""

from __future__ import annotations

from enum import Enum

from scanner.collectors.endpoints import (
    ConnectionCollector,
    EnvFileCollector,
    HostsFileCollector,
    LogCollector,
    ProcessCollector,
    SourceCodeCollector,
    ToolConfigCollector,
)
from scanner.collectors.interface import Collector
from scanner.collectors.models import ModelCollector
from scanner.collectors.packages import PythonPackageCollector


class CollectorId(str, Enum):
    """Every collector the audit runs. Adding one: a module, a line here, a line in ``COLLECTORS``."""

    PYTHON_PACKAGES = "python-package-collector"
    MODELS = "model-collector"
    ENV_FILES = "env-file-collector"
    PROCESSES = "process-environment-collector"
    TOOL_CONFIGS = "tool-config-collector"
    SOURCE_CODE = "source-code-collector"
    HOSTS_FILE = "hosts-file-collector"
    LOGS = "log-collector"
    CONNECTIONS = "connection-collector"


COLLECTORS: dict[CollectorId, type[Collector]] = {
    CollectorId.PYTHON_PACKAGES: PythonPackageCollector,
    CollectorId.MODELS: ModelCollector,
    CollectorId.ENV_FILES: EnvFileCollector,
    CollectorId.PROCESSES: ProcessCollector,
    CollectorId.TOOL_CONFIGS: ToolConfigCollector,
    CollectorId.SOURCE_CODE: SourceCodeCollector,
    CollectorId.HOSTS_FILE: HostsFileCollector,
    CollectorId.LOGS: LogCollector,
    CollectorId.CONNECTIONS: ConnectionCollector,
}
