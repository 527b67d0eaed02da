"""Desktop apps (macOS bundles, Linux launchers, snaps and flatpaks, Windows programs) and editor and browser
extensions, inventoried as packages of their own ecosystems and judged by the package rules."""

from __future__ import annotations

import json
import plistlib
from pathlib import Path
from typing import Any

from conftest import Machine

from scanner.audit import AuditOptions, run_audit
from scanner.collectors.packages.apps import windows_program
from scanner.policy.loader import load_policy
from scanner.report import report_dict


def audit(machine: Machine, *policies: str) -> dict[str, Any]:
    return report_dict(run_audit(AuditOptions(root=str(machine.root)), load_policy(list(policies))))


def judged(report: dict[str, Any]) -> set[tuple[str, str | None, str, str]]:
    return {(f["subject"], f["provider"], f["rule_id"], f["severity"]) for f in report["findings"]}


def bundle(machine: Machine, path: str, info: dict[str, Any], fmt: plistlib.PlistFormat = plistlib.FMT_XML) -> Path:
    contents = machine.path(f"{path}/Contents")
    contents.mkdir(parents=True)
    (contents / "Info.plist").write_bytes(plistlib.dumps(info, fmt=fmt))
    return contents.parent


def write(machine: Machine, path: str, text: str) -> Path:
    target = machine.path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    return target


def test_macos_bundles_are_apps_by_bundle_id_wherever_they_are(machine: Machine) -> None:
    kimi = {
        "CFBundleIdentifier": "com.moonshot.kimichat",
        "CFBundleName": "Kimi",
        "CFBundleShortVersionString": "3.2.4",
    }
    bundle(machine, "/Applications/Kimi Installer.app/Contents/Helpers/Kimi.app", kimi, plistlib.FMT_BINARY)
    helper = {"CFBundleIdentifier": "com.moonshot.kimichat.helper", "CFBundleName": "Kimi Helper"}
    bundle(machine, "/Applications/Kimi Installer.app/Contents/Helpers/Kimi.app/Contents/Frameworks/H.app", helper)
    dsh = {"CFBundleIdentifier": "ai.deepseek.dsh.desktop", "CFBundleDisplayName": "DSH Desktop"}
    bundle(machine, "/Users/ana/Applications/DSH Desktop.app", dsh)
    bundle(machine, "/Applications/Safari.app", {"CFBundleIdentifier": "com.apple.Safari", "CFBundleName": "Safari"})
    machine.path("/srv/site/web.app").mkdir(parents=True)  # a folder named like a bundle is not one
    report = audit(machine)
    apps = {
        (i["name"], i["version"], i["attributes"]["display_name"], i["attributes"]["environment"]["path"])
        for i in report["inventory"]
        if i["attributes"].get("ecosystem") == "app"
    }
    assert apps == {
        ("com.moonshot.kimichat", "3.2.4", "Kimi", "/Applications"),
        ("ai.deepseek.dsh.desktop", None, "DSH Desktop", "/Users/ana/Applications"),
        ("com.apple.Safari", None, "Safari", "/Applications"),
    }
    assert judged(report) == {
        ("com.moonshot.kimichat 3.2.4", "moonshot", "package-listed", "violation"),
        ("ai.deepseek.dsh.desktop", "deepseek", "package-listed", "violation"),
    }
    kimi_finding = next(f for f in report["findings"] if f["provider"] == "moonshot")
    assert kimi_finding["evidence"][0].startswith("app `com.moonshot.kimichat` (Kimi) 3.2.4 is installed in the macOS")


