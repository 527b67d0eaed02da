"""How Windows and macOS configure things: each place holds a banned setting on a copied disk, and is
found with its provider; the same places configured for an allowed provider stay clean."""

from __future__ import annotations

import json
import os
import plistlib
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import run_scanner

KEY = "sk-0123456789abcdef0123456789abcdef"


def audit(tree: Path, tmp_path: Path) -> dict[str, object]:
    report = tmp_path / "report.json"
    result = run_scanner("audit", "--root", str(tree), "--no-store", "-o", str(report))
    assert result.returncode in (0, 1), result.stderr
    return json.loads(report.read_text())


def found(report: dict[str, object]) -> set[tuple[str, str]]:
    """``(path, provider)`` of every violation or warning."""
    return {(f["location"]["path"], f["provider"]) for f in report["findings"] if f["severity"] != "info"}  # type: ignore[index, union-attr]


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


WINDOWS_PLACES = {
    # PowerShell 7 and Windows PowerShell 5.1: all users and the current user, all hosts and this host
    "Program Files/PowerShell/7/profile.ps1": ('$env:OPENAI_BASE_URL = "{url}"\n', "url"),
    "Program Files/PowerShell/7/Microsoft.PowerShell_profile.ps1": (
        "[System.Environment]::SetEnvironmentVariable('OPENAI_API_BASE', '{url}', 'Machine')\n",
        "url",
    ),
    "Windows/System32/WindowsPowerShell/v1.0/profile.ps1": ("Set-Item -Path Env:{var} -Value '{key}'\n", "key"),
    "Windows/System32/WindowsPowerShell/v1.0/Microsoft.PowerShell_profile.ps1": (
        '${{env:OPENAI_MODEL}} = "{model}"\n',
        "model",
    ),
    "Users/alice/Documents/PowerShell/profile.ps1": (
        'Import-Module posh-git; $Env:ANTHROPIC_BASE_URL="{url}"\n',
        "url",
    ),
    "Users/alice/Documents/PowerShell/Microsoft.PowerShell_profile.ps1": (
        '[Environment]::SetEnvironmentVariable("{var}", "{key}", "User")\n',
        "key",
    ),
    "Users/bob/Documents/WindowsPowerShell/profile.ps1": ('New-Item -Path "Env:\\{var}" -Value "{key}"\n', "key"),
    "Users/bob/Documents/WindowsPowerShell/Microsoft.PowerShell_profile.ps1": ('$env:OPENAI_BASE_URL="{url}"\n', "url"),
    # batch files: set, quoted set, setx (the registry, for good)
    "Users/carol/tools/start-llm.bat": ("@echo off\r\nset OPENAI_API_BASE={url}\r\npython app.py\r\n", "url"),
    "Users/carol/tools/env.cmd": ('@echo off\r\nsetx {var} "{key}" /M\r\n', "key"),
    "ProgramData/agent/run.cmd": ('cd /d %~dp0 && set "OPENAI_BASE_URL={url}" && node server.js\r\n', "url"),
}
BANNED = {"url": "https://api.deepseek.com/v1", "key": KEY, "model": "deepseek-reasoner", "var": "DEEPSEEK_API_KEY"}
ALLOWED = {"url": "https://api.openai.com/v1", "key": KEY, "model": "gpt-4o", "var": "MISTRAL_API_KEY"}


@pytest.mark.parametrize("drive", ["", "C:/"], ids=["disk-root", "drive-letter-folder"])
def test_every_windows_place_with_a_banned_setting_is_found_and_allowed_ones_stay_clean(
    tmp_path: Path, drive: str
) -> None:
    banned, allowed = tmp_path / "banned", tmp_path / "allowed"
    for place, (template, _) in WINDOWS_PLACES.items():
        write(banned / drive / place, template.format(**BANNED))
        write(allowed / drive / place, template.format(**ALLOWED))
    write(
        banned / drive / "Windows/System32/drivers/etc/hosts", "127.0.0.1 localhost\r\n203.0.113.7 api.deepseek.com\r\n"
    )
    write(
        allowed / drive / "Windows/System32/drivers/etc/hosts", "127.0.0.1 localhost\r\n203.0.113.7 api.openai.com\r\n"
    )
    expected = {(f"/{drive}{place}", "deepseek") for place in WINDOWS_PLACES}
    expected.add((f"/{drive}Windows/System32/drivers/etc/hosts", "deepseek"))
    report = audit(banned, tmp_path)
    assert found(report) == expected
    sources = {e["attributes"]["source"] for e in report["inventory"] if e["kind"] == "endpoint"}  # type: ignore[index, union-attr]
    assert {"powershell-profile", "batch-file", "hosts-file"} <= sources
    assert found(audit(allowed, tmp_path)) == set()


