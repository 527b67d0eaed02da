"""The newer readers (manifests and lock files, Windows and macOS shells, binary property lists, browser
histories) against files a local user plants and against real layouts they must not misread: a planted
line costs no time, a planted plist or history no memory, a comment or a URL declares nothing, and a
format the tools really write (pnpm's lockfile v5, conda lists at the margin) is read.

Each test runs a whole audit of a tree holding real files, through ``run_audit``.
"""

from __future__ import annotations

import json
import plistlib
import sqlite3
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

from scanner.audit import AuditOptions, run_audit
from scanner.policy.loader import load_policy
from scanner.report import report_dict

POLICY = load_policy(["default"])
SECONDS = 3.0
"""CPU for a whole audit of a tree of one or two small files (an empty one costs well under a second)."""


def _write(root: Path, inside: str, content: str | bytes) -> Path:
    path = root / inside.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def _audit(root: Path) -> tuple[dict[str, Any], float]:
    began = time.process_time()
    report = report_dict(run_audit(AuditOptions(root=str(root)), POLICY))
    return report, time.process_time() - began


def _declared(report: dict[str, Any]) -> dict[str, list[str]]:
    """Declared dependency -> its ``path:line`` places."""
    return {
        r["name"]: [f"{at['path']}:{at['line']}" for at in r["attributes"]["locations"]]
        for r in report["inventory"]
        if r["attributes"].get("found_by") == "manifest-collector"
    }


def _gaps(report: dict[str, Any], path: str) -> list[dict[str, Any]]:
    return [s for s in report["scan"]["coverage"]["skipped"] if s["path"] == path]


# --- manifests: cost ------------------------------------------------------------------------------------


def test_a_toml_line_of_a_bracket_and_blanks_costs_no_time(tmp_path: Path) -> None:
    """``[`` and 4,000 spaces cost 48 s in the table-header expression (three ways to share the blanks)."""
    blanks = "[" + " " * 4000 + "\n"
    _write(tmp_path, "/srv/app/pyproject.toml", blanks + '[project]\ndependencies = ["langchain-deepseek==1.0"]\n')
    _write(tmp_path, "/srv/app/Cargo.lock", blanks + '[[package]]\nname = "deepseek-api"\nversion = "0.1.0"\n')
    report, seconds = _audit(tmp_path)
    assert seconds < SECONDS
    declared = _declared(report)
    assert declared["langchain-deepseek"] == ["/srv/app/pyproject.toml:3"]
    assert declared["deepseek-api"] == ["/srv/app/Cargo.lock:3"]


# --- manifests: what is not a dependency ----------------------------------------------------------------


def test_a_commented_out_dependency_or_a_dependency_group_in_pyproject_declares_nothing(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "/srv/app/pyproject.toml",
        "[project]\n"
        'name = "app"\n'
        "dependencies = [\n"
        '  "openai>=1.0",  # was "langchain-deepseek"\n'
        '  # "deepseek-sdk>=0.1",\n'
        '  "httpx[http2]>=0.27",\n'
        "]\n"
        "[dependency-groups]\n"
        'dev = ["pytest>=8", {include-group = "lint"}]  # "kimi-code"\n'
        'lint = ["ruff"]\n',
    )
    declared = _declared(_audit(tmp_path)[0])
    assert set(declared) == {"openai", "httpx", "pytest", "ruff"}
    assert declared["pytest"] == ["/srv/app/pyproject.toml:9"]


