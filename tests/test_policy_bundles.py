"""Policies that reach every agent: keys and bundles made by the CLI, published by a real collector on
127.0.0.1, fetched, verified and judged by through ``scanner audit --config agent.yaml``."""

from __future__ import annotations

import base64
import http.server
import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import requests
from conftest import Machine, run_scanner
from test_fleet import Collector

from scanner.audit import AuditOptions, run_audit
from scanner.errors import BundleError
from scanner.fleet.collector.sqlite_storage import SqliteFleetStorage
from scanner.policy.bundle import MAX_BUNDLE, bundle_policy, parse_bundle
from scanner.policy.loader import load_policy
from scanner.report import report_dict

SOURCES = """\
schema_version: 1
id: site-sources
version: "1"
title: Where the site's bans come from
sources:
  site-memo: {title: Security memo 12, date: 2026-12-01, urls: ["https://example.org/memo-12"], confidence: verified, kind: vendor-documentation}
"""
SITE = """\
schema_version: 1
id: site
version: "{version}"
title: The site's own bans
include: [../common/sources.yaml]
providers:
  - id: acme-ai
    name: Acme AI
    severity: violation
    reason: Banned by security memo 12.
    sources: [site-memo]
    endpoints:
      - {{host: api.acme-ai.example, base_urls: ["https://api.acme-ai.example/v1"], source: site-memo}}
"""
HOST = socket.gethostname()


def site_policy(folder: Path, version: str = "1") -> Path:
    """A site policy in its own folder that includes a file from a sibling folder."""
    (folder / "common").mkdir(parents=True, exist_ok=True)
    (folder / "common" / "sources.yaml").write_text(SOURCES)
    (folder / "rules").mkdir(exist_ok=True)
    site = folder / "rules" / "site.yaml"
    site.write_text(SITE.format(version=version))
    return site


def keygen(path: Path) -> tuple[Path, Path]:
    done = run_scanner("policy", "keygen", "--out", str(path))
    assert done.returncode == 0, done.stderr
    return path, path.with_name(path.name + ".pub")


def sign(policies: list[Path], key: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return run_scanner("policy", "sign", *(str(p) for p in policies), "--key", str(key), "-o", str(out))


def kept_bundle() -> Path:
    """Where the agent keeps its last verified bundle: beside its store (per test, see conftest)."""
    return Path(os.environ["SCANNER_DB"]).parent / "policy-bundle.json"


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "keys").mkdir()
    return keygen(tmp_path / "keys" / "policy.key")


@pytest.fixture
def bundle(tmp_path: Path, keys: tuple[Path, Path]) -> Path:
    out = tmp_path / "published" / "policy-bundle.json"
    out.parent.mkdir()
    done = sign([site_policy(tmp_path / "admin")], keys[0], out)
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture
def planted(machine: Machine) -> Machine:
    """A machine whose only AI use is the site-banned provider, which the bundled policies do not know."""
    env = machine.path("/home/alice/app/.env")
    env.parent.mkdir(parents=True)
    env.write_text("OPENAI_BASE_URL=https://api.acme-ai.example/v1\n")
    return machine


@pytest.fixture
def collector(tmp_path: Path, bundle: Path) -> Iterator[Collector]:
    running = Collector(str(tmp_path / "fleet.db"), "--policy-bundle", str(bundle)).start()
    yield running
    running.stop()


def enrol(tmp_path: Path) -> Path:
    """This host's token in the fleet database the ``collector`` fixture serves."""
    token = tmp_path / "agent.token"
    if not token.exists():
        done = run_scanner("fleet", "token", "add", HOST, "--db", str(tmp_path / "fleet.db"), "-o", str(token))
        assert done.returncode == 0, done.stderr
    return token


def agent_config(tmp_path: Path, machine: Machine, url: str, public: Path) -> Path:
    token = enrol(tmp_path)
    config = tmp_path / "agent.yaml"
    config.write_text(f"root: {machine.root}\nsubmit: {url}\ntoken_file: {token}\npolicy_key: {public}\nformat: json\n")
    return config


def audit(config: Path) -> tuple[int, dict[str, Any] | None, str]:
    done = run_scanner("audit", "--config", str(config))
    return done.returncode, json.loads(done.stdout) if done.stdout else None, done.stderr


