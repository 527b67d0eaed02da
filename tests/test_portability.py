"""The scanner starts and audits on systems without POSIX-only modules (Windows), and says what it
cannot read there instead of going quiet."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from scanner.collectors.endpoints.processes import Unreadable, proc_environments, psutil_environments
from scanner.drives import choose_drives

POSIX_ONLY = ("pwd", "grp", "fcntl", "termios", "resource")

AS_WINDOWS = textwrap.dedent(
    f"""
    import importlib, pkgutil, sys
    # Third-party libraries decide their own platform support when they are imported: import them while
    # this is still Linux, then make every module of ours that is imported afterwards see Windows.
    import click, typer, yaml, requests, tabulate, sqlite_utils, starlette, uvicorn  # noqa
    for name in {POSIX_ONLY!r}:
        sys.modules[name] = None  # `import pwd` now raises ImportError, as on Windows
    sys.platform = "win32"
    import scanner
    for module in pkgutil.walk_packages(scanner.__path__, "scanner."):
        importlib.import_module(module.name)
    from scanner.cli.app import main
    sys.argv = ["scanner", *sys.argv[1:]]
    main()
    """
)


def run_as_windows(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCANNER_")}
    env |= {"LOCALAPPDATA": str(home / "AppData" / "Local"), "USERNAME": "alice"}
    return subprocess.run(
        [sys.executable, "-c", AS_WINDOWS, *args], capture_output=True, text=True, timeout=300, env=env, check=False
    )


def test_every_module_imports_and_the_version_prints_without_posix_modules(tmp_path: Path) -> None:
    result = run_as_windows("--version", home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("scanner ")


def test_an_audit_runs_and_records_its_store_without_posix_modules(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "Users" / "alice" / "project").mkdir(parents=True)
    (tree / "Users" / "alice" / "project" / ".env").write_text("OPENAI_BASE_URL=https://api.deepseek.com/v1\n")
    report = tmp_path / "report.json"
    result = run_as_windows("audit", "--root", str(tree), "-o", str(report), home=tmp_path)
    assert result.returncode == 1, result.stderr  # not compliant, and no crash
    findings = json.loads(report.read_text())["findings"]
    assert [f["provider"] for f in findings] == ["deepseek"]
    assert (tmp_path / "AppData" / "Local" / "scanner" / "scanner.db").is_file()  # the Windows per-user store


def test_process_environments_read_through_psutil_match_the_proc_reader() -> None:
    """The reader used where there is no /proc (Windows, macOS) sees what /proc shows."""
    env = {**os.environ, "DEEPSEEK_API_KEY": "sk-portability-test-0123456789"}
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], env=env)
    try:
        for reader in (proc_environments, psutil_environments):
            mine = [p for p in reader(Unreadable()) if p.pid == str(child.pid)]
            assert len(mine) == 1, reader.__name__
            assert ("DEEPSEEK_API_KEY", "sk-portability-test-0123456789") in mine[0].variables
            assert mine[0].user and mine[0].name
    finally:
        child.kill()
        child.wait()


def test_a_system_without_proc_or_psutil_says_process_environments_were_not_read() -> None:
    code = textwrap.dedent(
        """
        import sys
        sys.modules["psutil"] = None  # not installed
        sys.platform = "win32"
        from scanner.collectors.endpoints.processes import ProcessCollector
        from scanner.collectors.interface import CollectOptions
        from scanner.fsview import RootFS
        result = ProcessCollector(RootFS(), CollectOptions(whole_machine=True)).finish()
        print([(s.path, s.kind.value, s.reason) for s in result.skipped])
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert "running processes" in result.stdout
    assert "unsupported" in result.stdout
    assert "not available on this system" in result.stdout


def test_a_windows_machine_is_every_fixed_drive_and_other_drives_are_chosen_skips() -> None:
    drives = [("C:\\", "fixed"), ("D:\\", "fixed"), ("E:\\", "removable"), ("R:\\", "ramdisk"), ("Z:\\", "network")]
    roots, skipped = choose_drives(drives, frozenset())
    assert roots == ["C:\\", "D:\\", "R:\\"]
    assert [(s.path, s.kind.value) for s in skipped] == [("E:\\", "filesystem"), ("Z:\\", "filesystem")]
    assert skipped[1].reason == "network drive (skipped by default; --include-fstype network walks it)"
    roots, skipped = choose_drives(drives, frozenset({"network"}))
    assert "Z:\\" in roots and [s.path for s in skipped] == ["E:\\"]
