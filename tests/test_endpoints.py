"""The endpoint inventory: where a machine is set up to talk to AI services, precisely and without secrets."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import socket
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from conftest import SCANNER, Machine, require, run_scanner

from scanner.audit import AuditOptions, run_audit, watch_list
from scanner.audit import audit as record_audit
from scanner.collectors.endpoints.connections import resolve_all, sockets
from scanner.collectors.endpoints.logs import LINE_CAP, read_log
from scanner.policy.loader import load_policy
from scanner.report import report_dict
from scanner.reporters.interface import Format
from scanner.store.database import open_store

KEYS = {
    "deepseek": "sk-deepseekSECRET0123456789abcdef",
    "claude": "sk-claudeSECRET9876543210zyxwvu",
    "continue": "sk-continueSECRET112233445566",
    "kimi": "sk-kimiSECRET5566778899aabbcc",
    "aider": "sk-aiderSECRET0099887766554433",
}


def write(machine: Machine, inside: str, text: str) -> None:
    path = machine.path(inside)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def build(machine: Machine) -> None:
    """The issue's acceptance tree: each kind of source, plus the things that must stay quiet."""
    write(
        machine,
        "/home/alice/app/.env",
        f"OPENAI_BASE_URL=https://api.deepseek.com/v1\nDEEPSEEK_API_KEY={KEYS['deepseek']}\n",
    )
    write(
        machine,
        "/home/alice/app/chat.py",
        'from openai import OpenAI\n\nclient = OpenAI(base_url="https://api.moonshot.cn/v1")\n',
    )
    notebook = {
        "cells": [
            {"cell_type": "markdown", "source": ["# Try it\n"], "metadata": {}},
            {
                "cell_type": "code",
                "source": ["from openai import OpenAI\n", 'c = OpenAI(base_url="https://api.deepseek.com")\n'],
                "metadata": {},
                "outputs": [],
                "execution_count": None,
            },
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    write(machine, "/home/alice/notebooks/explore.ipynb", json.dumps(notebook, indent=1))
    write(
        machine,
        "/srv/litellm/config.yaml",
        "model_list:\n  - model_name: fast\n    litellm_params:\n      model: openai/MiniMax-M2\n"
        "      api_base: https://api.minimax.io/v1\n      api_key: os.environ/MINIMAX_API_KEY\n",
    )
    claude = {
        "env": {"ANTHROPIC_BASE_URL": "https://api.deepseek.com/anthropic", "ANTHROPIC_AUTH_TOKEN": KEYS["claude"]}
    }
    write(machine, "/home/alice/.claude/settings.json", json.dumps(claude, indent=2))
    write(
        machine,
        "/home/alice/.continue/config.yaml",
        f"models:\n  - name: DS\n    provider: deepseek\n    model: deepseek-chat\n    apiKey: {KEYS['continue']}\n",
    )
    write(
        machine,
        "/home/alice/.aider.conf.yml",
        f"model: openrouter/deepseek/deepseek-r1\napi-key:\n  - openrouter={KEYS['aider']}\n",
    )
    write(
        machine,
        "/home/alice/.kimi/config.toml",
        f'default_model = "k2"\n\n[providers.moonshot]\ntype = "kimi"\nbase_url = "https://api.moonshot.ai/v1"\napi_key = "{KEYS["kimi"]}"\n',
    )
    # quiet: Western providers, look-alike hosts, prose, and library code inside an installed package
    write(
        machine,
        "/home/bob/app/.env",
        "OPENAI_BASE_URL=https://api.openai.com/v1\nANTHROPIC_BASE_URL=https://api.anthropic.com\n",
    )
    write(
        machine,
        "/home/bob/app/alerts.py",
        'FEED = "https://deepseek-alerts.example.gov/feed"\nBLOG = "https://news.example.org/minimax-algorithms"\n',
    )
    write(machine, "/home/bob/README.md", "We evaluated https://api.deepseek.com last year.\n")
    site = "/opt/venv/lib/python3.11/site-packages"
    write(machine, f"{site}/litellm/llms/deepseek.py", 'DEEPSEEK_API_BASE = "https://api.deepseek.com"\n')
    write(machine, "/opt/app/node_modules/@ai-sdk/deepseek/index.js", 'const base = "https://api.deepseek.com/v1";\n')


def audit(machine: Machine, **options: Any) -> dict[str, Any]:
    return report_dict(run_audit(AuditOptions(root=str(machine.root), **options), load_policy([])))


def test_every_kind_of_source_is_reported_with_provider_file_and_line(machine: Machine) -> None:
    build(machine)
    done = run_scanner("audit", "--root", str(machine.root), "-f", "json")
    assert done.returncode == 1, done.stderr
    found = {
        (f["location"]["path"], f["location"]["line"]): (f["provider"], f["rule_id"], f["severity"])
        for f in json.loads(done.stdout)["findings"]
    }
    assert found == {
        ("/home/alice/app/.env", 1): ("deepseek", "endpoint-host", "violation"),
        ("/home/alice/app/.env", 2): ("deepseek", "endpoint-variable", "warning"),
        ("/home/alice/app/chat.py", 3): ("moonshot", "endpoint-host", "violation"),
        ("/home/alice/notebooks/explore.ipynb", 14): ("deepseek", "endpoint-host", "violation"),
        ("/srv/litellm/config.yaml", 5): ("minimax", "endpoint-host", "violation"),
        ("/home/alice/.claude/settings.json", 3): ("deepseek", "endpoint-host", "violation"),
        ("/home/alice/.continue/config.yaml", 3): ("deepseek", "endpoint-provider", "violation"),
        ("/home/alice/.aider.conf.yml", 1): ("deepseek", "endpoint-model", "violation"),
        ("/home/alice/.kimi/config.toml", 5): ("moonshot", "endpoint-host", "violation"),
    }


def test_secrets_appear_in_no_output_format(machine: Machine, tmp_path: Path) -> None:
    build(machine)
    outputs = [run_scanner("audit", "--root", str(machine.root), "-f", fmt.value).stdout for fmt in Format]
    report_file = tmp_path / "report.json"
    run_scanner("audit", "--root", str(machine.root), "-o", str(report_file))
    outputs.append(report_file.read_text())
    outputs.append(run_scanner("lineage", "--root", str(machine.root), "/home/alice").stdout)
    scan_id = json.loads(outputs[list(Format).index(Format.JSON)])["scan"]["id"]
    outputs += [run_scanner("show", scan_id, "-f", fmt.value).stdout for fmt in Format]
    store = Path(os.environ["SCANNER_DB"]).parent  # the store and its WAL
    for folder in (Path(os.environ["SCANNER_CACHE_DIR"]), store):
        outputs += [p.read_bytes().decode("utf-8", "replace") for p in folder.rglob("*") if p.is_file()]
    for secret in KEYS.values():
        assert all(secret not in text for text in outputs), secret
    report = json.loads(outputs[list(Format).index(Format.JSON)])
    keys = [item["attributes"]["secret"] for item in report["inventory"] if item["attributes"].get("secret")]
    assert {"fingerprint", "last4", "length"} <= set(keys[0]) and keys[0]["fingerprint"].startswith("hmac-sha256:")
    assert any(k["last4"] == KEYS["deepseek"][-4:] for k in keys)


def _secrets(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [i["attributes"]["secret"] for i in report["inventory"] if i["attributes"].get("secret")]


def test_the_same_key_gets_the_same_fingerprint_in_every_scan_of_an_installation(
    machine: Machine, tmp_path: Path
) -> None:
    build(machine)
    options, policy = AuditOptions(root=str(machine.root)), load_policy([])
    with open_store(tmp_path / "scanner.db") as store:
        first, second = (_secrets(record_audit(options, policy, store).report) for _ in range(2))
    assert first and first == second
    with open_store(tmp_path / "other.db") as store:
        elsewhere = _secrets(record_audit(options, policy, store).report)
    assert [s["fingerprint"] for s in elsewhere] != [s["fingerprint"] for s in first], "salted per installation"


def test_a_running_process_with_a_banned_base_url_is_found_by_pid_and_name(tmp_path: Path) -> None:
    script = tmp_path / "assistant-worker"
    script.write_text("import time\ntime.sleep(60)\n")
    env = {**os.environ, "OPENAI_BASE_URL": "https://api.deepseek.com/v1"}
    child = subprocess.Popen([sys.executable, str(script)], env=env)
    try:
        time.sleep(0.3)
        # The live machine as a whole (no paths, no --root), with every folder excluded so the walk is short.
        done = run_scanner("audit", "--exclude", "/*", "-f", "json")
    finally:
        child.kill()
        child.wait()
    report = json.loads(done.stdout)
    (finding,) = [f for f in report["findings"] if f["location"]["path"] == f"/proc/{child.pid}/environ"]
    assert (finding["provider"], finding["rule_id"], finding["severity"]) == ("deepseek", "endpoint-host", "violation")
    assert finding["subject"] == "OPENAI_BASE_URL=https://api.deepseek.com/v1"
    assert f"pid {child.pid}" in finding["evidence"][0]
    (record,) = [r for r in report["inventory"] if r["id"] == finding["record_id"]]
    assert record["attributes"]["process"]["pid"] == str(child.pid)
    assert record["attributes"]["process"]["name"].startswith("python")


def test_systemd_units_and_shell_profiles_are_read(machine: Machine) -> None:
    write(
        machine,
        "/etc/systemd/system/bot.service",
        '[Service]\nEnvironment="OPENAI_API_BASE=https://api.minimaxi.com/v1" "X=1"\nExecStart=/usr/bin/bot\n',
    )
    write(
        machine,
        "/home/carol/.bashrc",
        "alias ll='ls -l'\nexport ANTHROPIC_BASE_URL=https://api.moonshot.ai/anthropic\n",
    )
    found = {(f["location"]["path"], f["provider"]) for f in audit(machine)["findings"]}
    assert found == {("/etc/systemd/system/bot.service", "minimax"), ("/home/carol/.bashrc", "moonshot")}


def test_hosts_file_pins_are_findings_and_blocks_are_info(machine: Machine) -> None:
    write(
        machine, "/etc/hosts", "127.0.0.1 localhost\n0.0.0.0 api.deepseek.com\n203.0.113.7 api.moonshot.cn # pinned\n"
    )
    found = {f["provider"]: f["severity"] for f in audit(machine)["findings"]}
    assert found == {"deepseek": "info", "moonshot": "violation"}


LOGS = {
    "dnsmasq.log": [
        "Nov 29 10:00:01 gw dnsmasq[812]: query[A] api.deepseek.com from 10.0.0.5",
        "Nov 29 10:00:01 gw dnsmasq[812]: forwarded api.deepseek.com to 1.1.1.1",
        "Nov 29 10:05:09 gw dnsmasq[812]: query[AAAA] api.deepseek.com from 10.0.0.5",
        "Nov 29 10:06:00 gw dnsmasq[812]: query[A] www.example.org from 10.0.0.7",
        "garbage that is no log line at all",
    ],
    "bind-query.log": [
        "29-Nov-2026 10:00:01.123 client @0x7f3a 10.0.0.5#53421 (api.moonshot.cn): query: api.moonshot.cn IN A +E(0)K (10.0.0.1)",
        "29-Nov-2026 10:00:02.456 client @0x7f3a 10.0.0.5#53422 (example.com): query: example.com IN A + (10.0.0.1)",
    ],
    "dns.log": [
        "#separator \\x09",
        "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\ttrans_id\tquery\tqtype_name",
        "1764410401.000000\tC1\t10.0.0.5\t51000\t10.0.0.1\t53\tudp\t1\tapi.minimax.io\tA",
        "1764410460.000000\tC2\t10.0.0.5\t51001\t10.0.0.1\t53\tudp\t2\tapi.minimax.io\tA",
        "1764410460.000000\tC2\ttoo few fields",
    ],
    "dns.json.log": [
        '{"ts":1764410401.5,"uid":"C1","id.orig_h":"10.0.0.5","query":"api.kimi.com","qtype_name":"A"}',
        '{"ts":"2026-11-29T10:01:00.000000Z","uid":"C2","query":"API.KIMI.COM.","qtype_name":"AAAA"}',
        '{"ts":1764410402.5,"uid":"C3","id.orig_h":"10.0.0.5"',
    ],
    "squid-access.log": [
        "1764410401.123    120 10.0.0.5 TCP_TUNNEL/200 3456 CONNECT api.deepseek.com:443 - HIER_DIRECT/1.2.3.4 -",
        "1764410402.456     15 10.0.0.6 TCP_MISS/200 512 GET http://platform.moonshot.ai/docs - HIER_DIRECT/5.6.7.8 text/html",
    ],
}


@pytest.mark.parametrize("name", sorted(LOGS))
def test_each_log_format_yields_counts_and_first_and_last_seen(tmp_path: Path, name: str) -> None:
    log = tmp_path / name
    log.write_text("\n".join(LOGS[name]) + "\n")
    reader = read_log(str(log), watch_list(load_policy([])))
    expected = {
        "dnsmasq.log": ({"api.deepseek.com": 2}, 1),
        "bind-query.log": ({"api.moonshot.cn": 1}, 0),
        "dns.log": ({"api.minimax.io": 2}, 1),
        "dns.json.log": ({"api.kimi.com": 2}, 1),
        "squid-access.log": ({"api.deepseek.com": 1, "platform.moonshot.ai": 1}, 0),
    }[name]
    assert {h: s.count for h, s in reader.hosts.items()} == expected[0]
    assert reader.malformed == expected[1]
    first = next(iter(reader.hosts.values()))
    assert first.first and first.last


def test_rotated_gzip_logs_are_read_and_overlong_lines_are_bounded(tmp_path: Path) -> None:
    log = tmp_path / "access.log.1.gz"
    lines = ["x" * (5 * LINE_CAP), *LOGS["squid-access.log"]]
    log.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    reader = read_log(str(log), watch_list(load_policy([])))
    assert {h: s.count for h, s in reader.hosts.items()} == {"api.deepseek.com": 1, "platform.moonshot.ai": 1}
    assert (reader.lines, reader.malformed) == (3, 1)


@pytest.mark.parametrize("ts", ["1e300", "inf", "nan", "-1e300"])
def test_a_zeek_line_with_an_impossible_time_is_malformed_not_fatal(tmp_path: Path, ts: str) -> None:
    log = tmp_path / "dns.log"
    log.write_text("#fields\tts\tuid\tquery\n" + f"{ts}\tC1\tapi.deepseek.com\n1764410401.5\tC2\tapi.deepseek.com\n")
    reader = read_log(str(log), watch_list(load_policy([])))
    assert ({h: s.count for h, s in reader.hosts.items()}, reader.malformed) == ({"api.deepseek.com": 1}, 1)


def test_unreadable_source_files_are_coverage_gaps(machine: Machine) -> None:
    write(machine, "/home/alice/app/client.py", 'OpenAI(base_url="https://api.deepseek.com")\n')
    machine.path("/home/alice/app/client.py").chmod(0)
    done = run_scanner("audit", "--root", str(machine.root), "-f", "json", unprivileged=True)
    report = json.loads(done.stdout)
    assert report["summary"]["complete"] is False
    assert [s["path"] for s in report["scan"]["coverage"]["skipped"]] == ["/home/alice/app/client.py"]


NO_FAIL = ("--no-store", "-f", "json", "--fail-on", "never")


@contextmanager
def traversable_by_others(folder: Path) -> Iterator[None]:
    """Lets an ordinary user reach the installed scanner: a clone made with ``mktemp -d`` (as CI does) is
    private to root. Every folder above it that others may not list gets others' read and search permission
    for the test (Python lists the folders on its path to import from them), then its own back."""
    changed = []
    for above in (folder, *folder.parents):
        mode = above.stat().st_mode
        if mode & (stat.S_IROTH | stat.S_IXOTH) != stat.S_IROTH | stat.S_IXOTH:
            above.chmod(stat.S_IMODE(mode) | stat.S_IROTH | stat.S_IXOTH)
            changed.append((above, stat.S_IMODE(mode)))
    try:
        yield
    finally:
        for above, mode in changed:
            above.chmod(mode)


def test_an_ordinary_users_scan_lists_unreadable_source_as_a_gap_as_the_readme_says() -> None:
    """Decided: an unreadable source file could hide the one line that uses a provider, so it is a gap
    (the README once said the opposite). Run as a real unprivileged user, not as root without capabilities."""
    if os.geteuid() != 0:
        pytest.skip("needs root, to become an ordinary user")
    setpriv = shutil.which("setpriv")
    require("setpriv (to run the scan as an ordinary user)", setpriv)
    assert setpriv is not None and SCANNER is not None
    with tempfile.TemporaryDirectory() as folder, traversable_by_others(Path(SCANNER).parent):
        machine = Machine(Path(folder))
        machine.root.chmod(0o755)  # the test's own folders are private; the user must see the machine
        write(machine, "/home/alice/app/client.py", 'u = "https://example.org"\n')
        write(machine, "/home/bob/.env", "OPENAI_BASE_URL=https://api.deepseek.com/v1\n")
        machine.path("/home/alice/app/client.py").chmod(0o600)
        done = subprocess.run(
            [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", SCANNER, "audit", "--root", folder, *NO_FAIL],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            cwd="/",
        )
    report = json.loads(done.stdout)
    assert report["scan"]["coverage"]["skipped"] == [
        {"path": "/home/alice/app/client.py", "reason": "text unreadable: permission denied", "kind": "unreadable"}
    ]
    assert report["summary"] == {**report["summary"], "complete": False, "violations": 1}, "the rest is still read"
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert "A source file that cannot be read is a coverage gap" in readme


def test_a_provider_named_past_a_files_size_cap_is_a_coverage_gap_and_padding_alone_is_not(machine: Machine) -> None:
    from scanner.collectors.endpoints.text import CODE_CAP

    padding = "# " + "x" * CODE_CAP + "\n"
    write(machine, "/home/alice/app/big.py", padding + 'OpenAI(base_url="https://api.deepseek.com")\n')
    write(machine, "/home/alice/app/long.py", padding + 'OpenAI(base_url="https://api.openai.com/v1")\n')
    report = audit(machine)
    assert report["scan"]["coverage"]["skipped"] == [
        {
            "path": "/home/alice/app/big.py",
            "reason": "names a provider past the first 4 MiB, which is all that was read of it",
            "kind": "unreadable",
        }
    ]
    assert report["summary"]["complete"] is False, "padding must not hide a setting behind a size cap"


def test_a_log_of_one_endless_line_stops_at_the_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from scanner.collectors.endpoints import logs

    monkeypatch.setattr(logs, "LOG_CAP", 1 << 20)
    log = tmp_path / "access.log"
    with open(log, "wb") as handle:
        handle.truncate(64 << 20)  # 64 MiB of NUL bytes, no newline: sparse, nothing on disk
    reader = read_log(str(log), watch_list(load_policy([])))
    assert reader.truncated and reader.lines == 0


def test_a_fifo_named_as_a_log_is_refused_without_blocking(machine: Machine, tmp_path: Path) -> None:
    fifo = tmp_path / "dns.log"
    os.mkfifo(fifo)
    done = run_scanner("audit", "--root", str(machine.root), "--dns-log", str(fifo), "-f", "json")
    (gap,) = json.loads(done.stdout)["scan"]["coverage"]["skipped"]
    assert gap == {"path": str(fifo), "reason": "log unreadable: not a regular file", "kind": "unreadable"}


def test_logs_given_on_the_command_line_become_contacted_findings(machine: Machine, tmp_path: Path) -> None:
    dns = tmp_path / "dnsmasq.log"
    dns.write_text("\n".join(LOGS["dnsmasq.log"]) + "\n")
    proxy = tmp_path / "access.log"
    proxy.write_text("\n".join(LOGS["squid-access.log"]) + "\n")
    done = run_scanner(
        "audit", "--root", str(machine.root), "--dns-log", str(dns), "--proxy-log", str(proxy), "-f", "json"
    )
    report = json.loads(done.stdout)
    contacted = {(f["location"]["path"], f["subject"]): f["rule_id"] for f in report["findings"]}
    assert contacted == {
        (str(dns), "api.deepseek.com"): "endpoint-contacted",
        (str(proxy), "api.deepseek.com"): "endpoint-contacted",
        (str(proxy), "platform.moonshot.ai"): "endpoint-contacted",
    }
    assert "`api.deepseek.com` was looked up 2 times by 10.0.0.5 between " in json.dumps(report["findings"])
    (gap,) = report["scan"]["coverage"]["skipped"]
    assert gap == {"path": str(dns), "reason": "1 of 5 line(s) in no known log format, skipped", "kind": "unsupported"}


def test_endpoint_reports_match_the_json_schema(machine: Machine) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    build(machine)
    schema = json.loads(
        (Path(__file__).resolve().parents[1] / "scanner" / "schemas" / "report.schema.json").read_text()
    )
    jsonschema.validate(audit(machine), schema, cls=jsonschema.Draft202012Validator)


LAB_POLICY = """\
schema_version: 1
id: lab
version: "1"
title: A policy banning this machine's own loopback name
sources:
  lab: {title: Test fixture, date: 2026-11-29, urls: ["https://example.org/lab"], confidence: verified, kind: vendor-documentation}
providers:
  - id: lab
    name: Loopback Lab
    severity: violation
    reason: Stands in for a banned provider whose API host resolves to an address we can connect to.
    sources: [lab]
    endpoints:
      - {host: localhost, base_urls: ["http://localhost"], source: lab}
"""


@pytest.mark.skipif(not os.path.isdir("/proc/net"), reason="live connections are read from Linux /proc")
def test_resolve_finds_a_live_connection_to_a_banned_host_by_process(tmp_path: Path) -> None:
    policy = tmp_path / "lab.yaml"
    policy.write_text(LAB_POLICY)
    (tmp_path / "empty").mkdir()
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    client = tmp_path / "ai-client"
    client.write_text(f"import socket, time\ns = socket.create_connection(('127.0.0.1', {port}))\ntime.sleep(60)\n")
    child = subprocess.Popen([sys.executable, str(client)])
    try:
        server.settimeout(10)
        accepted, _ = server.accept()
        done = run_scanner("audit", "--resolve", "--policy", str(policy), "-f", "json", str(tmp_path / "empty"))
        quiet = run_scanner("audit", "--policy", str(policy), "-f", "json", str(tmp_path / "empty"))
    finally:
        child.kill()
        child.wait()
        server.close()
    accepted.close()
    findings = json.loads(done.stdout)["findings"]
    (finding,) = [f for f in findings if f["location"]["path"] == f"/proc/{child.pid}"]
    assert (finding["rule_id"], finding["severity"], finding["provider"]) == ("endpoint-connection", "warning", "lab")
    assert f"pid {child.pid}" in finding["evidence"][0] and "connection to `localhost`" in finding["evidence"][0]
    assert f"127.0.0.1:{port}" in finding["evidence"][1]
    assert json.loads(quiet.stdout)["findings"] == []


def test_resolve_with_root_is_a_usage_error(machine: Machine) -> None:
    done = run_scanner("audit", "--resolve", "--root", str(machine.root))
    assert done.returncode == 2 and "--resolve" in done.stderr


def test_kernel_socket_tables_are_read_in_both_address_families(tmp_path: Path) -> None:
    (tmp_path / "net").mkdir()
    header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    (tmp_path / "net" / "tcp").write_text(
        header
        + "   0: 0100007F:9C40 0100007F:01BB 01 00000000:00000000 00:00000000 00000000  1000        0 4242 1 0 20 4 30 10 -1\n"
        + "   1: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 21404 1 0 100 0 0 10 0\n"
        + "   2: garbage\n"
    )
    (tmp_path / "net" / "tcp6").write_text(
        header
        + "   0: 00000000000000000000000001000000:9C41 0000000000000000FFFF0000080808C8:0050 02 00000000:00000000 "
        "00:00000000 00000000     0        0 4343 1 0 20 4 30 10 -1\n"
        + "   1: 00000000000000000000000001000000:9C42 B80D0120000000000000000001000000:01BB 01 00000000:00000000 "
        "00:00000000 00000000     0        0 4444 1 0 20 4 30 10 -1\n"
    )
    found = {(s.remote, s.port, s.state, s.inode) for s in sockets(str(tmp_path))}
    assert found == {
        ("127.0.0.1", 443, "established", "4242"),
        ("200.8.8.8", 80, "opening (SYN sent)", "4343"),
        ("2001:db8::1", 443, "established", "4444"),
    }


def test_hosts_that_do_not_exist_are_not_coverage_gaps_but_resolver_failures_are() -> None:
    def resolver(host: str) -> list[str]:
        if host == "gone.example":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        if host == "down.example":
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        return ["::ffff:192.0.2.1", "192.0.2.1", "fe80::1%eth0"]

    by_address, failed = resolve_all(["api.example", "gone.example", "down.example"], resolver)
    assert by_address == {"192.0.2.1": {"api.example"}, "fe80::1": {"api.example"}}
    assert failed == ["down.example"]


def write_webui_db(path: Path, data: dict[str, Any]) -> None:
    """A database laid out as Open WebUI's: its persistent settings as JSON in ``config.data``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE config (id INTEGER PRIMARY KEY, data JSON NOT NULL, version INTEGER, created_at, updated_at)"
        )
        db.execute("INSERT INTO config (data, version) VALUES (?, 0)", (json.dumps({"version": 0}),))
        db.execute("INSERT INTO config (data, version) VALUES (?, 0)", (json.dumps(data),))
    db.close()


def test_open_webui_connections_are_read_from_its_database_even_inside_site_packages(machine: Machine) -> None:
    site = machine.user_site("/home/alice")
    db = site / "open_webui" / "data" / "webui.db"
    write_webui_db(
        db,
        {
            "version": 0,
            "openai": {
                "enable": True,
                "api_base_urls": ["https://api.openai.com/v1", "https://api.deepseek.com/v1"],
                "api_keys": ["", KEYS["deepseek"]],
            },
            "ollama": {"base_urls": ["http://localhost:11434"]},
        },
    )
    write(machine, "/srv/broken/webui.db", "not a database at all, just text")
    report = audit(machine)
    findings = [f for f in report["findings"] if f["kind"] == "endpoint"]
    (finding,) = findings
    assert finding["location"]["path"] == "/" + str(db.relative_to(machine.root))
    assert (finding["provider"], finding["severity"], finding["rule_id"]) == ("deepseek", "violation", "endpoint-host")
    assert "open-webui" in finding["evidence"][0]
    assert KEYS["deepseek"] not in json.dumps(report)
    gaps = {g["path"]: g["reason"] for g in report["scan"]["coverage"]["skipped"]}
    assert gaps["/srv/broken/webui.db"].startswith("open-webui settings: not a readable SQLite database")


def test_links_to_web_sites_are_not_usage(machine: Machine) -> None:
    write(
        machine,
        "/home/alice/app/client.py",
        "# docs: https://api-docs.deepseek.com/guides/anthropic_api and https://platform.moonshot.ai/docs\n"
        'reply = requests.post("https://api.deepseek.com/chat/completions", json=body)\n',
    )
    code = [f for f in audit(machine)["findings"] if f["location"]["path"] == "/home/alice/app/client.py"]
    assert [(f["location"]["line"], f["subject"]) for f in code] == [(2, "https://api.deepseek.com/chat/completions")]


def test_the_scanners_own_files_are_known_by_content_and_imitations_are_still_read(machine: Machine) -> None:
    """Its bundled policy copied anywhere, a policy and waivers it was given, the reports it wrote: its own.
    A file that only starts like a report or a policy is read like any other."""
    build(machine)
    root = str(machine.root)
    bundled = Path(__file__).resolve().parents[1] / "policies" / "default.yaml"
    write(machine, "/home/alice/policies/site.yaml", bundled.read_text())
    site = machine.path("/etc/scanner/lab.yaml")
    site.parent.mkdir(parents=True)
    site.write_text(LAB_POLICY.replace("localhost", "api.deepseek.com").replace("http://", "https://"))
    for name in ("report.json", "report.html", "report.md", "report.csv", "report.sarif"):
        run_scanner("audit", "--root", root, "-o", str(machine.path(f"/var/spool/scanner/{name}")), "-q")
    run_scanner("audit", "--root", root, "--policy", str(site), "--policy", "default", "-q")
    write(
        machine,
        "/home/mallory/report.json",
        '{"schema_version": "1.3.0", "scan": {}, "settings": {"base_url": "https://api.deepseek.com/v1"}}\n',
    )
    write(
        machine,
        "/home/mallory/llm.yaml",
        "schema_version: 2\nproviders:\n  primary:\n    base_url: https://api.deepseek.com\n",
    )
    report = json.loads(run_scanner("audit", "--root", root, "-f", "json").stdout)
    places = {f["location"]["path"] for f in report["findings"]}
    assert not {p for p in places if p.startswith(("/var/spool", "/home/alice/policies", "/etc/scanner"))}
    assert {"/home/mallory/report.json", "/home/mallory/llm.yaml"} <= places


def test_vs_code_extension_state_is_read_from_its_database(machine: Machine) -> None:
    db = machine.path("/home/alice/.config/Code/User/globalStorage/state.vscdb")
    db.parent.mkdir(parents=True)
    rows = {
        "rooveterinaryinc.roo-cline": json.dumps(
            {"apiProvider": "openai", "openAiBaseUrl": "https://api.deepseek.com/v1", "openAiModelId": "deepseek-chat"}
        ),
        "saoudrizwan.claude-dev": json.dumps({"apiProvider": "deepseek", "apiModelId": "deepseek-reasoner"}),
        "workbench.panel.markers": "not json at all",
        "someone.else": json.dumps({"baseUrl": "https://api.moonshot.cn/v1"}),
    }
    with sqlite3.connect(db) as connection:
        connection.execute("CREATE TABLE ItemTable (key TEXT UNIQUE ON CONFLICT REPLACE, value BLOB)")
        connection.executemany("INSERT INTO ItemTable VALUES (?, ?)", rows.items())
    connection.close()
    report = audit(machine)
    found = {(f["provider"], f["rule_id"], f["subject"]) for f in report["findings"]}
    assert found == {
        ("deepseek", "endpoint-host", "openAiBaseUrl=https://api.deepseek.com/v1"),
        ("deepseek", "endpoint-provider", "deepseek (deepseek-reasoner)"),
    }
    tools = {f["evidence"][0].split(")")[0] for f in report["findings"]}
    assert tools == {"an AI tool's settings (roo-code", "an AI tool's settings (cline"}
    assert report["summary"]["complete"]


def test_a_hostile_database_whose_config_is_an_endless_view_is_not_queried(machine: Machine) -> None:
    db = machine.path("/srv/webui/data/webui.db")
    db.parent.mkdir(parents=True)
    with sqlite3.connect(db) as connection:
        connection.execute(
            "CREATE VIEW config AS WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) "
            "SELECT x AS id, 'https://api.deepseek.com' AS data FROM n"
        )
    connection.close()
    report = audit(machine)
    assert report["findings"] == [] and report["summary"]["complete"]


def test_a_hostile_database_whose_column_computes_a_gigabyte_is_not_read(machine: Machine) -> None:
    db = machine.path("/srv/webui/data/webui.db")
    db.parent.mkdir(parents=True)
    with sqlite3.connect(db) as connection:
        connection.execute(
            "CREATE TABLE config(id INTEGER PRIMARY KEY, x, "
            "data GENERATED ALWAYS AS (printf('%.*c', 900000000, 'x')) VIRTUAL)"
        )
        connection.execute("INSERT INTO config(x) VALUES (1)")
    connection.close()
    report = audit(machine)
    assert report["findings"] == []
    assert report["scan"]["coverage"]["skipped"] == [
        {
            "path": "/srv/webui/data/webui.db",
            "reason": "open-webui settings: table config has generated columns; not read",
            "kind": "unsupported",
        }
    ]


def test_a_variable_listing_several_base_urls_is_read_url_by_url(machine: Machine) -> None:
    write(
        machine,
        "/srv/open-webui/.env",
        'OPENAI_API_BASE_URLS="https://api.openai.com/v1;https://api.deepseek.com/v1"\n',
    )
    (finding,) = audit(machine)["findings"]
    assert finding["subject"] == "OPENAI_API_BASE_URLS=https://api.deepseek.com/v1"
    assert finding["location"] == {"path": "/srv/open-webui/.env", "line": 1}