def acme_findings(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in report["findings"] if f["provider"] == "acme-ai"]


def policy_gaps(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in report["scan"]["coverage"]["skipped"] if s["path"].endswith("/api/v1/policy")]


def test_a_signed_bundle_from_the_collector_judges_the_scan(
    tmp_path: Path, planted: Machine, keys: tuple[Path, Path], bundle: Path, collector: Collector
) -> None:
    unbundled = run_scanner("audit", "--root", str(planted.root), "-f", "json", "--no-store")
    assert unbundled.returncode == 0 and acme_findings(json.loads(unbundled.stdout)) == []
    state = planted.path("/var/lib/scanner/policy-bundle.json")  # where the agent keeps it on a real machine
    state.parent.mkdir(parents=True)
    state.write_bytes(bundle.read_bytes())
    code, report, stderr = audit(agent_config(tmp_path, planted, collector.url, keys[1]))
    assert report is not None and code == 1, stderr
    assert "policy bundle from" in stderr and "verified" in stderr and "1 report(s) delivered" in stderr
    (finding,) = acme_findings(report)  # the .env; not the kept bundle, which names the provider too
    assert finding["location"]["path"] == "/home/alice/app/.env"
    assert finding["severity"] == "violation" and "api.acme-ai.example" in finding["subject"]
    assert [(p["id"], p["path"]) for p in report["scan"]["policy"]] == [
        ("site-sources", "bundle:site/common/sources.yaml"),
        ("site", "bundle:site/rules/site.yaml"),
    ]
    assert policy_gaps(report) == [] and report["summary"]["complete"] is True
    assert kept_bundle().read_bytes() == bundle.read_bytes() and kept_bundle().stat().st_mode & 0o777 == 0o600


def test_the_collector_gives_the_bundle_to_enrolled_agents_only(
    tmp_path: Path, bundle: Path, collector: Collector
) -> None:
    url = collector.url + "/api/v1/policy"
    assert requests.get(url, timeout=5).status_code == 401
    assert requests.get(url, headers={"Authorization": "Bearer sct_nobody"}, timeout=5).status_code == 401
    token = enrol(tmp_path).read_text().strip()
    served = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert served.status_code == 200 and served.content == bundle.read_bytes()


def test_serve_refuses_a_policy_bundle_it_cannot_publish(tmp_path: Path) -> None:
    garbage = tmp_path / "bundle.json"
    garbage.write_text("<html>not a bundle</html>")
    done = run_scanner("serve", "--db", str(tmp_path / "fleet.db"), "--policy-bundle", str(garbage))
    assert done.returncode == 2 and f"{garbage}: not a policy bundle (JSON)" in done.stderr, done.stderr


def test_a_collector_without_a_bundle_answers_404_and_the_agent_says_so(
    tmp_path: Path, planted: Machine, keys: tuple[Path, Path]
) -> None:
    bare = Collector(str(tmp_path / "fleet.db")).start()
    try:
        config = agent_config(tmp_path, planted, bare.url, keys[1])
        token = (tmp_path / "agent.token").read_text().strip()
        answer = requests.get(bare.url + "/api/v1/policy", headers={"Authorization": f"Bearer {token}"}, timeout=5)
        assert answer.status_code == 404 and "publishes no policy bundle" in answer.json()["error"]
        code, report, stderr = audit(config)
    finally:
        bare.stop()
    assert code == 2 and report is None
    assert "collector answered 404: this collector publishes no policy bundle" in stderr
    assert "no verified policy bundle was kept" in stderr


def test_a_bundle_changed_after_signing_is_refused_and_the_last_good_one_judges(
    tmp_path: Path, planted: Machine, keys: tuple[Path, Path], bundle: Path, collector: Collector
) -> None:
    config = agent_config(tmp_path, planted, collector.url, keys[1])
    assert audit(config)[0] == 1
    document = json.loads(bundle.read_text())
    site = next(f for f in document["files"] if f["name"] == "site/rules/site.yaml")
    site["text"] = site["text"].replace("api.acme-ai.example", "api.acme-ai.exampla", 1)  # one byte changed
    bundle.write_text(json.dumps(document))  # the collector reads the changed file again
    code, report, stderr = audit(config)
    assert report is not None and code == 1, stderr
    assert "policy bundle refused: the signature does not match the bundle's contents" in stderr
    assert "judging by the last verified policy bundle" in stderr and "may be outdated" in stderr
    assert len(acme_findings(report)) == 1, "still judged by the last good bundle"
    (gap,) = policy_gaps(report)
    assert "changed after signing" in gap["reason"] and "may be outdated" in gap["reason"]
    assert report["summary"]["complete"] is False