def test_registry_hives_of_a_windows_disk_are_listed_as_not_read(tmp_path: Path) -> None:
    write(tmp_path / "tree/Users/alice/NTUSER.DAT", "regf")
    write(tmp_path / "tree/Windows/System32/config/SYSTEM", "regf")
    write(tmp_path / "tree/home/alice/notes/SYSTEM", "a file of that name elsewhere is not a hive")
    report = audit(tmp_path / "tree", tmp_path)
    gaps = {s["path"]: s for s in report["scan"]["coverage"]["skipped"]}  # type: ignore[index]
    assert set(gaps) == {"/Users/alice/NTUSER.DAT", "/Windows/System32/config/SYSTEM"}
    assert all("registry hive not read" in s["reason"] for s in gaps.values())
    assert report["scan"]["coverage"]["complete"] is False  # type: ignore[index]


def macos_disk(root: Path, values: dict[str, str]) -> set[str]:
    """A macOS disk with each place set; returns the paths that hold a setting."""
    write(root / "private/etc/hosts", f"127.0.0.1 localhost\n203.0.113.7 {values['host']}\n")
    write(root / "private/etc/zshrc", f"export OPENAI_BASE_URL={values['url']}\n")
    write(root / "private/etc/launchd.conf", f"setenv {values['var']} {KEY}\n")
    os.symlink("private/etc", root / "etc")
    write(root / "Users/alice/.zshenv", f"export ANTHROPIC_BASE_URL={values['url']}\n")
    write(root / "Users/alice/.zprofile", f"launchctl setenv OPENAI_API_BASE {values['url']}\n")
    job = {
        "Label": "com.alice.assistant",
        "ProgramArguments": ["/usr/local/bin/python3", "/Users/alice/bot.py"],
        "EnvironmentVariables": {"OPENAI_BASE_URL": values["url"], "OPENAI_MODEL": values["model"]},
    }
    agents = root / "Users/alice/Library/LaunchAgents"
    agents.mkdir(parents=True)
    (agents / "com.alice.assistant.plist").write_bytes(plistlib.dumps(job, fmt=plistlib.FMT_BINARY))
    daemons = root / "Library/LaunchDaemons"
    daemons.mkdir(parents=True)
    served = {"Label": "org.lab.llm", "ProgramArguments": ["/opt/llm/bin/serve", "--base-url", values["url"]]}
    (daemons / "org.lab.llm.plist").write_bytes(plistlib.dumps(served, fmt=plistlib.FMT_XML))
    preferences = root / "Users/alice/Library/Preferences"
    preferences.mkdir(parents=True)
    app = {"SUEnableAutomaticChecks": True, "apiBaseURL": values["url"], "recentChats": [{"title": "hello"}]}
    (preferences / "com.example.chatclient.plist").write_bytes(plistlib.dumps(app, fmt=plistlib.FMT_BINARY))
    return {
        "/private/etc/hosts",
        "/private/etc/zshrc",
        "/private/etc/launchd.conf",
        "/Users/alice/.zshenv",
        "/Users/alice/.zprofile",
        "/Users/alice/Library/LaunchAgents/com.alice.assistant.plist",
        "/Library/LaunchDaemons/org.lab.llm.plist",
        "/Users/alice/Library/Preferences/com.example.chatclient.plist",
    }


