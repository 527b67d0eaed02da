"""The collectors every audit runs, keyed by the id each one declares.

Adding a collector: its module, a line here, and a test; the registry test checks that every
``Collector`` in ``scanner.collectors`` is listed once under its own kebab-case id.
"""

from __future__ import annotations

from scanner.collectors.endpoints.browsers import BrowserHistoryCollector
from scanner.collectors.endpoints.connections import ConnectionCollector
from scanner.collectors.endpoints.envfiles import EnvFileCollector
from scanner.collectors.endpoints.hostsfile import HostsFileCollector
from scanner.collectors.endpoints.logs import LogCollector
from scanner.collectors.endpoints.processes import ProcessCollector
from scanner.collectors.endpoints.text import TextCollector
from scanner.collectors.endpoints.toolconfigs import ToolConfigCollector
from scanner.collectors.endpoints.winregistry import RegistryCollector
from scanner.collectors.interface import Collector
from scanner.collectors.models.collector import ModelCollector
from scanner.collectors.packages.apps import DesktopAppCollector
from scanner.collectors.packages.buildfiles import BuildFileCollector
from scanner.collectors.packages.collector import PythonPackageCollector
from scanner.collectors.packages.extensions import ExtensionCollector
from scanner.collectors.packages.manifests import ManifestCollector
from scanner.collectors.packages.npm import NodePackageCollector

COLLECTORS: dict[str, type[Collector]] = {
    collector.id: collector
    for collector in (
        PythonPackageCollector,
        NodePackageCollector,
        BuildFileCollector,
        ManifestCollector,
        DesktopAppCollector,
        ExtensionCollector,
        ModelCollector,
        EnvFileCollector,
        ProcessCollector,
        ToolConfigCollector,
        TextCollector,
        HostsFileCollector,
        RegistryCollector,
        LogCollector,
        BrowserHistoryCollector,
        ConnectionCollector,
    )
}
