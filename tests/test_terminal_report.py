"""What a person meets at the terminal: the verdict first and last, a table that fits, large sets grouped,
the format a file's name asks for, and a mistyped path refused."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import Machine, run_scanner, write_dist_info

VERDICT = "NOT COMPLIANT: "


def many_configured(machine: Machine, apps: int) -> None:
    """``apps`` services, each configured for DeepSeek's API in its own folder, deep enough to be cut."""
    for n in range(apps):
        folder = machine.path(f"/srv/teams/platform/services/customer-facing-assistant-{n:03d}/config")
        folder.mkdir(parents=True)
        (folder / "settings.yaml").write_text(
            f"llm:\n  base_url: https://api.deepseek.com/v1\n  model: deepseek-chat\n  name: svc{n}\n"
        )


def banned_package(machine: Machine) -> None:
    site = machine.venv("/opt/venvs/an-application-with-a-rather-long-environment-name-for-its-assistant")
    write_dist_info(site, "langchain-deepseek", "1.1.1", summary="An integration package connecting DeepSeek")


def test_the_verdict_is_the_first_and_the_last_line(machine: Machine) -> None:
    banned_package(machine)
    lines = run_scanner("audit", "--root", str(machine.root)).stdout.splitlines()
    assert lines[0].startswith(VERDICT) and lines[-1] == lines[0]


def test_at_80_columns_no_line_of_the_table_is_longer_than_80(machine: Machine) -> None:
    banned_package(machine)
    many_configured(machine, 3)
    done = run_scanner("audit", "--root", str(machine.root), columns=80)
    lines = done.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80, "\n".join(line for line in lines if len(line) > 80)
    rows = [line for line in lines if line.startswith("VIOLATION")]
    assert len(rows) == 7, "one row per finding: the package, and each service's endpoint and model"
    assert all(row.endswith(("settings.yaml:2", "settings.yaml:3", ".dist-info")) for row in rows), (
        "paths keep their end"
    )
    assert "explanation" not in done.stdout and "rule" not in lines[2]


def test_wide_adds_the_rule_and_the_explanation(machine: Machine) -> None:
    banned_package(machine)
    done = run_scanner("audit", "--root", str(machine.root), "--wide")
    assert "package-listed" in done.stdout and "why" in done.stdout


def test_a_large_result_set_is_grouped_by_folder_and_all_lists_every_finding(machine: Machine) -> None:
    many_configured(machine, 30)  # an endpoint and a model each
    grouped = run_scanner("audit", "--root", str(machine.root), columns=100).stdout
    assert "60 findings, grouped" in grouped
    groups = [line for line in grouped.splitlines() if line.startswith("VIOLATION")]
    assert len(groups) <= 50 and sum(int(line.split()[-1]) for line in groups) == 60
    listed = run_scanner("audit", "--root", str(machine.root), "--all").stdout
    assert sum(line.startswith("VIOLATION") for line in listed.splitlines()) == 60


def test_quiet_prints_only_the_verdict_line(machine: Machine) -> None:
    banned_package(machine)
    done = run_scanner("audit", "--root", str(machine.root), "--quiet")
    assert done.returncode == 1 and done.stdout.count("\n") == 1 and done.stdout.startswith(VERDICT)


def test_the_output_file_suffix_chooses_the_format_and_the_verdict_goes_to_stderr(
    machine: Machine, tmp_path: Path
) -> None:
    banned_package(machine)
    page = tmp_path / "report.html"
    done = run_scanner("audit", "--root", str(machine.root), "-o", str(page))
    assert done.stdout == "" and done.stderr.startswith(VERDICT)
    assert page.read_text().lstrip().lower().startswith("<!doctype html>")
    for name, check in (
        ("report.json", lambda text: json.loads(text)["summary"]["violations"] == 1),
        ("report.cdx.json", lambda text: json.loads(text)["bomFormat"] == "CycloneDX"),
        ("report.sarif", lambda text: json.loads(text)["version"] == "2.1.0"),
        ("report.md", lambda text: text.startswith("#")),
        ("report.csv", lambda text: text.startswith("severity,") or "," in text.splitlines()[0]),
        ("report.txt", lambda text: text.startswith(VERDICT)),
    ):
        run_scanner("audit", "--root", str(machine.root), "-o", str(tmp_path / name), "--quiet")
        assert check((tmp_path / name).read_text()), name
    forced = tmp_path / "forced.html"
    run_scanner("audit", "--root", str(machine.root), "-o", str(forced), "-f", "json", "-q")
    assert json.loads(forced.read_text())["summary"]["violations"] == 1, "-f wins over the suffix"


def test_quiet_with_an_output_file_prints_nothing(machine: Machine, tmp_path: Path) -> None:
    banned_package(machine)
    done = run_scanner("audit", "--root", str(machine.root), "-o", str(tmp_path / "r.json"), "-q", process=True)
    assert (done.returncode, done.stdout, done.stderr) == (1, "", "")


def test_lineage_of_a_path_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    for target in (str(tmp_path / "no" / "such" / "model"), "./no-such-folder", "~/no-such-model-folder"):
        done = run_scanner("lineage", target)
        assert done.returncode == 2 and "no such file or folder" in done.stderr, target
    assert run_scanner("lineage", "deepseek-r1:7b").returncode == 1, "a name is still judged as a name"