def test_an_app_named_for_a_product_is_a_warning_and_its_ordinary_word_twins_stay_clean(machine: Machine) -> None:
    bundle(machine, "/Applications/DeepSeek.app", {"CFBundleIdentifier": "com.example.deepseek-wrapper"})
    bundle(machine, "/Applications/Hailuo.app", {"CFBundleIdentifier": "com.example.video", "CFBundleName": "Hailuo"})
    bundle(machine, "/Applications/MiniMax Agent.app", {"CFBundleIdentifier": "com.example.agent"})
    chess = {"CFBundleIdentifier": "com.example.chess", "CFBundleName": "MiniMax Chess"}
    bundle(machine, "/Applications/MiniMax Chess.app", chess)
    bundle(machine, "/Applications/Kimi Raikkonen Fans.app", {"CFBundleIdentifier": "com.example.f1"})
    assert judged(audit(machine)) == {
        ("com.example.deepseek-wrapper", "deepseek", "package-name-pattern", "warning"),
        ("com.example.video", "minimax", "package-name-pattern", "warning"),
        ("com.example.agent", "minimax", "package-name-pattern", "warning"),
    }


def test_linux_launchers_snaps_and_flatpaks_are_apps_and_a_launcher_joins_its_snap(machine: Machine) -> None:
    write(
        machine,
        "/var/lib/snapd/desktop/applications/kimi-desktop_kimi-desktop.desktop",
        "[Desktop Entry]\nType=Application\nName=Kimi\nName[zh_CN]=Kimi 智能助手\n"
        "Exec=env BAMF_DESKTOP_FILE_HINT=x /snap/bin/kimi-desktop --token=SECRET %U\n"
        "X-SnapInstanceName=kimi-desktop\n",
    )
    write(machine, "/snap/kimi-desktop/12/meta/snap.yaml", "name: kimi-desktop\nversion: '3.1'\nsummary: Kimi app\n")
    write(machine, "/var/lib/snapd/snaps/kimi-desktop_12.snap", "")
    write(
        machine,
        "/var/lib/flatpak/app/cloud.bernardinello.deepseek-desktop/x86_64/stable/0a1b2c/metadata",
        "[Application]\nname=cloud.bernardinello.deepseek-desktop\nruntime=org.freedesktop.Platform/x86_64/24.08\n",
    )
    write(
        machine,
        "/home/bo/.local/share/applications/gimp.desktop",
        "[Desktop Entry]\nType=Application\nName=GNU Image Manipulation Program\nExec=gimp %U\n",
    )
    write(machine, "/home/bo/.local/share/applications/web.desktop", "[Desktop Entry]\nType=Link\nName=DeepSeek\n")
    report = audit(machine, "default", str(extra_policy(machine)))
    apps = {
        (
            i["name"],
            i["attributes"]["display_name"],
            i["attributes"]["environment"]["kind"],
            len(i["attributes"]["locations"]),
        )
        for i in report["inventory"]
        if i["attributes"].get("ecosystem") == "app"
    }
    assert apps == {
        ("kimi-desktop", "Kimi", "snap", 3),
        ("cloud.bernardinello.deepseek-desktop", None, "flatpak", 1),
        ("gimp", "GNU Image Manipulation Program", "desktop-entries", 1),
    }
    snap = next(i for i in report["inventory"] if i["name"] == "kimi-desktop")
    assert snap["attributes"]["program"] == "env" and "SECRET" not in json.dumps(snap)
    assert judged(report) == {
        ("kimi-desktop 3.1", "moonshot-test", "package-listed", "violation"),
        ("kimi-desktop 3.1", "moonshot", "package-name-pattern", "warning"),  # it shows itself as "Kimi"
        ("cloud.bernardinello.deepseek-desktop", "deepseek", "package-listed", "violation"),
    }


def extra_policy(machine: Machine) -> Path:
    """A test policy listing ids the bundled one leaves out for want of a verified source."""
    return write(
        machine,
        "/etc/scanner/apps.yaml",
        """
schema_version: 1
id: apps-test
version: "1"
title: ids not verified for the bundled policy
sources:
  test-source: {title: a test, date: "2026", urls: ["https://example.org"], confidence: secondary, kind: research}
providers:
  - id: moonshot-test
    name: Kimi (test)
    severity: violation
    reason: a test
    sources: [test-source]
    packages:
      - {name: kimi-desktop, ecosystem: app, source: test-source}
      - {name: abcdefghijklmnopabcdefghijklmnop, ecosystem: chrome, source: test-source}
      - {name: "kimi-helper@example.org", ecosystem: firefox, source: test-source}
""",
    )