def test_every_macos_place_with_a_banned_setting_is_found_and_allowed_ones_stay_clean(tmp_path: Path) -> None:
    banned = {
        "host": "api.moonshot.cn",
        "url": "https://api.moonshot.cn/v1",
        "var": "MOONSHOT_API_KEY",
        "model": "kimi-k2-0905-preview",
    }
    allowed = {
        "host": "api.openai.com",
        "url": "https://api.openai.com/v1",
        "var": "MISTRAL_API_KEY",
        "model": "gpt-4o",
    }
    places = macos_disk(tmp_path / "banned", banned)
    report = audit(tmp_path / "banned", tmp_path)
    assert found(report) == {(p, "moonshot") for p in places}
    binary = [f for f in report["findings"] if f["location"]["path"].endswith("chatclient.plist")]  # type: ignore[index, union-attr]
    assert binary and all(f["location"].get("line") is None for f in binary)  # no line of a decoded binary file
    macos_disk(tmp_path / "allowed", allowed)
    assert found(audit(tmp_path / "allowed", tmp_path)) == set()


def test_a_binary_plist_that_expands_without_end_is_a_gap_not_a_stall(tmp_path: Path) -> None:
    level: object = ["https://api.deepseek.com/v1"]
    for _ in range(40):  # 2^40 leaves when expanded; a few hundred bytes on disk
        level = [level, level]
    write(tmp_path / "tree/Users/alice/Library/Preferences/x.plist", "")
    (tmp_path / "tree/Users/alice/Library/Preferences/x.plist").write_bytes(
        plistlib.dumps(level, fmt=plistlib.FMT_BINARY)
    )
    report = audit(tmp_path / "tree", tmp_path)
    gaps = [s for s in report["scan"]["coverage"]["skipped"] if s["path"].endswith("x.plist")]  # type: ignore[index, union-attr]
    assert gaps and "expands to more than" in gaps[0]["reason"]


STAND_IN = textwrap.dedent(
    """
    class Key:
        def __init__(self, root, sub):
            if (root, sub) not in KEYS:
                raise FileNotFoundError(2, "The system cannot find the file specified")
            self.items = KEYS[(root, sub)]
        def __enter__(self): return self
        def __exit__(self, *exc): return False
    winreg = types.ModuleType("winreg")
    winreg.HKEY_LOCAL_MACHINE, winreg.HKEY_CURRENT_USER, winreg.HKEY_USERS = "HKLM", "HKCU", "HKU"
    winreg.OpenKey = Key
    winreg.QueryInfoKey = lambda k: (len(k.items), len(k.items), 0)
    winreg.EnumKey = lambda k, i: k.items[i]
    winreg.EnumValue = lambda k, i: k.items[i]
    sys.modules["winreg"] = winreg
    sys.platform = "win32"
    """
)
"""``winreg`` as Windows gives it, serving the ``KEYS`` a script defines before it (the module exists on Windows
only)."""


FAKE_WINREG = textwrap.dedent(
    """
    import sys, types
    # The live registry, as the winreg module gives it on Windows: these keys and values only.
    KEYS = {
        ("HKLM", r"SYSTEM\\CurrentControlSet\\Control\\Session Manager\\Environment"): [
            ("Path", [r"C:\\Windows"], 7), ("OPENAI_BASE_URL", "https://api.deepseek.com/v1", 1)],
        ("HKCU", "Environment"): [("TEMP", r"%USERPROFILE%\\AppData\\Local\\Temp", 2)],
        ("HKU", ""): ["S-1-5-18", "S-1-5-21-1-2-3-1001", "S-1-5-21-1-2-3-1001_Classes"],
        ("HKU", r"S-1-5-21-1-2-3-1001\\Environment"): [("MOONSHOT_API_KEY", "sk-moonshotmoonshotmoonshot0123", 1)],
    }
    {stand_in}
    from scanner.audit import watch_list
    from scanner.collectors.endpoints.winregistry import RegistryCollector
    from scanner.collectors.interface import CollectOptions
    from scanner.fsview import RootFS
    from scanner.policy.loader import load_policy
    options = CollectOptions(whole_machine=True, watch=watch_list(load_policy()))
    for record in RegistryCollector(RootFS(), options).finish().records:
        print(record.locations[0].path, record.name, record.source.value, record.host or "-")
    """
)
FAKE_WINREG = FAKE_WINREG.replace("{stand_in}\n", STAND_IN)


