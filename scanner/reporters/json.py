"""The JSON report: a documented, versioned contract.

Its JSON Schema is ``scanner/schemas/report.schema.json`` (tests validate every report against
it). ``schema_version`` follows semantic versioning: a new optional field is a minor change, a
removed or renamed field a major one. The fleet collector ingests exactly this document.
"""

from __future__ import annotations

import json
from typing import Any

from scanner.audit import ScanResult
from scanner.reporters.interface import Reporter

SCHEMA_VERSION = "1.0.0"


def report_dict(result: ScanResult) -> dict[str, Any]:
    scan = result.scan
    coverage = result.coverage
    return {
        "schema_version": SCHEMA_VERSION,
        "scan": {
            "id": scan.id,
            "host": scan.host,
            "started": scan.started,
            "finished": scan.finished,
            "scanner_version": scan.scanner_version,
            "root": scan.root,
            "roots": list(scan.roots),
            "excludes": list(scan.excludes),
            "policy_mode": scan.policy_mode,
            "policy": list(scan.policy_files),
            "coverage": {
                "dirs": coverage.dirs,
                "files": coverage.files,
                "skipped": [s.to_dict() for s in coverage.skipped],
                "complete": coverage.complete,
            },
        },
        "inventory": [
            {
                "id": record.id,
                "kind": record.kind,
                "name": record.name,
                "version": record.version,
                "location": {"path": record.locations[0].path, "line": record.locations[0].line},
                "attributes": record.attributes(),
            }
            for record in result.records
        ],
        "findings": [finding.to_dict() for finding in result.findings],
        "summary": result.summary.to_dict(),
    }


class JsonReporter(Reporter):
    id = "json"

    def render(self, result: ScanResult) -> str:
        # Compact on purpose: with an indent the json module falls back to its pure-Python encoder,
        # which took longer than the walk on a package-heavy machine. `jq .` pretty-prints.
        return json.dumps(report_dict(result), ensure_ascii=False, separators=(",", ":")) + "\n"