def test_windows_shortcuts_and_program_folders_are_apps_by_name(machine: Machine) -> None:
    start = "/C:/ProgramData/Microsoft/Windows/Start Menu/Programs"
    write(machine, f"{start}/DeepSeek.lnk", "L\x00\x00\x00")
    write(machine, f"{start}/DeepSeek/Uninstall DeepSeek.lnk", "L\x00\x00\x00")
    write(machine, f"{start}/Notepad++.lnk", "L\x00\x00\x00")
    write(machine, "/C:/Program Files/Kimi/Kimi.exe", "MZ")
    write(machine, "/C:/Program Files/Kimi/resources/elevate.exe", "MZ")
    write(machine, "/C:/Users/ana/AppData/Local/Programs/MiniMax Agent/MiniMax Agent.exe", "MZ")
    write(machine, "/C:/Program Files/7-Zip/7z.exe", "MZ")
    report = audit(machine)
    apps = {
        (i["name"], i["attributes"]["environment"]["kind"])
        for i in report["inventory"]
        if i["attributes"].get("ecosystem") == "app"
    }
    assert apps == {
        ("DeepSeek", "windows-start-menu"),
        ("Notepad++", "windows-start-menu"),
        ("Kimi", "windows-programs"),
        ("MiniMax Agent", "windows-programs"),
        ("7-Zip", "windows-programs"),
    }
    assert judged(report) == {
        ("deepseek", "deepseek", "package-name-pattern", "warning"),
        ("kimi", "moonshot", "package-name-pattern", "warning"),
        ("minimax agent", "minimax", "package-name-pattern", "warning"),
    }


def test_a_program_is_the_folder_right_under_a_programs_folder() -> None:
    assert windows_program("/C:/Program Files/Kimi/Kimi.exe") == ("/C:/Program Files", "Kimi")
    assert windows_program("/C:/Program Files (x86)/Kimi/bin/k.exe") == ("/C:/Program Files (x86)", "Kimi")
    assert windows_program("/C:/Users/a/AppData/Local/Programs/X/x.exe") == ("/C:/Users/a/AppData/Local/Programs", "X")
    assert windows_program("/C:/ProgramData/Microsoft/Windows/Start Menu/Programs/X/x.exe") is None
    assert windows_program("/C:/Program Files/Kimi/a/b/c.exe") is None


def editor_extension(machine: Machine, home: str, editor: str, folder: str, **manifest: Any) -> Path:
    return write(machine, f"{home}/{editor}/extensions/{folder}/package.json", json.dumps(manifest, indent=2))


