"""Conventions every command keeps: placeholders in help, "did you mean", -v, Ctrl-C, progress phases,
tables at the terminal, bundled policies by name, shell completion."""

from __future__ import annotations

import json
import re
import shlex
import signal
import subprocess
from pathlib import Path

from conftest import SCANNER, Machine, run_scanner, write_dist_info

COMMANDS = (
    ("audit",),
    ("history",),
    ("diff",),
    ("show",),
    ("lineage",),
    ("submit",),
    ("serve",),
    ("ingest",),
    ("policy", "list"),
    ("policy", "show"),
    ("policy", "validate"),
    ("fleet", "hosts"),
    ("fleet", "show"),
    ("fleet", "summary"),
    ("fleet", "token", "add"),
    ("fleet", "token", "revoke"),
)


def test_help_shows_placeholders_never_python_types() -> None:
    for command in COMMANDS:
        shown = run_scanner(*command, "--help").stdout
        assert shown.startswith("Usage: "), command
        assert not re.search(r"<(?:list\[|bool|str|int|path|file|Path)", shown), (command, shown)
    audit = run_scanner("audit", "--help").stdout
    for placeholder in ("--exclude GLOB", "--root DIR", "--format FORMAT", "--output FILE", "--tag KEY=VALUE"):
        assert placeholder in audit
    assert "One of: table, json, csv" in " ".join(audit.split())  # however the help is wrapped


def test_a_mistyped_choice_gets_a_suggestion(machine: Machine) -> None:
    done = run_scanner("audit", "--root", str(machine.root), "-f", "jsn")
    assert done.returncode == 2 and "Did you mean 'json'?" in done.stderr
    assert "Did you mean 'html'?" in run_scanner("fleet", "summary", "-f", "htm").stderr


def test_verbose_says_what_each_phase_took_and_what_was_not_read(machine: Machine) -> None:
    (machine.path("/home/u")).mkdir(parents=True)
    (machine.path("/home/u/pipe")).symlink_to("/nowhere")
    done = run_scanner("audit", "--root", str(machine.root), "-v", "-q", "--no-store")
    assert re.search(r"scanner: walking took \d+\.\d\d s", done.stderr)
    assert "scanner: judging took" in done.stderr and "not read: /home/u/pipe" in done.stderr
    assert done.stdout.startswith("COMPLIANT")


def test_progress_names_each_phase_after_the_walk_and_is_cleared(machine: Machine) -> None:
    write_dist_info(machine.venv("/opt/venv"), "openai", "1.0.0")
    done = run_scanner("audit", "--root", str(machine.root), "--progress", "-q", "--no-store", process=True)
    assert "scanning: " in done.stderr and "judging..." in done.stderr
    assert done.stderr.endswith("\033[K"), "the progress line is cleared (text mode reads its \\r as a newline)"


def test_ctrl_c_ends_with_one_line_exit_130_and_records_nothing(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    for n in range(400):
        folder = tree / f"d{n}"
        folder.mkdir(parents=True)
        for m in range(25):
            (folder / f"f{m}.py").write_text("x = 1\n")
    db = tmp_path / "scanner.db"
    running = subprocess.Popen(
        [SCANNER, "audit", str(tree), "--db", str(db), "--progress", "--exclude", "nothing"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert running.stderr is not None
    started = running.stderr.read1(64)  # the walk has begun: its first progress line
    running.send_signal(signal.SIGINT)
    out, err = running.communicate(timeout=60)
    err = started + err
    assert running.returncode == 130 and out == b""
    assert err.endswith(b"\r\033[Kscanner: interrupted; nothing recorded\n"), err[-200:]
    listed = run_scanner("history", "--db", str(db), "-f", "json")
    assert json.loads(listed.stdout) == []


def test_fleet_summary_is_a_table_at_the_terminal_and_a_page_in_an_html_file(tmp_path: Path) -> None:
    db = tmp_path / "fleet.db"
    table = run_scanner("fleet", "summary", "--db", str(db))
    assert table.stdout.startswith("FLEET: 0 host(s)") and table.stdout.rstrip().endswith("day(s)")
    run_scanner("fleet", "summary", "--db", str(db), "-o", str(tmp_path / "fleet.html"))
    assert (tmp_path / "fleet.html").read_text().lstrip().lower().startswith("<!doctype html>")


def test_a_policy_includes_a_bundled_policy_by_its_name(tmp_path: Path) -> None:
    site = tmp_path / "site.yaml"
    site.write_text('schema_version: 1\nid: site\nversion: "1"\ntitle: Our site\ninclude: [default]\n')
    done = run_scanner("policy", "validate", str(site))
    assert done.returncode == 0 and "valid" in done.stdout
    site.write_text('schema_version: 1\nid: site\nversion: "1"\ntitle: Our site\ninclude: [defualt.yaml]\n')
    refused = run_scanner("policy", "validate", str(site))
    assert refused.returncode == 2 and "a bundled one is named bundled:NAME: " in refused.stderr


def test_shell_completion_is_offered() -> None:
    """As a user asks for it, from bash (typer finds the shell among the command's parents: ``exit`` keeps
    bash from replacing itself with the command)."""
    assert SCANNER
    shown = subprocess.run(
        ["bash", "-c", f"{shlex.quote(SCANNER)} --show-completion; exit $?"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert shown.returncode == 0 and "complete" in shown.stdout, shown.stderr