def test_a_registry_environment_past_the_values_cap_is_a_gap_not_silence() -> None:
    """``HKCU\\Environment`` is the user's to fill: 10,000 values in front of one hid it without a word."""
    crowded = FAKE_WINREG.replace(
        '("HKCU", "Environment"): [',
        '("HKCU", "Environment"): [(f"V{n}", "x", 1) for n in range(10_000)] + [("DEEPSEEK_API_KEY", "sk-a", 1), ',
    ).replace(
        "for record in RegistryCollector(RootFS(), options).finish().records:\n",
        "for skip in RegistryCollector(RootFS(), options).finish().skipped:\n"
        "    print(skip.path, skip.kind.value, skip.reason)\n"
        "for record in []:\n",
    )
    result = subprocess.run([sys.executable, "-c", crowded], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.splitlines() == ["HKCU\\Environment partial 10002 values; only the first 10000 read"]


def test_environment_variables_in_the_live_registry_are_read_for_the_machine_and_every_loaded_user() -> None:
    """``winreg`` exists on Windows only: this stands in for it with the keys a machine would hold."""
    result = subprocess.run(
        [sys.executable, "-c", FAKE_WINREG], capture_output=True, text=True, timeout=120, check=True
    )
    lines = sorted(result.stdout.splitlines())
    assert lines == [
        "HKLM\\SYSTEM\\CurrentControlSet\\Control\\Session Manager\\Environment OPENAI_BASE_URL registry api.deepseek.com",
        "HKU\\S-1-5-21-1-2-3-1001\\Environment MOONSHOT_API_KEY registry -",
    ]


FAKE_UNINSTALL = textwrap.dedent(
    """
    import sys, types
    BS = chr(92)  # a backslash
    U = r"SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall"
    KEYS = {  # programs as installers register them for Settings, Apps
        ("HKLM", U): ["{6F1C-KIMI}", "KB5034441", "Notepad++"],
        ("HKLM", U + r"\\{6F1C-KIMI}"): [
            ("DisplayName", "Kimi", 1), ("DisplayVersion", "2.1.0", 1), ("Publisher", "Moonshot AI", 1),
            ("InstallLocation", r"C:\\Program Files\\Kimi", 1)],
        ("HKLM", U + r"\\KB5034441"): [("DisplayName", "Security Update", 1), ("SystemComponent", "1", 1)],
        ("HKLM", U + r"\\Notepad++"): [("DisplayName", "Notepad++ (64-bit x64)", 1), ("DisplayVersion", "8.6", 1)],
        ("HKU", ""): ["S-1-5-21-1-2-3-1001"],
        ("HKU", "S-1-5-21-1-2-3-1001" + BS + U): ["Hailuo"],
        ("HKU", "S-1-5-21-1-2-3-1001" + BS + U + BS + "Hailuo"): [("DisplayName", "Hailuo AI", 1)],
    }
    {stand_in}
    from scanner.collectors.interface import CollectOptions
    from scanner.collectors.packages.apps import DesktopAppCollector
    from scanner.fsview import RootFS
    from scanner.policy.engine import evaluate
    from scanner.policy.loader import load_policy
    records = DesktopAppCollector(RootFS(), CollectOptions(whole_machine=True)).finish().records
    for record in records:
        print("record", record.name, record.version, record.environment.kind.value, record.locations[0].path)
    for finding in evaluate(records, load_policy()):
        print("finding", finding.provider, finding.severity.value, finding.subject)
    """
)
FAKE_UNINSTALL = FAKE_UNINSTALL.replace("{stand_in}\n", STAND_IN)


def test_programs_registered_for_uninstall_in_the_live_registry_are_desktop_apps() -> None:
    """What Settings, Apps lists, machine-wide and per user, through a stand-in for ``winreg``."""
    result = subprocess.run(
        [sys.executable, "-c", FAKE_UNINSTALL], capture_output=True, text=True, timeout=120, check=True
    )
    lines = result.stdout.splitlines()
    records = sorted(line for line in lines if line.startswith("record"))
    assert records == [
        "record Hailuo AI None windows-programs HKU\\S-1-5-21-1-2-3-1001\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\Hailuo",
        "record Kimi 2.1.0 windows-programs C:\\Program Files\\Kimi",
        "record Notepad++ (64-bit x64) 8.6 windows-programs HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\Notepad++",
    ]  # the update (a system component) is not a program
    findings = {line.split(" ", 3)[1] for line in lines if line.startswith("finding")}
    assert findings == {"moonshot", "minimax"}