def test_an_unreachable_collector_leaves_the_last_good_bundle_judging_and_saying_so(
    tmp_path: Path, planted: Machine, keys: tuple[Path, Path], bundle: Path, collector: Collector
) -> None:
    config = agent_config(tmp_path, planted, collector.url, keys[1])
    assert audit(config)[0] == 1
    collector.stop()
    code, report, stderr = audit(config)
    assert report is not None and code == 1, stderr
    assert "cannot reach the collector" in stderr and "judging by the last verified policy bundle" in stderr
    assert len(acme_findings(report)) == 1
    (gap,) = policy_gaps(report)
    assert gap["kind"] == "unreadable" and "cannot reach the collector" in gap["reason"]


def test_with_no_verified_bundle_kept_an_unreachable_collector_fails_the_audit(
    tmp_path: Path, planted: Machine, keys: tuple[Path, Path]
) -> None:
    nobody = f"http://127.0.0.1:{_free_port()}"
    code, report, stderr = audit(agent_config(tmp_path, planted, nobody, keys[1]))
    assert code == 2 and report is None
    assert stderr.startswith("scanner: error: cannot reach the collector at")
    assert "and no verified policy bundle was kept" in stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unsigned_bundle_or_one_signed_by_another_key_is_refused(
    tmp_path: Path, planted: Machine, keys: tuple[Path, Path], bundle: Path, collector: Collector
) -> None:
    config = agent_config(tmp_path, planted, collector.url, keys[1])
    signed = bundle.read_bytes()
    unsigned = json.loads(signed)
    del unsigned["signature"]
    bundle.write_text(json.dumps(unsigned))
    code, _, stderr = audit(config)
    assert code == 2 and "policy bundle refused: the bundle is not signed" in stderr, stderr
    other_key, _ = keygen(tmp_path / "other.key")
    assert sign([site_policy(tmp_path / "admin")], other_key, bundle).returncode == 0
    code, _, stderr = audit(config)
    assert code == 2 and "policy bundle refused: the bundle is signed by another key" in stderr, stderr
    forged = json.loads(signed)
    forged["signature"] = base64.b64encode(b"\0" * 64).decode()
    bundle.write_text(json.dumps(forged))
    code, _, stderr = audit(config)
    assert code == 2 and "the signature does not match" in stderr, stderr
    assert not kept_bundle().exists(), "nothing unverified is kept"


def test_policy_sign_refuses_a_malformed_policy_with_file_line_and_exit_2(
    tmp_path: Path, keys: tuple[Path, Path]
) -> None:
    site = site_policy(tmp_path / "admin")
    site.write_text(site.read_text().replace("severity: violation", "severity: critical"))
    out = tmp_path / "bundle.json"
    done = sign([site], keys[0], out)
    assert done.returncode == 2 and not out.exists()
    assert done.stderr == (
        f"scanner: error: {site}:9: providers[0].severity: expected one of violation, warning, info; got 'critical'\n"
    )
    assert done.stderr == run_scanner("policy", "validate", str(site)).stderr


