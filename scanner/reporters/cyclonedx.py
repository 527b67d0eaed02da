"""CycloneDX 1.6 JSON: an AI bill of materials of the machine, with the findings as vulnerabilities.

Packages are ``library`` components with purls, models ``machine-learning-model`` components (model
card facts where known, the lineage read on the machine as pedigree ancestors), endpoints
``service`` components. Each finding is a vulnerability entry that ``affects`` its component, so
CycloneDX tooling (Dependency-Track and friends) lists it; a waived finding is recorded as an
accepted risk (``exploitable``, ``will_not_fix``, with the waiver in the detail).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from scanner.ecosystems import ECOSYSTEMS, Ecosystem
from scanner.printable import json_printable
from scanner.report import Report
from scanner.reporters.interface import Format, Reporter
from scanner.vocabulary import Severity

RATINGS: dict[Severity, str] = {Severity.VIOLATION: "high", Severity.WARNING: "medium", Severity.INFO: "info"}


def _props(**values: Any) -> list[dict[str, str]]:
    return [
        {"name": f"scanner:{k.replace('_', '-')}", "value": str(v)} for k, v in values.items() if v not in (None, "")
    ]


def _ref(item: dict[str, Any]) -> str:
    return f"{item['kind']}:{item['id']}"


def _package(item: dict[str, Any]) -> dict[str, Any]:
    attrs = item["attributes"]
    component: dict[str, Any] = {"type": "library", "bom-ref": _ref(item), "name": item["name"]}
    if item["version"]:
        component["version"] = item["version"]
        component["purl"] = ECOSYSTEMS[Ecosystem(attrs["ecosystem"])].purl(item["name"], item["version"])
    if attrs.get("summary"):
        component["description"] = attrs["summary"]
    component["properties"] = _props(
        location=item["location"]["path"], environment=attrs["environment"]["path"], installer=attrs.get("installer")
    )
    return component


def _model(item: dict[str, Any]) -> dict[str, Any]:
    attrs = item["attributes"]
    clues = attrs["clues"]
    component: dict[str, Any] = {"type": "machine-learning-model", "bom-ref": _ref(item), "name": item["name"]}
    if item["version"]:
        component["version"] = item["version"]
    if attrs["store"] == "hf-cache" and item["name"].count("/") == 1:
        owner, repo = item["name"].split("/")
        version = f"@{quote(item['version'], safe='')}" if item["version"] else ""
        component["purl"] = f"pkg:huggingface/{quote(owner, safe='')}/{quote(repo, safe='')}{version}"
    architectures = sorted({c["value"] for c in clues if c["kind"] == "architecture"})
    datasets = sorted({c["value"] for c in clues if c["kind"] == "dataset"})
    parameters: dict[str, Any] = {}
    if architectures:
        parameters["architectureFamily"] = architectures[0]
    if datasets:
        parameters["datasets"] = [{"type": "dataset", "name": name} for name in datasets]
    if parameters:
        component["modelCard"] = {"modelParameters": parameters}
    ancestors: dict[str, dict[str, str]] = {}
    declared = [
        (c["value"], c["relation"] or "base model", f"{c['field']} in {c['path']}")
        for c in clues
        if c["kind"] == "base-model"
    ]
    traced = [(s["name"], s["relation"], s["evidence"]) for chain in attrs["lineage"] for s in chain[1:]]
    for name, relation, evidence in declared + traced:  # what the files on this machine declare
        ancestors.setdefault(
            name, {"type": "machine-learning-model", "name": name, "description": f"{relation} ({evidence})"}
        )
    if ancestors:
        component["pedigree"] = {"ancestors": list(ancestors.values())}
    component["properties"] = _props(
        location=item["location"]["path"], store=attrs["store"], format=attrs["format"], size=attrs["size"]
    ) + [{"name": "scanner:file-sha256", "value": c["value"]} for c in clues if c["kind"] == "digest"]
    return component


def _service(item: dict[str, Any]) -> dict[str, Any]:
    attrs = item["attributes"]
    service: dict[str, Any] = {"bom-ref": _ref(item), "name": attrs["host"] or item["name"]}
    if attrs["url"]:
        service["endpoints"] = [attrs["url"]]
    if attrs["provider_hint"]:
        service["provider"] = {"name": attrs["provider_hint"]}
    secret = attrs.get("secret") or {}
    service["properties"] = _props(
        location=item["location"]["path"],
        line=item["location"]["line"],
        source=attrs["source"],
        variable=attrs["variable"],
        tool=attrs["tool"],
        model=attrs["model"],
        key_fingerprint=secret.get("fingerprint"),
        process=" ".join(f"{k}={v}" for k, v in attrs["process"].items()),
    )
    return service


def _vulnerability(finding: dict[str, Any], refs: set[str]) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "bom-ref": f"finding:{finding['id']}",
        "id": f"{finding['rule_id']}:{finding['fingerprint']}",
        "source": {"name": "scanner policy"},
        "ratings": [
            {
                "severity": RATINGS[Severity(finding["severity"])],
                "method": "other",
                "justification": finding["confidence"],
            }
        ],
        "description": f"{finding['subject']} ({finding['provider'] or 'no provider'}, {finding['rule_id']})",
        "detail": "\n".join([*finding["evidence"], *finding["lineage"]]),
        "properties": _props(
            rule=finding["rule_id"],
            severity=finding["severity"],
            confidence=finding["confidence"],
            provider=finding["provider"],
            location=finding["location"]["path"]
            + (f":{finding['location']['line']}" if finding["location"]["line"] else ""),
            waived=str(finding["waived"]).lower(),
        ),
    }
    record_ref = f"{finding['kind']}:{finding['record_id']}"
    if record_ref in refs:
        entry["affects"] = [{"ref": record_ref}]
    waiver = finding.get("waiver")
    if finding["waived"] and waiver:
        entry["analysis"] = {
            "state": "exploitable",
            "response": ["will_not_fix"],
            "detail": f"Waived by {waiver['reference']} (approved by {waiver['approved_by']}: {waiver['reason']}) "
            f"until {waiver['expires']}.",
        }
    return entry


class CycloneDxReporter(Reporter):
    id = Format.CYCLONEDX

    def render(self, report: Report) -> str:
        scan = report["scan"]
        builders = {"package": _package, "model": _model}
        components, services, refs = [], [], set()
        for item in report["inventory"]:
            if _ref(item) in refs:
                continue
            refs.add(_ref(item))
            if item["kind"] == "endpoint":
                services.append(_service(item))
            else:
                components.append(builders[item["kind"]](item))
        vulnerabilities, seen = [], set()
        for finding in report["findings"]:
            if finding["id"] not in seen:
                seen.add(finding["id"])
                vulnerabilities.append(_vulnerability(finding, refs))
        summary = report["summary"]
        bom = {
            "bomFormat": "CycloneDX",
            "specVersion": "1.6",
            "serialNumber": f"urn:uuid:{scan['id']}",
            "version": 1,
            "metadata": {
                "timestamp": scan["finished"],
                "tools": {
                    "components": [{"type": "application", "name": "scanner", "version": scan["scanner_version"]}]
                },
                "component": {"type": "device", "bom-ref": "scanned-machine", "name": scan["host"]},
                "properties": _props(
                    root=scan["root"],
                    roots=" ".join(scan["roots"]),
                    policy=", ".join(f"{p['id']} {p['version']} (sha256 {p['sha256']})" for p in scan["policy"]),
                    compliant=str(summary["compliant"]).lower(),
                    complete=str(summary["complete"]).lower(),
                    violations=summary["violations"],
                    warnings=summary["warnings"],
                ),
            },
            "components": components,
            "services": services,
            "vulnerabilities": vulnerabilities,
        }
        return json_printable(json.dumps(bom, ensure_ascii=False, separators=(",", ":"))) + "\n"
