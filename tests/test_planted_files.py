"""Files any local user can plant, written to make the root scan slow, fail or lose what a file says.

The scanner runs as root over every home; a planted file must cost at most about a second of CPU, and a
file it can only read in part must say so in the coverage. Each case comes from a red-team reproducer:
one shell word of a megabyte (``shlex`` took 13 s), YAML that builds a node per byte or copies nodes
through merge keys, a SQLite schema that is not even UTF-8.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import Machine

from scanner.audit import AuditOptions, run_audit
from scanner.policy.loader import load_policy
from scanner.report import report_dict

POLICY = load_policy(["default"])
MB = 1 << 20
CPU_BOUND = 1.0
"""The guarantee: one planted file costs at most about a second of CPU (README, Cost per planted file)."""


def plant(machine: Machine, inside: str, content: str | bytes) -> None:
    path = machine.path(inside)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else content.encode())


def timed_audit(machine: Machine) -> tuple[float, dict[str, Any]]:
    """CPU seconds of one whole audit of the machine, and its report."""
    began = time.process_time()
    report = report_dict(run_audit(AuditOptions(root=str(machine.root)), POLICY))
    return time.process_time() - began, report


def skipped(report: dict[str, Any]) -> list[tuple[str, str]]:
    return [(s["path"], s["kind"]) for s in report["scan"]["coverage"]["skipped"]]


@pytest.mark.parametrize(
    ("inside", "content"),
    [
        ("/etc/systemd/system/x.service", "[Service]\nEnvironment=A=" + "a" * (MB - 40) + "\n"),
        ("/home/evil/.bashrc", "export A=" + "a" * (MB - 20) + "\n"),
        ("/home/evil/.config/fish/config.fish", "set -gx A " + "a" * (MB - 20) + "\n"),
        ("/home/evil/.bashrc", 'A="' + 'a\\"' * (MB // 3) + '"\n'),
        ("/home/evil/.profile", ("alias x='A=b c " + "D=e " * 100 + "'\n") * (MB // 420)),
    ],
    ids=["service-word", "bashrc-word", "fish-word", "bashrc-escapes", "profile-aliases"],
)
def test_a_megabyte_shell_file_costs_well_under_a_second(machine: Machine, inside: str, content: str) -> None:
    plant(machine, inside, content)
    seconds, _ = timed_audit(machine)
    assert seconds < CPU_BOUND


def test_shell_words_are_still_split_as_the_shell_splits_them(machine: Machine) -> None:
    plant(
        machine,
        "/home/dev/.bashrc",
        "export X=1; OPENAI_BASE_URL='https://api.deepseek.com/v1' claude  # note\n"
        'alias ds="ANTHROPIC_BASE_URL=https://api.minimax.io/anthropic claude"\n'
        'X="a \\" b" && DEEPSEEK_BASE_URL=https://api.deepseek.com/v1#frag|cat\n',
    )
    _, report = timed_audit(machine)
    urls = sorted(
        (item["location"]["line"], item["attributes"].get("url"))
        for item in report["inventory"]
        if item["attributes"].get("source") == "shell-profile"
    )
    assert urls == [
        (1, "https://api.deepseek.com/v1"),
        (2, "https://api.minimax.io/anthropic"),
        (3, "https://api.deepseek.com/v1"),
    ]


def test_a_settings_file_with_thousands_of_settings_is_recorded_in_part_and_says_so(machine: Machine) -> None:
    from scanner.collectors.endpoints.base import RECORDS_PER_FILE

    plant(machine, "/home/evil/.env", "OPENAI_BASE_URL=https://api.deepseek.com/v1\n" * (MB // 44))
    seconds, report = timed_audit(machine)
    endpoints = [i for i in report["inventory"] if i["attributes"].get("source") == "dotenv"]
    assert len(endpoints) == RECORDS_PER_FILE and seconds < CPU_BOUND
    assert ("/home/evil/.env", "partial") in skipped(report)


@pytest.mark.parametrize(
    ("inside", "content", "kind"),
    [
        ("/home/evil/p/config.yaml", "[" + "a," * (MB // 2 - 8) + "a]\n", "unsupported"),
        (
            "/home/evil/r/config.yaml",
            "a: &a {" + ", ".join(f"k{i}: 0" for i in range(9000)) + "}\nb: {<<: [" + ", ".join(["*a"] * 2000) + "]}\n",
            "unsupported",
        ),
    ],
    ids=["flow-list-at-cap", "merge-key-copies"],
)
def test_hostile_yaml_is_refused_before_it_is_built_and_listed(
    machine: Machine, inside: str, content: str, kind: str
) -> None:
    plant(machine, inside, content)
    seconds, report = timed_audit(machine)
    assert seconds < CPU_BOUND
    assert (inside, kind) in skipped(report), "a file not read is never dropped silently"


def test_ordinary_yaml_with_anchors_and_merge_keys_is_still_read(machine: Machine) -> None:
    plant(
        machine,
        "/srv/litellm/config.yaml",
        "defaults: &ds {model: deepseek/deepseek-chat, api_base: https://api.deepseek.com/v1}\n"
        "model_list:\n  - model_name: chat\n    litellm_params:\n      <<: *ds\n      temperature: 0.2\n",
    )
    _, report = timed_audit(machine)
    assert report["summary"]["violations"] >= 1 and report["summary"]["complete"]


def _vscode_state(machine: Machine, *, break_table: str) -> Path:
    """A VS Code ``state.vscdb`` written by SQLite, one CREATE TABLE then patched with a byte that is not UTF-8."""
    path = machine.path("/home/a/.config/Code/User/globalStorage/state.vscdb")
    path.parent.mkdir(parents=True)
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE ItemTable (key TEXT UNIQUE ON CONFLICT REPLACE, value BLOB)")
        db.execute("CREATE TABLE Other (name TEXT UNIQUE ON CONFLICT REPLACE)")
        cline = {"apiProvider": "openai", "openAiBaseUrl": "https://api.deepseek.com/v1"}
        db.execute("INSERT INTO ItemTable VALUES (?, ?)", ("saoudrizwan.claude-dev", json.dumps(cline)))
    db.close()
    data = path.read_bytes()
    marker = f"CREATE TABLE {break_table} (".encode()
    start = data.index(marker)
    patched = data[:start] + data[start:].replace(b"UNIQUE", b"UNIQ\x90!", 1)
    assert len(patched) == len(data)
    path.write_bytes(patched)
    return path


def test_a_damaged_schema_entry_costs_only_its_own_table(machine: Machine) -> None:
    _vscode_state(machine, break_table="Other")
    _, report = timed_audit(machine)
    assert report["summary"]["violations"] == 1 and report["summary"]["complete"], "the settings table is read"


def test_a_settings_table_whose_schema_is_not_utf8_is_a_gap_in_plain_words(machine: Machine) -> None:
    _vscode_state(machine, break_table="ItemTable")
    _, report = timed_audit(machine)
    assert report["scan"]["coverage"]["skipped"] == [
        {
            "path": "/home/a/.config/Code/User/globalStorage/state.vscdb",
            "reason": "vscode-extension settings: the definition of table ItemTable is damaged; its rows cannot be read",
            "kind": "unsupported",
        }
    ]
