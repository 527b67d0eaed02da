"""SARIF 2.1.0, for code-scanning dashboards: one rule per rule id, one result per finding.

Paths are relative to a ``ROOT`` base (``file:///`` on the live machine, the ``--root`` folder
otherwise), so a dashboard can show an endpoint in a config file at its line. Waived findings
carry an accepted external suppression; unreadable paths become tool notifications, because a
dashboard that shows no results must still be able to tell that the scan was incomplete.
"""

from __future__ import annotations

import json
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote

from scanner.printable import json_printable
from scanner.report import Report, is_gap
from scanner.reporters.interface import Format, Reporter
from scanner.vocabulary import RULES, Severity

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS: dict[Severity, str] = {Severity.VIOLATION: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def _location(path: str, line: int | None = None) -> dict[str, Any]:
    physical: dict[str, Any] = {
        "artifactLocation": {"uri": quote(path.lstrip("/"), errors="backslashreplace"), "uriBaseId": "ROOT"}
    }
    if line:
        physical["region"] = {"startLine": line}
    return {"physicalLocation": physical}


def _root_uri(report: Report) -> str:
    root = report["scan"]["root"]
    if not root:
        return "file:///"
    return PurePosixPath(root).as_uri().rstrip("/") + "/" if root.startswith("/") else "file:///"


def _rules() -> list[dict[str, Any]]:
    return [
        {
            "id": rule.id,
            "name": "".join(part.capitalize() for part in rule.id.split("-")),
            "shortDescription": {"text": rule.title},
            "properties": {"confidence": rule.confidence},
        }
        for rule in RULES.values()
    ]


def _result(finding: dict[str, Any], index: dict[str, int]) -> dict[str, Any]:
    evidence = finding["evidence"]
    result: dict[str, Any] = {
        "ruleId": finding["rule_id"],
        "level": LEVELS[Severity(finding["severity"])],
        "message": {"text": " ".join(evidence[:2])},
        "locations": [_location(finding["location"]["path"], finding["location"]["line"])],
        "partialFingerprints": {"scannerFingerprint/v1": finding["fingerprint"]},
        "properties": {
            "severity": finding["severity"],
            "confidence": finding["confidence"],
            "provider": finding["provider"],
            "kind": finding["kind"],
            "subject": finding["subject"],
            "evidence": evidence,
            "lineage": finding["lineage"],
        },
    }
    if finding["rule_id"] in index:
        result["ruleIndex"] = index[finding["rule_id"]]
    waiver = finding.get("waiver")
    if finding["waived"] and waiver:
        result["suppressions"] = [
            {
                "kind": "external",
                "status": "accepted",
                "justification": f"{waiver['reference']}: {waiver['reason']} (approved by {waiver['approved_by']}, "
                f"until {waiver['expires']}; {waiver['location']})",
            }
        ]
    return result


class SarifReporter(Reporter):
    id = Format.SARIF

    def render(self, report: Report) -> str:
        scan = report["scan"]
        rules = _rules()
        index = {rule["id"]: n for n, rule in enumerate(rules)}
        gaps = [s for s in scan["coverage"]["skipped"] if is_gap(s)]
        log = {
            "$schema": SARIF_SCHEMA,
            "version": "2.1.0",
            "runs": [
                {
                    "tool": {
                        "driver": {
                            "name": "scanner",
                            "version": scan["scanner_version"],
                            "semanticVersion": scan["scanner_version"],
                            "rules": rules,
                        }
                    },
                    "automationDetails": {"id": f"scanner/{scan['host']}/{scan['id']}"},
                    "originalUriBaseIds": {"ROOT": {"uri": _root_uri(report)}},
                    "invocations": [
                        {
                            "executionSuccessful": True,
                            "startTimeUtc": scan["started"],
                            "endTimeUtc": scan["finished"],
                            "toolExecutionNotifications": [
                                {
                                    "level": "warning",
                                    "message": {"text": f"not scanned: {gap['reason']}"},
                                    "locations": [_location(gap["path"])],
                                }
                                for gap in gaps
                            ],
                        }
                    ],
                    "results": [_result(f, index) for f in report["findings"]],
                    "properties": {
                        "policy": scan["policy"],
                        "summary": report["summary"],
                    },
                }
            ],
        }
        return json_printable(json.dumps(log, ensure_ascii=False, indent=1)) + "\n"