def test_a_bundle_carries_the_bundled_policies_its_files_include(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    site = site_policy(tmp_path / "admin")
    site.write_text(
        site.read_text().replace("include: [../common/sources.yaml]", "include: [../common/sources.yaml, default]")
    )
    out = tmp_path / "bundle.json"
    done = sign([site], keys[0], out)
    assert done.returncode == 0, done.stderr
    document = json.loads(out.read_text())
    assert document["policies"] == ["site/rules/site.yaml"]
    assert [f["name"] for f in document["files"]] == [
        "site/common/sources.yaml",
        "policies/default.yaml",
        "site/rules/site.yaml",
    ]
    judged = bundle_policy(parse_bundle(out.read_bytes()))
    local = load_policy([str(site)])
    assert [f.sha256 for f in judged.files] == [f.sha256 for f in local.files]
    assert "deepseek" in judged.providers and "acme-ai" in judged.providers


def test_keygen_never_overwrites_a_key(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    private, public = keys
    before = private.read_bytes()
    assert oct(private.stat().st_mode & 0o777) == "0o600"
    assert public.read_text().startswith("-----BEGIN PUBLIC KEY-----")
    again = run_scanner("policy", "keygen", "--out", str(private))
    assert again.returncode == 2 and "already exists" in again.stderr and private.read_bytes() == before


def test_policy_key_goes_with_submit_and_not_with_policy(
    tmp_path: Path, planted: Machine, keys: tuple[Path, Path]
) -> None:
    root = ["audit", "--root", str(planted.root), "--policy-key", str(keys[1])]
    alone = run_scanner(*root)
    assert alone.returncode == 2 and "--policy-key verifies the policy bundle of the --submit collector" in alone.stderr
    token = tmp_path / "t.token"
    token.write_text("sct_x\n")
    both = run_scanner(*root, "--submit", "http://127.0.0.1:9", "--token-file", str(token), "--policy", "default")
    assert both.returncode == 2 and "cannot be used with --policy" in both.stderr


class _Flood(http.server.BaseHTTPRequestHandler):
    """Answers with a body that never ends (or a declared size it never sends), counting what it sent."""

    sent = 0
    declare: int | None = None

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if self.declare is not None:
            self.send_header("Content-Length", str(self.declare))
        self.end_headers()
        chunk = b" " * (1 << 16)
        try:
            for _ in range(4 * MAX_BUNDLE // len(chunk)):
                self.wfile.write(chunk)
                type(self).sent += len(chunk)
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_an_oversized_bundle_is_refused_without_reading_it_all(
    tmp_path: Path, planted: Machine, keys: tuple[Path, Path]
) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Flood)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        config = agent_config(tmp_path, planted, f"http://127.0.0.1:{server.server_port}", keys[1])
        code, _, stderr = audit(config)
        assert code == 2 and f"the bundle is larger than the {MAX_BUNDLE} bytes an agent takes" in stderr, stderr
        assert _Flood.sent < 2 * MAX_BUNDLE, "the agent stopped reading past the cap"
        _Flood.sent, _Flood.declare = 0, 64 * MAX_BUNDLE
        code, _, stderr = audit(config)
        assert code == 2 and f"the bundle is {64 * MAX_BUNDLE} bytes, over the {MAX_BUNDLE}" in stderr, stderr
    finally:
        server.shutdown()
        server.server_close()


def _report(machine: Machine, host: str, policy: Any) -> dict[str, Any]:
    made = report_dict(run_audit(AuditOptions(root=str(machine.root)), policy))
    made["scan"]["host"] = host
    return made


def test_the_fleet_summary_lists_hosts_judged_by_an_outdated_policy(
    tmp_path: Path, planted: Machine, bundle: Path, keys: tuple[Path, Path]
) -> None:
    current = bundle_policy(parse_bundle(bundle.read_bytes()))
    older = tmp_path / "older.json"
    assert sign([site_policy(tmp_path / "old-admin", version="0")], keys[0], older).returncode == 0
    fleet = tmp_path / "summary-fleet.db"
    storage = SqliteFleetStorage(fleet)
    now = datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    storage.store_report(_report(planted, "web-01", current), now)
    storage.store_report(_report(planted, "web-02", bundle_policy(parse_bundle(older.read_bytes()))), now)
    storage.store_report(_report(planted, "web-03", load_policy([])), now)
    storage.close()
    summary = json.loads(
        run_scanner("fleet", "summary", "--db", str(fleet), "-f", "json", "--policy-bundle", str(bundle)).stdout
    )
    assert [h["host"] for h in summary["outdated_policy_hosts"]] == ["web-02", "web-03"]
    assert [f["id"] for f in summary["published_policy"]["files"]] == ["site-sources", "site"]
    page = run_scanner("fleet", "summary", "--db", str(fleet), "-f", "markdown", "--policy-bundle", str(bundle))
    assert "2 host(s) were judged by an outdated policy" in page.stdout
    assert "Judged by an outdated policy (2 host(s)): web-02, web-03." in page.stdout
    html = run_scanner("fleet", "summary", "--db", str(fleet), "-f", "html", "--policy-bundle", str(bundle)).stdout
    assert "Judged by an outdated policy (2 host(s)): web-02, web-03." in html
    table = run_scanner("fleet", "summary", "--db", str(fleet), "--policy-bundle", str(bundle)).stdout
    assert "outdated policy: web-02 (judged by site-sources 1, site 0)" in table
    unpublished = json.loads(run_scanner("fleet", "summary", "--db", str(fleet), "-f", "json").stdout)
    assert unpublished["published_policy"] is None and unpublished["outdated_policy_hosts"] == []
    # the dashboard of a collector publishing the bundle says the same
    secret = tmp_path / "alice.password"
    secret.write_text("correct horse battery\n")
    db = ["--db", str(fleet)]
    assert (
        run_scanner("fleet", "user", "add", "alice", "--role", "viewer", "--password-file", str(secret), *db).returncode
        == 0
    )
    api_token = tmp_path / "alice.api-token"
    assert run_scanner("fleet", "user", "token", "alice", "-o", str(api_token), *db).returncode == 0
    serving = Collector(str(fleet), "--policy-bundle", str(bundle)).start()
    try:
        answer = requests.get(
            serving.url + "/api/v1/summary",
            headers={"Authorization": f"Bearer {api_token.read_text().strip()}"},
            timeout=30,
        )
    finally:
        serving.stop()
    assert answer.status_code == 200, answer.text
    assert [h["host"] for h in answer.json()["outdated_policy_hosts"]] == ["web-02", "web-03"]


def test_a_bundle_can_neither_name_nor_include_a_file_outside_itself(tmp_path: Path) -> None:
    outside = tmp_path / "outside.yaml"
    outside.write_text(SOURCES)
    site = SITE.format(version="1").replace("../common/sources.yaml", str(outside))

    def document(name: str, text: str) -> bytes:
        files = [{"name": name, "text": text}]
        return json.dumps({"format": 1, "created": "x", "policies": [name], "files": files}).encode()

    with pytest.raises(BundleError, match=r"files\[0\]\.name: '\.\./evil\.yaml' is not a name a bundle may hold"):
        parse_bundle(document("../evil.yaml", SOURCES))
    with pytest.raises(BundleError, match="reaches outside the policy bundle"):
        bundle_policy(parse_bundle(document("site/site.yaml", site)))


def test_two_files_whose_names_differ_only_in_case_are_refused_when_signing_and_reading(
    tmp_path: Path, keys: tuple[Path, Path]
) -> None:
    """A Windows or macOS disk holds one file for both: which one the policy would load is not what was signed."""
    site = site_policy(tmp_path)
    shouting = site.with_name("SITE.yaml")
    shouting.write_text(SITE.format(version="1").replace("acme-ai", "beta-ai").replace("id: site", "id: site-two"))
    done = sign([site, shouting], keys[0], tmp_path / "bundle.json")
    assert done.returncode == 2 and "a name is given twice" in done.stderr, done.stderr
    files = [{"name": name, "text": SOURCES} for name in ("site/common.yaml", "site/Common.yaml")]
    raw = json.dumps({"format": 1, "created": "x", "policies": ["site/common.yaml"], "files": files}).encode()
    with pytest.raises(BundleError, match="a name is given twice"):
        parse_bundle(raw)


class _Dribble(http.server.BaseHTTPRequestHandler):
    """A collector that sends its bundle one byte at a time, each well within the connection's timeout."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "100000")
        self.end_headers()
        try:
            for _ in range(100):
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(0.1)
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_a_bundle_that_arrives_too_slowly_is_given_up_at_the_fetch_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    from scanner.fleet.agent import bundle as agent_bundle
    from scanner.fleet.agent.submit import Destination

    monkeypatch.setattr(agent_bundle, "FETCH_TIMEOUT", 1.0)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Dribble)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        started = time.monotonic()
        with pytest.raises(BundleError, match="did not arrive within"):
            agent_bundle.fetch_bundle(Destination(f"http://127.0.0.1:{server.server_port}", "t", timeout=5.0))
        assert time.monotonic() - started < 3, "the whole answer's deadline holds, not only each wait"
    finally:
        server.shutdown()
        server.server_close()
