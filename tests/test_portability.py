"""The scanner starts and audits on systems without POSIX-only modules (Windows), and says what it
cannot read there instead of going quiet."""

from __future__ import annotations

import json
import ntpath
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

from conftest import run_scanner

from scanner.collectors.endpoints.processes import Unreadable, proc_environments, psutil_environments
from scanner.drives import choose_drives
from scanner.fsview import CloudPlaceholder, RootFS, refusal_kind
from scanner.placeholders import placeholder_reason
from scanner.platforms import is_junction
from scanner.syspaths import is_hosts_file
from scanner.vocabulary import SkipKind

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
    written = json.loads(report.read_text())
    assert [f["provider"] for f in written["findings"]] == ["deepseek"]
    assert "resources" not in written["scan"]  # no ``resource`` module: no figures, and no crash
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


def test_cloud_placeholders_are_never_opened_and_are_partial_coverage() -> None:
    """OneDrive marks files on demand with attributes ``stat`` reports on Windows, iCloud evicted files with
    a flag on macOS; neither exists on Linux, so the ``stat`` results are written as those systems give them."""
    onedrive = SimpleNamespace(st_mode=0o100644, st_file_attributes=0x400000 | 0x20)  # RECALL_ON_DATA_ACCESS
    offline = SimpleNamespace(st_mode=0o100644, st_file_attributes=0x1000)  # OFFLINE
    icloud = SimpleNamespace(st_mode=0o100644, st_flags=0x40000000)  # SF_DATALESS
    pinned = SimpleNamespace(st_mode=0o100644, st_file_attributes=0x80000 | 0x20)  # PINNED: on the disk
    assert "OneDrive" in (placeholder_reason(onedrive) or "")
    assert placeholder_reason(offline) is not None
    assert "iCloud" in (placeholder_reason(icloud) or "")
    assert placeholder_reason(pinned) is None
    assert refusal_kind(CloudPlaceholder("x")) is SkipKind.PARTIAL


def test_windows_paths_are_seen_with_slashes_and_the_drive_as_first_folder_and_map_back() -> None:
    """Native Windows path logic, checked with Windows paths on this system (``ntpath``'s shapes)."""
    live = RootFS(windows_paths=True)
    assert live.to_display("C:\\Users\\alice\\.env") == "/C:/Users/alice/.env"
    assert live.to_display("C:\\") == "/C:"
    assert live.to_real("/C:/Users/alice/.env") == "C:\\Users\\alice\\.env"
    assert live.to_real("/C:") == "C:\\"
    for native in ("C:\\Users\\alice\\AppData\\Roaming\\Code\\User\\settings.json", "D:\\models\\m.gguf", "C:\\"):
        assert live.to_real(live.to_display(native)) == ntpath.normpath(native)
        assert live.resolve(native) == ntpath.normpath(native)  # nothing there to follow
    assert is_hosts_file(live.to_display("C:\\Windows\\System32\\drivers\\etc\\hosts"))
    image = RootFS("/mnt/image", windows_paths=True)
    assert image.to_display("/mnt/image\\Users\\bob\\NTUSER.DAT") == "/Users/bob/NTUSER.DAT"
    assert image.to_real("/Users/bob") == "/mnt/image\\Users\\bob"


def test_windows_junctions_are_links_to_folders_not_folders_to_walk() -> None:
    """A profile's legacy junctions (``Application Data``) deny listing: walked, they would be gaps."""
    assert is_junction(SimpleNamespace(is_junction=lambda: True))  # Python 3.12's DirEntry
    older = SimpleNamespace(stat=lambda follow_symlinks: SimpleNamespace(st_reparse_tag=0xA0000003))
    assert is_junction(older)
    folder = SimpleNamespace(stat=lambda follow_symlinks: SimpleNamespace(st_reparse_tag=0))
    assert not is_junction(folder)


def test_windows_system_trees_are_installed_software_for_the_text_scan(tmp_path: Path) -> None:
    for place in ("Windows/System32/x.ps1", "C:/Program Files/App/config.json", "Users/alice/proj/app.py"):
        (tmp_path / "tree" / place).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "tree" / place).write_text('base_url = "https://api.deepseek.com/v1"\n')
    report = tmp_path / "report.json"
    run_scanner("audit", "--root", str(tmp_path / "tree"), "--no-store", "-o", str(report))
    assert [f["location"]["path"] for f in json.loads(report.read_text())["findings"]] == ["/Users/alice/proj/app.py"]
