"""CSV, CycloneDX 1.6 and SARIF 2.1.0: valid against the official schemas, faithful to the findings.

The schemas are vendored in ``tests/schemas`` (see its README for their origin): no network.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from conftest import Machine, run_scanner, write_dist_info
from modelkit import hf_cache_repo, model_card, write_gguf
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from scanner.vocabulary import RULES

SCHEMAS = Path(__file__).parent / "schemas"


def _schema(name: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / name).read_text(encoding="utf-8"))


def _cyclonedx_validator() -> jsonschema.Draft7Validator:
    bom = _schema("bom-1.6.schema.json")
    registry: Registry[Any] = Registry().with_resources(
        (schema["$id"], Resource.from_contents(schema, default_specification=DRAFT7))
        for schema in (_schema("spdx.schema.json"), _schema("jsf-0.82.schema.json"))
    )
    return jsonschema.Draft7Validator(bom, registry=registry, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)


def _sarif_validator() -> jsonschema.Draft202012Validator:
    schema = _schema("sarif-schema-2.1.0.json")
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


@pytest.fixture
def tree(machine: Machine, tmp_path: Path) -> tuple[Machine, Path]:
    """Violations of all three kinds, a waived one, and a file an admin cannot read."""
    site = machine.venv("/opt/agent")
    write_dist_info(site, "langchain-deepseek", "1.1.1")
    write_dist_info(site, "requests", "2.32.0")
    quantized = write_gguf(tmp_path / "q.gguf", arch="qwen2", name="DeepSeek R1 Distill Qwen 7B", pre="qwen2")
    hf_cache_repo(
        machine.path("/home/alice/.cache/huggingface/hub"),
        "unsloth/DeepSeek-R1-Distill-Qwen-7B-GGUF",
        {
            "README.md": model_card("deepseek-ai/DeepSeek-R1-Distill-Qwen-7B", "quantized").encode(),
            "DeepSeek-R1-Distill-Qwen-7B-Q4_K_M.gguf": quantized.read_bytes(),
        },
    )
    env = machine.path("/home/alice/app/.env")
    env.parent.mkdir(parents=True)
    env.write_text(
        "# staging\nOPENAI_BASE_URL=https://api.deepseek.com/v1\nDEEPSEEK_API_KEY=sk-live-0123456789abcdef\n"
    )
    code = machine.path("/srv/redteam/eval.py")
    code.parent.mkdir(parents=True)
    code.write_text('from openai import OpenAI\nclient = OpenAI(base_url="https://api.moonshot.cn/v1")\n')
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text(
        "schema_version: 1\nwaivers:\n  - path: /srv/redteam/*\n    approved_by: J. Doe\n    reference: SEC-1\n"
        f"    reason: red team\n    expires: {(date.today() + timedelta(days=9)).isoformat()}\n"
    )
    return machine, waivers


def _render(tree: tuple[Machine, Path], fmt: str) -> str:
    machine, waivers = tree
    done = run_scanner("audit", "--root", str(machine.root), "--waivers", str(waivers), "-f", fmt)
    assert done.returncode == 1, done.stderr
    return done.stdout


def test_cyclonedx_is_a_valid_ai_bom_with_the_findings_as_vulnerabilities(tree: tuple[Machine, Path]) -> None:
    bom = json.loads(_render(tree, "cyclonedx"))
    _cyclonedx_validator().validate(bom)
    by_type: dict[str, list[dict[str, Any]]] = {}
    for component in bom["components"]:
        by_type.setdefault(component["type"], []).append(component)
    assert {c["purl"] for c in by_type["library"]} == {"pkg:pypi/langchain-deepseek@1.1.1", "pkg:pypi/requests@2.32.0"}
    (model,) = by_type["machine-learning-model"]
    assert model["purl"] == "pkg:huggingface/unsloth/DeepSeek-R1-Distill-Qwen-7B-GGUF@" + "a" * 40
    assert model["modelCard"]["modelParameters"]["architectureFamily"] == "qwen2"
    ancestors = [a["name"] for a in model["pedigree"]["ancestors"]]
    assert ancestors[0] == "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B"
    assert {s["name"] for s in bom["services"]} >= {"api.deepseek.com", "api.moonshot.cn"}
    refs = {c["bom-ref"] for c in bom["components"]} | {s["bom-ref"] for s in bom["services"]}
    for vulnerability in bom["vulnerabilities"]:
        assert all(affected["ref"] in refs for affected in vulnerability.get("affects", []))
    model_finding = next(v for v in bom["vulnerabilities"] if v["affects"][0]["ref"] == model["bom-ref"])
    assert model_finding["ratings"][0]["severity"] == "high"
    assert "distilled from `deepseek-ai/DeepSeek-R1`" in model_finding["detail"]
    waived = [v for v in bom["vulnerabilities"] if "analysis" in v]
    assert [v["analysis"]["response"] for v in waived] == [["will_not_fix"]]
    assert "SEC-1" in waived[0]["analysis"]["detail"]


def test_sarif_is_valid_and_points_at_files_and_lines(tree: tuple[Machine, Path]) -> None:
    log = json.loads(_render(tree, "sarif"))
    _sarif_validator().validate(log)
    (run,) = log["runs"]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == list(RULES)
    assert run["originalUriBaseIds"]["ROOT"]["uri"].startswith("file:///")
    results = {
        (r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], r["ruleId"]): r for r in run["results"]
    }
    env = results[("home/alice/app/.env", "endpoint-host")]
    assert env["level"] == "error" and env["locations"][0]["physicalLocation"]["region"] == {"startLine": 2}
    assert run["tool"]["driver"]["rules"][env["ruleIndex"]]["id"] == "endpoint-host"
    assert env["partialFingerprints"]["scannerFingerprint/v1"]
    waived = results[("srv/redteam/eval.py", "endpoint-host")]
    assert waived["suppressions"][0]["status"] == "accepted" and "SEC-1" in waived["suppressions"][0]["justification"]


def test_sarif_tells_a_dashboard_what_could_not_be_scanned(machine: Machine) -> None:
    hidden = machine.path("/srv/locked")
    hidden.mkdir(parents=True)
    hidden.chmod(0)
    try:
        done = run_scanner("audit", "--root", str(machine.root), "-f", "sarif", unprivileged=True)
    finally:
        hidden.chmod(0o755)
    log = json.loads(done.stdout)
    _sarif_validator().validate(log)
    notes = log["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert [n["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for n in notes] == ["srv/locked"]


def test_csv_has_a_row_per_finding_and_neutralises_formulas(machine: Machine) -> None:
    env = machine.path("/home/=HYPERLINK(evil)/.env")
    env.parent.mkdir(parents=True)
    env.write_text("OPENAI_BASE_URL=https://api.deepseek.com/v1\n")
    done = run_scanner("audit", "--root", str(machine.root), "-f", "csv")
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    (row,) = rows
    assert (row["severity"], row["provider"], row["rule_id"], row["line"]) == (
        "violation",
        "deepseek",
        "endpoint-host",
        "1",
    )
    assert row["path"] == "/home/=HYPERLINK(evil)/.env", "starts with '/', so it is safe as it is"
    assert all(not value.startswith(("=", "+", "-", "@")) for value in row.values())


def test_csv_cells_that_would_be_formulas_get_an_apostrophe() -> None:
    from scanner.reporters.csv import _cell

    assert [_cell(v) for v in ("=1+1", "+1", "-1", "@SUM(A1)", "plain", None)] == [
        "'=1+1",
        "'+1",
        "'-1",
        "'@SUM(A1)",
        "plain",
        "",
    ]