def test_urls_paths_and_options_in_requirements_and_conda_pip_lists_are_not_names(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "/srv/app/requirements.txt",
        "hg+https://hg.example.org/repo#egg=tool\n"
        "svn+https://svn.example.org/repo/trunk#egg=other\n"
        "bzr+lp:project#egg=third\n"
        "C:\\wheels\\thing-1.0-py3-none-any.whl\n"
        "wheels/thing-1.0-py3-none-any.whl\n"
        "langchain-deepseek[extra]==0.1.4 ; python_version >= '3.9' \\\n"
        "    --hash=sha256:0123456789abcdef\n",
    )
    _write(
        tmp_path,
        "/srv/ml/environment.yml",
        "name: ml\n"
        "dependencies:\n"
        "  - python=3.11\n"
        "  - pip:\n"
        "    - --extra-index-url https://download.pytorch.org/whl/cu121\n"
        "    - -r requirements.txt\n"
        "    - git+https://github.com/example/project.git\n"
        "    - kimi-code==1.0  # the CLI\n",
    )
    declared = _declared(_audit(tmp_path)[0])
    assert declared == {
        "langchain-deepseek": ["/srv/app/requirements.txt:6"],
        "kimi-code": ["/srv/ml/environment.yml:8"],
    }


# --- manifests: real layouts that were not read ----------------------------------------------------------


def test_conda_lists_written_at_the_margin_are_read(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "/srv/ml/environment.yml",
        "name: ml\nchannels:\n- conda-forge\ndependencies:\n- python=3.11\n- numpy=1.26\n- pip\n- pip:\n"
        "  - langchain-deepseek==0.1.4\n- scipy\n",
    )
    declared = _declared(_audit(tmp_path)[0])
    assert declared == {
        "numpy": ["/srv/ml/environment.yml:6"],
        "langchain-deepseek": ["/srv/ml/environment.yml:9"],
        "scipy": ["/srv/ml/environment.yml:10"],
    }


def test_pnpm_lockfile_v5_keys_are_read(tmp_path: Path) -> None:
    """pnpm 7 writes ``/name/version`` keys, with peers after ``_`` (lockfile 5.4)."""
    _write(
        tmp_path,
        "/srv/web/pnpm-lock.yaml",
        "lockfileVersion: 5.4\n\nspecifiers:\n  '@ai-sdk/deepseek': ^1.0.0\n\n"
        "dependencies:\n  '@ai-sdk/deepseek': 1.0.5_zod@3.23.8\n\npackages:\n\n"
        "  /@ai-sdk/deepseek/1.0.5_zod@3.23.8:\n    resolution: {integrity: sha512-a==}\n    dev: false\n\n"
        "  /zod/3.23.8:\n    resolution: {integrity: sha512-b==}\n    dev: false\n",
    )
    declared = _declared(_audit(tmp_path)[0])
    assert declared == {"@ai-sdk/deepseek": ["/srv/web/pnpm-lock.yaml:11"], "zod": ["/srv/web/pnpm-lock.yaml:15"]}


def test_a_package_lock_v1_entry_is_found_at_its_own_line_not_where_another_requires_it(tmp_path: Path) -> None:
    lock = {
        "name": "web",
        "lockfileVersion": 1,
        "requires": True,
        "dependencies": {
            "ai": {"version": "3.0.0", "requires": {"@ai-sdk/deepseek": "^1.0.0"}},
            "@ai-sdk/deepseek": {"version": "1.0.5"},
        },
    }
    text = json.dumps(lock, indent=2)
    _write(tmp_path, "/srv/web/package-lock.json", text)
    line = text.split("\n").index('    "@ai-sdk/deepseek": {') + 1
    assert _declared(_audit(tmp_path)[0])["@ai-sdk/deepseek"] == [f"/srv/web/package-lock.json:{line}"]


# --- Windows shells -------------------------------------------------------------------------------------


def test_a_batch_line_of_blanks_costs_no_time(tmp_path: Path) -> None:
    """Splitting on ``\\s*&\\s*`` rescanned each run of blanks from every blank: 2.5 s a 16 KiB line."""
    _write(
        tmp_path,
        "/Users/alice/bin/start.bat",
        ("set A=" + " " * 16_000 + "x\r\n") * 8 + "set OPENAI_BASE_URL=https://api.deepseek.com/v1\r\n",
    )
    report, seconds = _audit(tmp_path)
    assert seconds < SECONDS
    assert [r["location"] for r in report["inventory"] if r["name"] == "OPENAI_BASE_URL"] == [
        {"path": "/Users/alice/bin/start.bat", "line": 9}
    ]