def test_editor_extensions_of_vs_code_and_its_forks_are_found_by_id_and_by_what_they_call(machine: Machine) -> None:
    home = "/home/ana"
    editor_extension(
        machine, home, ".vscode", "moonshot-ai.kimi-code-0.5.0",
        name="kimi-code", publisher="moonshot-ai", version="0.5.0", displayName="Kimi Code",
        description="Official Kimi Code plugin for VS Code",
    )  # fmt: skip
    editor_extension(
        machine, home, ".cursor", "someone.smart-coder-1.2.0",
        name="smart-coder", publisher="someone", version="1.2.0", displayName="%name%",
        contributes={"configuration": {"properties": {"smart.baseUrl": {"type": "string", "default": "https://api.deepseek.com/v1"}}}},
    )  # fmt: skip
    write(machine, f"{home}/.cursor/extensions/someone.smart-coder-1.2.0/package.nls.json", '{"name": "Smart Coder"}')
    editor_extension(
        machine, home, ".vscode-oss", "ms-python.python-2026.1.0",
        name="python", publisher="ms-python", version="2026.1.0", displayName="Python",
    )  # fmt: skip
    editor_extension(
        machine, home, ".windsurf", "chess.minimax-chess-1.0.0",
        name="minimax-chess", publisher="chess", version="1.0.0", displayName="MiniMax Chess",
        description="Play chess against the minimax algorithm",
    )  # fmt: skip
    report = audit(machine)
    extensions = {
        (i["name"], i["attributes"]["display_name"], i["attributes"]["editor"])
        for i in report["inventory"]
        if i["attributes"].get("ecosystem") == "vscode"
    }
    assert extensions == {
        ("moonshot-ai.kimi-code", "Kimi Code", "VS Code"),
        ("someone.smart-coder", "Smart Coder", "Cursor"),
        ("ms-python.python", "Python", "VSCodium"),
        ("chess.minimax-chess", "MiniMax Chess", "Windsurf"),
    }
    assert judged(report) == {
        ("moonshot-ai.kimi-code 0.5.0", "moonshot", "package-listed", "violation"),
        ("someone.smart-coder 1.2.0", "deepseek", "package-described", "warning"),
    }
    kimi = next(f for f in report["findings"] if f["provider"] == "moonshot")
    assert kimi["confidence"] == "confirmed" and kimi["evidence"][0].startswith(
        "editor extension `moonshot-ai.kimi-code`"
    )


def test_an_editor_extension_whose_main_script_calls_one_providers_api_is_its_client(machine: Machine) -> None:
    """A hint of lower confidence: a script naming one banned provider's API and no other's is that provider's
    client; one that names several (a multi-provider assistant) says nothing about any of them."""
    home = "/home/ana"
    editor_extension(
        machine, home, ".vscode", "someone.ds-chat-0.3.0",
        name="ds-chat", publisher="someone", version="0.3.0", displayName="Chat", main="./dist/extension.js",
    )  # fmt: skip
    write(machine, f"{home}/.vscode/extensions/someone.ds-chat-0.3.0/dist/extension.js",
          'const u="https://API.DeepSeek.com/chat/completions";fetch(u,{method:"POST"})\n')  # fmt: skip
    editor_extension(
        machine, home, ".vscode", "other.any-model-1.0.0",
        name="any-model", publisher="other", version="1.0.0", displayName="Any Model", main="./out/main",
    )  # fmt: skip
    write(machine, f"{home}/.vscode/extensions/other.any-model-1.0.0/out/main.js",
          'const P={deepseek:"https://api.deepseek.com",kimi:"https://api.moonshot.cn/v1",mm:"https://api.minimax.io/v1"}\n')  # fmt: skip
    editor_extension(
        machine, home, ".vscode", "evil.escape-1.0.0",
        name="escape", publisher="evil", version="1.0.0", displayName="Escape", main="../../../../etc/passwd",
    )  # fmt: skip
    report = audit(machine)
    assert judged(report) == {("someone.ds-chat 0.3.0", "deepseek", "package-described", "warning")}
    finding = next(f for f in report["findings"] if f["provider"] == "deepseek")
    assert any(line.startswith("its main script names `api.deepseek.com`") for line in finding["evidence"])


def chromium_extension(machine: Machine, profile: str, ext_id: str, version: str, **manifest: Any) -> Path:
    folder = machine.path(f"{profile}/Extensions/{ext_id}/{version}_0")
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps({"manifest_version": 3, "version": version, **manifest}))
    return folder


