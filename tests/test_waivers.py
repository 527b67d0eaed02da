"""Waivers: approved, dated exceptions that are reported, never silent, and stop at their expiry."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from conftest import Machine, run_scanner

TODAY = date.today()


def _tree(machine: Machine) -> None:
    for inside, text in (
        ("/srv/redteam/.env", "OPENAI_BASE_URL=https://api.deepseek.com/v1\n"),
        ("/home/alice/.env", "OPENAI_BASE_URL=https://api.deepseek.com/v1\n"),
    ):
        machine.path(inside).parent.mkdir(parents=True, exist_ok=True)
        machine.path(inside).write_text(text)


def _waivers(tmp_path: Path, expires: date, **criteria: str) -> Path:
    lines = ["schema_version: 1", "waivers:"]
    lines += [
        f"  - {key}: {value!r}" if n == 0 else f"    {key}: {value!r}"
        for n, (key, value) in enumerate(criteria.items())
    ]
    lines += [
        "    approved_by: J. Doe, CISO",
        "    reference: SEC-1234",
        "    reason: red-team evaluation under contract 42",
        f"    expires: {expires.isoformat()}",
    ]
    path = tmp_path / "waivers.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _audit(machine: Machine, waivers: Path) -> tuple[int, dict]:
    done = run_scanner("audit", "--root", str(machine.root), "--waivers", str(waivers), "-f", "json")
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout)


def test_a_waiver_in_force_marks_its_finding_waived_and_the_run_passes(machine: Machine, tmp_path: Path) -> None:
    _tree(machine)
    machine.path("/home/alice/.env").unlink()
    code, report = _audit(machine, _waivers(tmp_path, TODAY, provider="deepseek", path="/srv/redteam/*"))
    assert code == 0
    (finding,) = report["findings"]
    assert finding["waived"] is True
    assert finding["waiver"] == {
        "reference": "SEC-1234",
        "approved_by": "J. Doe, CISO",
        "reason": "red-team evaluation under contract 42",
        "expires": TODAY.isoformat(),
        "location": f"{tmp_path / 'waivers.yaml'}:3",
    }
    assert report["summary"]["violations"] == 0 and report["summary"]["compliant"] is True


def test_the_same_waiver_after_its_expiry_stops_waiving_and_is_reported(machine: Machine, tmp_path: Path) -> None:
    _tree(machine)
    machine.path("/home/alice/.env").unlink()
    code, report = _audit(
        machine, _waivers(tmp_path, TODAY - timedelta(days=1), provider="deepseek", path="/srv/redteam/*")
    )
    assert code == 1
    by_rule = {f["rule_id"]: f for f in report["findings"]}
    assert by_rule["endpoint-host"]["waived"] is False
    expired = by_rule["waiver-expired"]
    assert (expired["severity"], expired["kind"], expired["location"]["line"]) == ("warning", "waiver", 3)
    assert "the 1 finding(s) it would cover count again" in " ".join(expired["evidence"])


def test_a_waiver_covers_only_what_all_its_criteria_match(machine: Machine, tmp_path: Path) -> None:
    _tree(machine)
    code, report = _audit(machine, _waivers(tmp_path, TODAY + timedelta(days=30), path="/srv/redteam/*"))
    assert code == 1, "Alice's endpoint is not waived"
    waived = {f["location"]["path"]: f["waived"] for f in report["findings"]}
    assert waived == {"/srv/redteam/.env": True, "/home/alice/.env": False}


def test_a_waiver_by_host_covers_its_sub_domains(machine: Machine, tmp_path: Path) -> None:
    _tree(machine)
    code, report = _audit(machine, _waivers(tmp_path, TODAY + timedelta(days=30), host="deepseek.com"))
    assert code == 0 and all(f["waived"] for f in report["findings"])


def test_a_waiver_that_matches_nothing_is_reported_as_stale(machine: Machine, tmp_path: Path) -> None:
    _tree(machine)
    code, report = _audit(machine, _waivers(tmp_path, TODAY + timedelta(days=30), provider="moonshot"))
    assert code == 1
    (stale,) = [f for f in report["findings"] if f["rule_id"] == "waiver-stale"]
    assert stale["severity"] == "info" and stale["subject"] == "waiver SEC-1234 matches nothing"


def test_a_policy_may_carry_its_own_waivers(machine: Machine, tmp_path: Path) -> None:
    _tree(machine)
    waivers = _waivers(tmp_path, TODAY + timedelta(days=30), rule="endpoint-host")
    policy = tmp_path / "site.yaml"
    body = waivers.read_text().replace("schema_version: 1\n", "")
    policy.write_text(f"schema_version: 1\nid: site\nversion: '1'\ntitle: Site\ninclude: ['bundled:default']\n{body}")
    done = run_scanner("audit", "--root", str(machine.root), "--policy", str(policy), "-f", "json")
    assert done.returncode == 0, done.stderr
    assert all(f["waived"] for f in json.loads(done.stdout)["findings"])


@pytest.mark.parametrize(
    ("criteria", "expires", "message"),
    [
        ({}, "2030-01-01", ":3: waivers[0]: a waiver needs at least one of rule, provider, path or host"),
        ({"rule": "endpoint-hots"}, "2030-01-01", ":3: waivers[0].rule: unknown rule 'endpoint-hots'"),
        ({"provider": "deepsek"}, "2030-01-01", ":3: waivers[0].provider: unknown provider 'deepsek'"),
        ({"provider": "deepseek"}, "31/12/2030", ":7: waivers[0].expires: '31/12/2030' is not a date (YYYY-MM-DD)"),
        ({"providers": "deepseek"}, "2030-01-01", ":3: waivers[0].providers: unknown key (did you mean 'provider'?)"),
    ],
)
def test_invalid_waivers_are_errors_with_file_line_and_field(
    machine: Machine, tmp_path: Path, criteria: dict[str, str], expires: str, message: str
) -> None:
    path = _waivers(tmp_path, TODAY, **criteria)
    path.write_text(path.read_text().replace(TODAY.isoformat(), expires))
    if not criteria:
        path.write_text(path.read_text().replace("    approved_by", "  - approved_by", 1))
    done = run_scanner("audit", "--root", str(machine.root), "--waivers", str(path))
    assert done.returncode == 2
    assert f"scanner: error: {path}{message}" in done.stderr, done.stderr


def test_a_missing_approver_is_an_error(machine: Machine, tmp_path: Path) -> None:
    path = _waivers(tmp_path, TODAY, provider="deepseek")
    path.write_text(path.read_text().replace("    approved_by: J. Doe, CISO\n", ""))
    done = run_scanner("audit", "--root", str(machine.root), "--waivers", str(path))
    assert done.returncode == 2 and "waivers[0].approved_by: required key is missing" in done.stderr