def test_powershell_new_item_on_env_without_equals_or_set_is_read(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "/Users/alice/Documents/PowerShell/Microsoft.PowerShell_profile.ps1",
        'New-Item -Path Env:OPENAI_BASE_URL -Value "https://api.deepseek.com/v1"\n',
    )
    report, _ = _audit(tmp_path)
    assert [r["attributes"]["variable"] for r in report["inventory"] if r["kind"] == "endpoint"] == ["OPENAI_BASE_URL"]


# --- binary property lists ------------------------------------------------------------------------------

PREFERENCES = "/Users/alice/Library/Preferences/com.example.app.plist"


def _binary_plist(value: object) -> bytes:
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(20_000)  # plistlib's writer recurses per level; the test needs the deep file
    try:
        return plistlib.dumps(value, fmt=plistlib.FMT_BINARY)
    finally:
        sys.setrecursionlimit(limit)


def test_a_binary_plist_that_repeats_one_large_value_is_a_gap_not_gigabytes(tmp_path: Path) -> None:
    """One 1 MiB blob referenced 3,000 times (a 1 MiB file) was 4 GB of XML and 8 GB of memory."""
    blob = b"A" * (16 << 10)
    data = _binary_plist({"OPENAI_BASE_URL": "https://api.deepseek.com/v1", "icons": [blob] * 1000})
    assert len(data) < 64 << 10
    _write(tmp_path, PREFERENCES, data)
    report, _ = _audit(tmp_path)
    gaps = _gaps(report, PREFERENCES)
    assert gaps and "MiB of text and data" in gaps[0]["reason"] and gaps[0]["kind"] == "unreadable"
    assert report["scan"]["coverage"]["complete"] is False


def test_a_deeply_nested_binary_plist_is_a_gap_not_a_file_passed_over(tmp_path: Path) -> None:
    """Python's decoder recurses per level: 400 nested arrays was ``not a property list``, dropped without
    a word, though the system reads it (a launchd job's settings beside a deep value went unseen)."""
    deep: object = "x"
    for _ in range(400):
        deep = [deep]
    _write(tmp_path, PREFERENCES, _binary_plist({"OPENAI_BASE_URL": "https://api.deepseek.com/v1", "deep": deep}))
    report, _ = _audit(tmp_path)
    gaps = _gaps(report, PREFERENCES)
    assert gaps and "nested too deeply" in gaps[0]["reason"] and gaps[0]["kind"] == "unreadable"


# --- browser histories ----------------------------------------------------------------------------------


def test_a_history_whose_rows_share_one_huge_value_costs_no_memory(tmp_path: Path) -> None:
    """All ``urls`` rows share one ``id``, so one 2 MiB ``visit_time`` answered for each of them: 100
    rows were 200 MB in the scanner's memory. Only integers and the address's start leave SQLite."""
    history = tmp_path / "home/alice/.config/google-chrome/Default/History"
    history.parent.mkdir(parents=True)
    with sqlite3.connect(history) as db:
        db.execute("CREATE TABLE urls(id INTEGER, url LONGVARCHAR, visit_count INTEGER, last_visit_time INTEGER)")
        db.execute("CREATE TABLE visits(id INTEGER PRIMARY KEY, url INTEGER, visit_time INTEGER)")
        db.executemany(
            "INSERT INTO urls VALUES (1, ?, ?, 13370000000000000)",
            [(f"https://chat.deepseek.com/a/chat/s/{n}", "many" if n % 2 else 2) for n in range(100)],
        )
        db.execute("INSERT INTO visits VALUES (1, 1, ?)", (b"\x01" * (2 << 20),))
    db.close()
    tracemalloc.start()
    try:
        report, _ = _audit(tmp_path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 << 20
    [visit] = [r for r in report["inventory"] if r["attributes"].get("source") == "browser-history"]
    seen = visit["attributes"]["seen"]
    assert (visit["name"], seen["visits"], "first" in seen) == ("chat.deepseek.com", "150", True)
