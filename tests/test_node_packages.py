"""Node packages installed in every ``node_modules`` tree, judged by the same package rules as Python's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conftest import Machine

from scanner.audit import AuditOptions, run_audit
from scanner.collectors.packages.npm import package_place
from scanner.policy.loader import load_policy
from scanner.report import report_dict


def install(machine: Machine, tree: str, name: str, **manifest: Any) -> Path:
    folder = machine.path(f"{tree}/node_modules/{name}")
    folder.mkdir(parents=True)
    (folder / "package.json").write_text(json.dumps({"name": name, "version": "1.0.0", **manifest}, indent=2))
    return folder


def audit(machine: Machine) -> dict[str, Any]:
    return report_dict(run_audit(AuditOptions(root=str(machine.root)), load_policy([])))


def test_project_global_and_npx_trees_with_scoped_and_nested_names_are_inventoried(machine: Machine) -> None:
    install(machine, "/srv/webapp", "@ai-sdk/deepseek", description="The DeepSeek provider for the AI SDK")
    install(machine, "/usr/local/lib", "@deepseek-ai/dsh")
    install(machine, "/home/u/.npm/_npx/3f1c2a9b", "minimax-mcp-js")
    install(machine, "/srv/webapp/node_modules/next", "react")  # nested: a dependency's own dependency
    (machine.path("/srv/webapp/node_modules/@ai-sdk/deepseek/dist")).mkdir()
    (machine.path("/srv/webapp/node_modules/@ai-sdk/deepseek/dist/package.json")).write_text('{"type": "module"}')
    report = audit(machine)
    packages = {
        (i["name"], i["attributes"]["environment"]["path"], i["attributes"]["environment"]["kind"])
        for i in report["inventory"]
        if i["kind"] == "package"
    }
    assert packages == {
        ("@ai-sdk/deepseek", "/srv/webapp", "node-project"),
        ("@deepseek-ai/dsh", "/usr/local", "node-global"),
        ("minimax-mcp-js", "/home/u/.npm/_npx/3f1c2a9b", "npx-cache"),
        ("react", "/srv/webapp", "node-project"),
    }
    judged = {(f["subject"], f["provider"], f["rule_id"], f["severity"]) for f in report["findings"]}
    assert judged == {
        ("@ai-sdk/deepseek 1.0.0", "deepseek", "package-listed", "violation"),
        ("@deepseek-ai/dsh 1.0.0", "deepseek", "package-listed", "violation"),
        ("minimax-mcp-js 1.0.0", "minimax", "package-listed", "violation"),
    }


def test_an_npm_package_is_known_by_its_publisher_and_look_alikes_stay_clean(machine: Machine) -> None:
    install(
        machine,
        "/srv/a",
        "ds-helper",
        repository={"type": "git", "url": "git+https://github.com/deepseek-ai/helper.git"},
    )
    install(machine, "/srv/b", "kimi", description="Define states with values and kimi will drive between the states")
    install(machine, "/srv/c", "minimax", description="minimax library", author="Someone <someone@example.org>")
    findings = audit(machine)["findings"]
    assert [(f["subject"], f["rule_id"]) for f in findings] == [("ds-helper 1.0.0", "package-publisher")]


def test_only_a_packages_own_manifest_is_a_package() -> None:
    assert package_place("/srv/app/node_modules/left-pad/package.json") == ("/srv/app", "node-project")
    assert package_place("/srv/app/node_modules/@scope/x/package.json") == ("/srv/app", "node-project")
    assert package_place("/srv/app/node_modules/x/dist/package.json") is None
    assert package_place("/srv/app/package.json") is None