def test_browser_extensions_are_found_by_id_and_by_the_hosts_they_ask_for(machine: Machine) -> None:
    chrome = "/home/ana/.config/google-chrome/Default"
    chromium_extension(machine, chrome, "abcdefghijklmnopabcdefghijklmnop", "1.0", name="Kimi Helper")
    sidebar = chromium_extension(
        machine, "/C:/Users/bo/AppData/Local/Microsoft/Edge/User Data/Profile 1",
        "ponmlkjihgfedcbaponmlkjihgfedcba", "2.1", name="__MSG_appName__", default_locale="en",
        host_permissions=["https://chat.deepseek.com/*", "<all_urls>"],
    )  # fmt: skip
    (sidebar / "_locales/en").mkdir(parents=True)
    (sidebar / "_locales/en/messages.json").write_text(json.dumps({"appName": {"message": "AI Sidebar"}}))
    chromium_extension(
        machine, chrome, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "5.0", name="uBlock Origin", permissions=["<all_urls>"]
    )
    firefox = "/home/ana/.mozilla/firefox/x1y2z3.default-release"
    addons = {
        "schemaVersion": 36,
        "addons": [
            {
                "id": "kimi-helper@example.org",
                "version": "0.3",
                "type": "extension",
                "location": "app-profile",
                "active": True,
                "defaultLocale": {"name": "Kimi Helper", "description": "Chat with Kimi"},
                "userPermissions": {"permissions": ["tabs"], "origins": ["*://*.kimi.com/*"]},
            },
            {"id": "formautofill@mozilla.org", "version": "1.0", "type": "extension", "location": "app-builtin"},
            {"id": "default-theme@mozilla.org", "version": "1.4", "type": "theme", "location": "app-builtin"},
        ],
    }
    write(machine, f"{firefox}/extensions.json", json.dumps(addons))
    write(machine, f"{firefox}/extensions/kimi-helper@example.org.xpi", "PK")
    report = audit(machine, "default", str(extra_policy(machine)))
    extensions = {
        (i["name"], i["attributes"]["display_name"], i["attributes"]["browser"], len(i["attributes"]["locations"]))
        for i in report["inventory"]
        if i["attributes"].get("ecosystem") in ("chrome", "firefox")
    }
    assert extensions == {
        ("abcdefghijklmnopabcdefghijklmnop", "Kimi Helper", "Chrome", 1),
        ("ponmlkjihgfedcbaponmlkjihgfedcba", "AI Sidebar", "Edge", 1),
        ("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "uBlock Origin", "Chrome", 1),
        ("kimi-helper@example.org", "Kimi Helper", "Firefox", 2),
    }
    assert judged(report) == {
        ("abcdefghijklmnopabcdefghijklmnop 1.0", "moonshot-test", "package-listed", "violation"),
        ("ponmlkjihgfedcbaponmlkjihgfedcba 2.1", "deepseek", "package-described", "warning"),
        ("kimi-helper@example.org 0.3", "moonshot-test", "package-listed", "violation"),
        ("kimi-helper@example.org 0.3", "moonshot", "package-described", "warning"),
    }


def test_a_bad_info_plist_or_manifest_costs_that_file_only(machine: Machine) -> None:
    entities = (
        '<?xml version="1.0"?><!DOCTYPE plist [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>'
        '<plist version="1.0"><dict><key>CFBundleIdentifier</key><string>&b;</string></dict></plist>'
    )
    write(machine, "/Applications/Planted.app/Contents/Info.plist", entities)
    write(machine, "/Applications/Huge.app/Contents/Info.plist", "<plist>" + " " * (2 << 20) + "</plist>")
    write(machine, "/home/ana/.vscode/extensions/x.y-1.0.0/package.json", "{not json")
    bundle(machine, "/Applications/Kimi.app", {"CFBundleIdentifier": "com.moonshot.kimichat"})
    report = audit(machine)
    skipped = {(s["path"], s["reason"]) for s in report["scan"]["coverage"]["skipped"]}
    assert skipped >= {
        ("/Applications/Planted.app/Contents/Info.plist", "Info.plist is not a property list"),
        ("/Applications/Huge.app/Contents/Info.plist", "Info.plist larger than 1024 KiB: not read"),
        ("/home/ana/.vscode/extensions/x.y-1.0.0/package.json", "extension manifest is not JSON"),
    }
    assert judged(report) == {("com.moonshot.kimichat", "moonshot", "package-listed", "violation")}
