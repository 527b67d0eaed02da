"""The endpoint inventory: where the machine is set up to talk to AI services, and what it contacted."""

from scanner.collectors.endpoints.connections import ConnectionCollector
from scanner.collectors.endpoints.envfiles import EnvFileCollector
from scanner.collectors.endpoints.hostsfile import HostsFileCollector
from scanner.collectors.endpoints.logs import LogCollector
from scanner.collectors.endpoints.processes import ProcessCollector
from scanner.collectors.endpoints.sourcecode import SourceCodeCollector
from scanner.collectors.endpoints.toolconfigs import ToolConfigCollector

__all__ = [
    "ConnectionCollector",
    "EnvFileCollector",
    "HostsFileCollector",
    "LogCollector",
    "ProcessCollector",
    "SourceCodeCollector",
    "ToolConfigCollector",
]
