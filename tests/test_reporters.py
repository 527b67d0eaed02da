"""Reporters: the JSON contract holds to its schema; the table says the verdict and the coverage."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from conftest import Machine, write_dist_info
from test_engine import POLICY

from scanner.audit import AuditOptions, run_audit
from scanner.policy.loader import load_policy
from scanner.policy.schema import Policy
from scanner.report import Report, report_dict
from scanner.reporters.interface import Format
from scanner.reporters.registry import REPORTERS, reporter
from scanner.reporters.table import TableReporter, TableView

SCHEMA = json.loads((Path(__file__).resolve().parents[1] / "scanner" / "schemas" / "report.schema.json").read_text())


@pytest.fixture
def policy(tmp_path: Path) -> Policy:
    path = tmp_path / "test.yaml"
    path.write_text(POLICY)
    return load_policy([str(path)])


@pytest.fixture
def result(machine: Machine, policy: Policy) -> Report:
    site = machine.venv("/opt/agent")
    write_dist_info(site, "langchain-deepseek", "1.1.1")
    write_dist_info(site, "deepseek-helper", "0.1")
    write_dist_info(site, "requests", "2.32.0")
    (machine.path("/srv/excluded")).mkdir(parents=True)
    return report_dict(run_audit(AuditOptions(root=str(machine.root), excludes=("/srv/excluded",)), policy))


def test_every_format_has_a_reporter() -> None:
    assert set(REPORTERS) == set(Format)


def test_json_report_matches_its_published_schema(result: Report) -> None:
    report = json.loads(reporter(Format.JSON).render(result))
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    jsonschema.validate(report, SCHEMA, cls=jsonschema.Draft202012Validator)
    assert report["summary"] == {
        "violations": 1,
        "warnings": 1,
        "infos": 0,
        "compliant": False,
        "complete": True,
        "by_provider": {"deepseek": 2},
        "records": {"package": 3},
    }
    assert report["scan"]["coverage"]["skipped"] == [
        {"path": "/srv/excluded", "reason": "excluded by --exclude", "kind": "excluded"}
    ]
    assert all(item["location"]["path"].startswith("/opt/agent/") for item in report["inventory"])


def test_json_report_is_one_line_that_reads_back_as_the_report(result: Report) -> None:
    text = reporter(Format.JSON).render(result)
    assert text.endswith("}\n") and text.count("\n") == 1
    assert json.loads(text) == json.loads(json.dumps(result))


def test_schema_rejects_a_report_that_drifts_from_the_contract(result: Report) -> None:
    report = json.loads(reporter(Format.JSON).render(result))
    report["findings"][0]["severity"] = "critical"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(report, SCHEMA, cls=jsonschema.Draft202012Validator)


def test_table_starts_and_ends_with_the_verdict_and_wide_adds_the_rule(result: Report) -> None:
    text = reporter(Format.TABLE).render(result)
    lines = text.splitlines()
    assert lines[0] == lines[-1] == "NOT COMPLIANT: 1 violation, 1 warning, 0 info; policy test 1"
    assert "VIOLATION" in text and "langchain-deepseek 1.1.1" in text and "package-listed" not in text
    assert lines[-2] == (
        "Coverage: 10 directories, 13 files; found 3 package(s); 0 path(s) unreadable, 1 skipped by choice."
    )
    wide = TableReporter(TableView(wide=True)).render(result)
    assert "package-listed (confirmed)" in wide
