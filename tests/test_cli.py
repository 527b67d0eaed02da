"""The real ``scanner`` command, end to end, on trees built from real files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Machine, run_scanner, write_conda_record, write_dist_info


def build_machine(machine: Machine, *, banned: bool) -> None:
    """Venvs, a pipx venv, a user site and a conda env; with or without the three banned packages."""
    agent = machine.venv("/opt/venvs/agent")
    write_dist_info(
        agent,
        "openai",
        "3.51.0",
        summary="The official Python library for the openai API",
        author_email="OpenAI <support@openai.com>",
        project_urls=[("Homepage", "https://github.com/openai/openai-python")],
    )
    write_dist_info(
        agent,
        "anthropic",
        "2.10.0",
        summary="The official Python library for the anthropic API",
        author_email="Anthropic <support@anthropic.com>",
    )
    pipx = machine.venv("/home/alice/.local/share/pipx/venvs/tools")
    write_dist_info(
        pipx,
        "transformers",
        "5.23.0",
        summary="State-of-the-art ML",
        author_email="The Hugging Face team <transformers@huggingface.co>",
    )
    user = machine.user_site("/home/alice")
    write_dist_info(
        user,
        "minimax",
        "0.0.2",
        summary="Minimax algorithm for two-player games",
        home_page="https://github.com/example/minimax",
    )
    conda = machine.conda_env("/opt/conda/envs/research")
    write_dist_info(
        conda,
        "litellm",
        "1.80.0",
        installer="conda",
        summary="Library to easily interface with LLM API providers",
    )
    write_conda_record(machine.path("/opt/conda/envs/research"), "litellm", "1.80.0")
    write_conda_record(machine.path("/opt/conda/envs/research"), "python", "3.11.7", build="h955ad1f_0")
    if banned:
        write_dist_info(
            agent,
            "langchain-deepseek",
            "1.1.1",
            summary="An integration package connecting DeepSeek and LangChain",
            author_email="LangChain <support@langchain.dev>",
        )
        kimi = machine.venv("/home/alice/.local/share/pipx/venvs/kimi-cli")
        write_dist_info(kimi, "kimi-cli", "1.52.0", summary="Kimi CLI is your next CLI agent")
        write_dist_info(conda, "minimax-mcp", "0.0.19", summary="Minimax MCP Server")


def audit_json(machine: Machine, *extra: str, unprivileged: bool = False) -> tuple[int, dict]:  # type: ignore[type-arg]
    done = run_scanner("audit", "--root", str(machine.root), "--format", "json", *extra, unprivileged=unprivileged)
    assert done.stderr == "" or done.returncode != 2, done.stderr
    return done.returncode, json.loads(done.stdout)


def test_the_three_banned_packages_are_reported_with_evidence_and_paths_inside_the_root(
    machine: Machine,
) -> None:
    build_machine(machine, banned=True)
    code, report = audit_json(machine)
    assert code == 1
    found = {(f["provider"], f["subject"], f["severity"]) for f in report["findings"]}
    assert found == {
        ("deepseek", "langchain-deepseek 1.1.1", "violation"),
        ("moonshot", "kimi-cli 1.52.0", "violation"),
        ("minimax", "minimax-mcp 0.0.19", "violation"),
    }
    by_provider = {f["provider"]: f for f in report["findings"]}
    assert by_provider["deepseek"]["location"]["path"] == (
        "/opt/venvs/agent/lib/python3.11/site-packages/langchain_deepseek-1.1.1.dist-info"
    )
    assert by_provider["moonshot"]["location"]["path"].startswith("/home/alice/.local/share/pipx/venvs/kimi-cli/")
    assert by_provider["minimax"]["location"]["path"].startswith("/opt/conda/envs/research/")
    for finding in report["findings"]:
        assert finding["rule_id"] == "package-listed" and finding["confidence"] == "confirmed"
        assert "policies/default.yaml" in " ".join(finding["evidence"])
        assert finding["sources"], "every finding cites the sources behind the ban"
    assert report["scan"]["root"] == str(machine.root.resolve())
    assert str(machine.root) not in json.dumps(report["findings"]) + json.dumps(report["inventory"])
    assert report["summary"]["compliant"] is False and report["summary"]["complete"] is True


def test_the_same_machine_without_them_is_compliant(machine: Machine) -> None:
    build_machine(machine, banned=False)
    code, report = audit_json(machine)
    assert (code, report["findings"]) == (0, [])
    names = {item["name"] for item in report["inventory"]}
    assert {"openai", "anthropic", "transformers", "minimax", "litellm", "python"} <= names


def test_table_is_the_default_even_when_piped_so_grep_counts_what_a_person_sees(machine: Machine) -> None:
    build_machine(machine, banned=True)
    piped = run_scanner("audit", "--root", str(machine.root), process=True)
    assert piped.stdout.startswith("NOT COMPLIANT: 3 violations")
    assert sum("VIOLATION" in line for line in piped.stdout.splitlines()) == 3
    as_json = run_scanner("audit", "--root", str(machine.root), "--format", "json")
    assert json.loads(as_json.stdout)["summary"]["violations"] == 3


def test_fail_on_decides_the_exit_code(machine: Machine) -> None:
    build_machine(machine, banned=True)
    assert run_scanner("audit", "--root", str(machine.root), "--fail-on", "never").returncode == 0
    assert run_scanner("audit", "--root", str(machine.root), "--fail-on", "warning").returncode == 1


def test_paths_limit_the_scan_and_are_read_inside_the_root(machine: Machine) -> None:
    build_machine(machine, banned=True)
    code, report = audit_json(machine, "/home")
    assert code == 1
    assert report["scan"]["roots"] == ["/home"]
    assert [f["provider"] for f in report["findings"]] == ["moonshot"]


def test_a_missing_scan_path_is_a_usage_error(machine: Machine) -> None:
    done = run_scanner("audit", "--root", str(machine.root), "/does/not/exist")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == "scanner: error: /does/not/exist: no such file or directory\n"


def test_output_file_receives_the_report(machine: Machine, tmp_path: Path) -> None:
    build_machine(machine, banned=False)
    out = tmp_path / "report.json"
    done = run_scanner("audit", "--root", str(machine.root), "-o", str(out))
    assert (done.returncode, done.stdout) == (0, "")
    assert json.loads(out.read_text())["schema_version"].startswith("1.")


def test_unreadable_directory_shows_up_in_coverage(machine: Machine) -> None:
    build_machine(machine, banned=False)
    locked = machine.path("/home/bob")
    locked.mkdir(parents=True)
    locked.chmod(0)
    try:
        code, report = audit_json(machine, unprivileged=True)
    finally:
        locked.chmod(0o755)
    coverage = report["scan"]["coverage"]
    assert coverage["skipped"] == [{"path": "/home/bob", "reason": "permission denied", "kind": "unreadable"}]
    assert coverage["complete"] is False and report["summary"]["complete"] is False
    assert code == 0
    table = run_scanner("audit", "--root", str(machine.root), "-f", "table")
    assert "COMPLIANT" in table.stdout


def test_a_malformed_policy_gets_one_clear_line_and_exit_2(machine: Machine, tmp_path: Path) -> None:
    bad = tmp_path / "site.yaml"
    bad.write_text(
        "schema_version: 1\nid: site\nversion: '1'\ntitle: Site\nproviders:\n"
        "  - id: deepseek\n    name: DeepSeek\n    severity: critical\n"
    )
    done = run_scanner("audit", "--root", str(machine.root), "--policy", str(bad))
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == (
        f"scanner: error: {bad}:8: providers[0].severity: expected one of violation, warning, info; got 'critical'\n"
    )
    validate = run_scanner("policy", "validate", str(bad))
    assert validate.returncode == 2 and validate.stderr == done.stderr


def test_policy_validate_show_and_list_work_on_the_bundled_policies() -> None:
    bundled = Path(__file__).resolve().parents[1] / "policies"
    done = run_scanner("policy", "validate", *(str(p) for p in sorted(bundled.glob("*.yaml"))))
    assert done.returncode == 0, done.stderr
    assert done.stdout.count(": valid (") == len(list(bundled.glob("*.yaml")))
    shown = run_scanner("policy", "show", "--policy", "extended")
    assert shown.returncode == 0 and "zhipu" in shown.stdout and "deepseek" in shown.stdout
    as_json = json.loads(run_scanner("policy", "show", "-f", "json").stdout)
    assert set(as_json["providers"]) == {"deepseek", "moonshot", "minimax"}
    listed = run_scanner("policy", "list")
    assert "default" in listed.stdout and "extended" in listed.stdout


def test_python_dash_m_scanner_is_the_same_program() -> None:
    done = subprocess.run([sys.executable, "-m", "scanner", "--version"], capture_output=True, text=True, check=True)
    assert done.stdout.startswith("scanner ")


def test_bad_option_values_are_usage_errors() -> None:
    assert run_scanner("audit", "--format", "pdf").returncode == 2
    assert run_scanner("audit", "--fail-on", "sometimes").returncode == 2


@pytest.mark.parametrize("policy_name", ["default", "extended", "allowlist-example"])
def test_every_bundled_policy_can_judge_a_machine(machine: Machine, policy_name: str) -> None:
    build_machine(machine, banned=True)
    code, report = audit_json(machine, "--policy", policy_name)
    assert code == 1
    assert {f["provider"] for f in report["findings"] if f["severity"] == "violation"} >= {
        "deepseek",
        "moonshot",
        "minimax",
    }


def test_progress_goes_to_stderr_and_never_into_the_report(machine: Machine) -> None:
    build_machine(machine, banned=False)
    done = run_scanner("audit", "--root", str(machine.root), "--progress", "-f", "json")
    assert "scanning: " in done.stderr
    assert json.loads(done.stdout)["findings"] == []


def test_a_scan_path_that_cannot_be_resolved_is_a_usage_error_inside_the_root(machine: Machine) -> None:
    machine.path("/etc").mkdir()
    machine.path("/etc/passwd").write_text("root:x:0:0\n")
    (machine.root / "loop").symlink_to("loop")
    for path, reason in (("/etc/passwd/x", "not a directory"), ("/loop", "too many levels of symbolic links")):
        done = run_scanner("audit", "--root", str(machine.root), path)
        assert (done.returncode, done.stdout) == (2, "")
        assert done.stderr == f"scanner: error: {path}: {reason}\n"


def test_an_unwritable_output_is_a_clean_error_and_leaves_nothing_behind(machine: Machine, tmp_path: Path) -> None:
    build_machine(machine, banned=False)
    target = tmp_path / "reports"
    target.mkdir()
    done = run_scanner("audit", "--root", str(machine.root), "-o", str(target))
    assert done.returncode == 2 and done.stderr == f"scanner: error: {target}: cannot write: is a directory\n"
    assert list(tmp_path.glob(".scanner-*")) == [] and list(target.iterdir()) == []


def test_names_cannot_inject_terminal_control_sequences(machine: Machine) -> None:
    site = machine.venv("/opt/v")
    write_dist_info(site, "langchain-deepseek", "1.1.1")
    evil = site / "x\x1b[2A\x1b[2K\rCOMPLIANT-1.0.dist-info"
    evil.mkdir()
    (evil / "METADATA").write_text("Metadata-Version: 2.1\nName: deepseek\x1b[31m\nVersion: 1.0\n")
    table = run_scanner("audit", "--root", str(machine.root), "-f", "table").stdout
    assert "\x1b" not in table and "\r" not in table
    assert "\\x1b[2A" in table


def test_reports_survive_undecodable_file_names(machine: Machine) -> None:
    site = machine.venv("/opt/caf\udce9")
    write_dist_info(site, "langchain-deepseek", "1.1.1")
    code, report = audit_json(machine)
    assert code == 1
    assert report["findings"][0]["location"]["path"].startswith("/opt/caf\\xe9/")


def test_lineage_explains_a_model_folder_and_a_bare_name(machine: Machine) -> None:
    folder = machine.path("/srv/lora")
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text(
        json.dumps(
            {"base_model_name_or_path": "D:/models/deepseek-ai/DeepSeek-R1-Distill-Qwen-1___5B", "peft_type": "LORA"}
        )
    )
    done = run_scanner("lineage", "--root", str(machine.root), "/srv/lora")
    assert done.returncode == 1
    assert "Verdict: VIOLATION deepseek (confirmed, model-lineage)" in done.stdout
    assert "→ an adapter on `D:/models/deepseek-ai/DeepSeek-R1-Distill-Qwen-1___5B`" in done.stdout
    as_json = json.loads(run_scanner("lineage", "deepseek-r1:7b", "-f", "json").stdout)
    assert as_json["findings"][0]["lineage"][1].startswith("→ distilled from `deepseek-ai/DeepSeek-R1`")
    benign = run_scanner("lineage", "Qwen/Qwen2.5-7B-Instruct")
    assert benign.returncode == 0 and "no banned provider" in benign.stdout
