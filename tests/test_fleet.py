"""The fleet end to end: tokens, a real collector on 127.0.0.1, submission, the spool, ingest, summaries."""

from __future__ import annotations

import gzip
import json
import socket
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import requests
from conftest import SCANNER, Machine, run_scanner

from scanner.audit import AuditOptions, run_audit
from scanner.fleet.agent.spool import Spool
from scanner.fleet.collector.sqlite_storage import SqliteFleetStorage
from scanner.fleet.collector.summary import fleet_summary
from scanner.policy.loader import load_policy
from scanner.report import report_dict
from scanner.store.database import open_store


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Collector:
    """``scanner serve`` as a child process, started and stopped like the real service."""

    def __init__(self, db: Path, *extra: str, ca: Path | None = None) -> None:
        self.db = db
        self.extra = extra
        self.port = _free_port()
        self.ca = ca
        self.url = f"{'https' if ca else 'http'}://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Collector:
        assert SCANNER
        args = [SCANNER, "serve", "--db", str(self.db), "--port", str(self.port), *self.extra]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                health = requests.get(self.url + "/api/v1/health", timeout=1, verify=str(self.ca) if self.ca else True)
                if health.json() == {"status": "ok"}:
                    return self
            except requests.RequestException:
                time.sleep(0.1)
        raise AssertionError("collector did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()  # uvicorn shuts down gracefully: waits for open connections a while
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[Collector]:
    running = Collector(tmp_path / "fleet.db").start()
    yield running
    running.stop()


def _token(db: Path, host: str, tmp_path: Path) -> Path:
    done = run_scanner("fleet", "token", "add", host, "--db", str(db))
    assert done.returncode == 0, done.stderr
    token = tmp_path / f"{host}.token"
    token.write_text(done.stdout)
    return token


def _tree(machine: Machine) -> None:
    env = machine.path("/home/alice/app/.env")
    env.parent.mkdir(parents=True, exist_ok=True)
    env.write_text("OPENAI_BASE_URL=https://api.deepseek.com/v1\n")


def _stored(db: Path) -> list[dict[str, Any]]:
    storage = SqliteFleetStorage(db)
    try:
        return [r for h in storage.hosts() for r in storage.reports(h.host)]
    finally:
        storage.close()


def test_an_audit_submitted_with_its_token_is_stored(machine: Machine, tmp_path: Path, collector: Collector) -> None:
    _tree(machine)
    token = _token(collector.db, socket.gethostname(), tmp_path)
    done = run_scanner(
        "audit", "--root", str(machine.root), "--submit", collector.url, "--token-file", str(token),
        "--tag", "department=finance", "-f", "json",
    )  # fmt: skip
    assert done.returncode == 1 and "1 report(s) delivered" in done.stderr, done.stderr
    report = json.loads(done.stdout)
    (stored,) = _stored(collector.db)
    assert stored["id"] == report["scan"]["id"] and stored["violations"] == 1
    hosts = json.loads(run_scanner("fleet", "hosts", "--db", str(collector.db), "-f", "json").stdout)
    assert [(h["host"], h["state"], h["tags"]) for h in hosts] == [
        (socket.gethostname(), "not-compliant", {"department": "finance"})
    ]
    shown = json.loads(
        run_scanner("fleet", "show", socket.gethostname(), "--db", str(collector.db), "-f", "json").stdout
    )
    assert shown["scan"]["id"] == report["scan"]["id"] and shown["agent"] == {"tags": {"department": "finance"}}


def test_a_report_spooled_while_the_collector_is_down_is_delivered_exactly_once(
    machine: Machine, tmp_path: Path
) -> None:
    _tree(machine)
    collector = Collector(tmp_path / "fleet.db")
    token = _token(collector.db, socket.gethostname(), tmp_path)
    submit = ["--submit", collector.url, "--token-file", str(token)]
    done = run_scanner("audit", "--root", str(machine.root), *submit, "-f", "json")  # nobody listening
    assert done.returncode == 1, done.stderr
    assert "cannot reach the collector" in done.stderr and "1 report(s) kept in the spool" in done.stderr
    report_id = json.loads(done.stdout)["scan"]["id"]
    listed = run_scanner("submit", "--list").stdout
    assert report_id in listed and "pending" in listed
    collector.start()
    try:
        sent = run_scanner("submit", "--spool", *submit)
        assert sent.returncode == 0 and "1 report(s) delivered" in sent.stderr, sent.stderr
        again = run_scanner("submit", "--spool", *submit)
        assert again.returncode == 0 and "nothing to send" in again.stderr
        assert [r["id"] for r in _stored(collector.db)] == [report_id]
    finally:
        collector.stop()


def test_the_next_audit_sends_older_spooled_reports_first(machine: Machine, tmp_path: Path) -> None:
    collector = Collector(tmp_path / "fleet.db")
    token = _token(collector.db, socket.gethostname(), tmp_path)
    submit = ["--submit", collector.url, "--token-file", str(token), "-f", "json"]
    first = json.loads(run_scanner("audit", "--root", str(machine.root), *submit).stdout)["scan"]["id"]
    collector.start()
    try:
        done = run_scanner("audit", "--root", str(machine.root), *submit)
        assert "2 report(s) delivered" in done.stderr, done.stderr
        with sqlite3.connect(collector.db) as db:
            arrived = [row[0] for row in db.execute("select id from reports order by rowid")]
        assert len(arrived) == 2 and arrived[0] == first, "the spooled report went first"
    finally:
        collector.stop()


def _post(url: str, body: bytes, token: str | None, **headers: str) -> requests.Response:
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return requests.post(url + "/api/v1/reports", data=body, headers=headers, timeout=30)


@pytest.fixture
def report(machine: Machine) -> dict[str, Any]:
    _tree(machine)
    made = report_dict(run_audit(AuditOptions(root=str(machine.root)), load_policy([])))
    made["scan"]["host"] = "web-01"
    return made


def test_the_collector_refuses_bad_requests_clearly_and_stores_nothing(
    report: dict[str, Any], tmp_path: Path, collector: Collector
) -> None:
    token = _token(collector.db, "web-01", tmp_path).read_text().strip()
    other = _token(collector.db, "web-02", tmp_path).read_text().strip()
    body = gzip.compress(json.dumps(report).encode())
    bomb = gzip.compress(b"{" + b" " * (300 << 20))  # 300 MiB of spaces in 300 KiB
    broken = dict(report, summary={"violations": "many"})
    cases = [
        (_post(collector.url, body, None), 401, "missing bearer token"),
        (_post(collector.url, body, "sct_wrong", **{"Content-Encoding": "gzip"}), 401, "unknown or revoked token"),
        (_post(collector.url, body, other, **{"Content-Encoding": "gzip"}), 403, "belongs to host 'web-02'"),
        (_post(collector.url, b"x" * (33 << 20), token), 413, "body larger than"),
        (_post(collector.url, bomb, token, **{"Content-Encoding": "gzip"}), 413, "once decompressed"),
        (_post(collector.url, b"\x1f\x8bnot gzip", token, **{"Content-Encoding": "gzip"}), 400, "not valid gzip"),
        (_post(collector.url, b"{not json", token), 400, "not UTF-8 JSON"),
        (
            _post(collector.url, json.dumps(broken).encode(), token),
            422,
            "report does not match the report schema at summary",
        ),
    ]
    for response, status, message in cases:
        assert response.status_code == status, (status, response.text)
        assert message in response.json()["error"], response.json()
    assert _stored(collector.db) == []
    stored = _post(collector.url, body, token, **{"Content-Encoding": "gzip"})
    assert (stored.status_code, stored.json()["status"]) == (201, "stored")
    resent = _post(collector.url, body, token, **{"Content-Encoding": "gzip"})
    assert (resent.status_code, resent.json()["status"]) == (200, "duplicate")
    assert len(_stored(collector.db)) == 1


def test_a_revoked_token_is_refused(report: dict[str, Any], tmp_path: Path, collector: Collector) -> None:
    token = _token(collector.db, "web-01", tmp_path).read_text().strip()
    assert run_scanner("fleet", "token", "revoke", "web-01", "--db", str(collector.db)).returncode == 0
    assert _post(collector.url, json.dumps(report).encode(), token).status_code == 401


def test_each_host_is_rate_limited(report: dict[str, Any], tmp_path: Path) -> None:
    collector = Collector(tmp_path / "fleet.db", "--burst", "2", "--rate", "0.01").start()
    try:
        token = _token(collector.db, "web-01", tmp_path).read_text().strip()
        answers = []
        for n in range(3):
            report["scan"]["id"] = f"00000000-0000-4000-8000-00000000000{n}"
            answers.append(_post(collector.url, json.dumps(report).encode(), token))
        assert [a.status_code for a in answers] == [201, 201, 429]
        assert int(answers[2].headers["Retry-After"]) > 0
    finally:
        collector.stop()


def test_a_full_spool_drops_the_oldest_and_the_collector_learns_how_many(
    report: dict[str, Any], tmp_path: Path, collector: Collector
) -> None:
    from scanner.fleet.agent.submit import Destination, Sender, encode, flush

    token = _token(collector.db, "web-01", tmp_path).read_text().strip()
    with open_store(tmp_path / "agent.db") as store:
        spool = Spool(store, limit=3)
        for n in range(5):
            report["scan"]["id"] = f"00000000-0000-4000-8000-00000000000{n}"
            spool.add(report["scan"]["id"], encode(report))
        assert [s.id[-1] for s in spool.pending()] == ["2", "3", "4"] and spool.dropped() == 2
        delivery = flush(spool, Sender(Destination(collector.url, token)))
        assert (len(delivery.sent), delivery.waiting, spool.dropped()) == (3, 0, 0)
    (host,) = SqliteFleetStorage(collector.db).hosts()
    assert (host.reports, host.lost_reports) == (3, 2)


def test_ingest_loads_report_files_with_the_same_checks(report: dict[str, Any], tmp_path: Path) -> None:
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    (incoming / "web-01.json").write_text(json.dumps(report))
    (incoming / "web-01-copy.json.gz").write_bytes(gzip.compress(json.dumps(report).encode()))
    (incoming / "broken.json").write_text("{")
    db = tmp_path / "fleet.db"
    done = run_scanner("ingest", str(incoming), "--db", str(db))
    assert done.returncode == 1
    assert done.stdout.strip() == "1 stored, 1 already stored, 1 refused"
    assert "broken.json: refused: body is not UTF-8 JSON" in done.stderr


def _fleet_report(machine: Machine, host: str, finished: datetime, dirty: bool, tags: dict[str, str]) -> dict[str, Any]:
    env = machine.path("/home/alice/app/.env")
    env.parent.mkdir(parents=True, exist_ok=True)
    env.write_text(
        "OPENAI_BASE_URL=https://api.deepseek.com/v1\n" if dirty else "OPENAI_BASE_URL=https://api.openai.com/v1\n"
    )
    made = report_dict(run_audit(AuditOptions(root=str(machine.root)), load_policy([])))
    stamp = finished.isoformat(timespec="seconds").replace("+00:00", "Z")
    made["scan"].update(host=host, started=stamp, finished=stamp)
    made["agent"] = {"tags": tags}
    return made


def test_the_fleet_summary_counts_compliance_staleness_and_tags(machine: Machine, tmp_path: Path) -> None:
    now = datetime.now(timezone.utc)
    storage = SqliteFleetStorage(tmp_path / "fleet.db")
    reports = [
        _fleet_report(machine, "fin-01", now - timedelta(days=2), True, {"department": "finance"}),
        _fleet_report(machine, "fin-01", now - timedelta(hours=1), False, {"department": "finance"}),
        _fleet_report(machine, "fin-02", now - timedelta(hours=2), True, {"department": "finance"}),
        _fleet_report(machine, "hr-01", now - timedelta(hours=3), False, {"department": "hr"}),
        _fleet_report(machine, "hr-02", now - timedelta(days=9), False, {"department": "hr"}),
    ]
    for made in reports:
        assert storage.store_report(made, made["scan"]["finished"])
    storage.add_token("new-01", "0" * 64)  # enrolled, never reported
    summary = fleet_summary(storage, stale_after_days=3, now=now)
    assert summary["hosts"] == {"total": 5, "compliant": 2, "not_compliant": 1, "incomplete": 0, "stale": 2}
    assert summary["violations_by_provider"] == {"deepseek": 1} and summary["hosts_by_provider"] == {"deepseek": 1}
    assert summary["by_tag"]["department"] == {
        "finance": {"hosts": 2, "compliant": 1, "not-compliant": 1},
        "hr": {"hosts": 2, "compliant": 1, "stale": 1},
    }
    assert [h["host"] for h in summary["worst_hosts"]] == ["fin-02"]
    assert "api.deepseek.com" in summary["worst_hosts"][0]["findings"][0]["subject"]
    assert {h["host"]: h["last_seen"] for h in summary["stale_hosts"]} == {
        "hr-02": reports[-1]["scan"]["finished"],
        "new-01": None,
    }
    days = {d["day"]: (d["hosts"], d["compliant"]) for d in summary["trend"]}
    assert days[(now - timedelta(days=2)).date().isoformat()] == (1, 0)
    done = run_scanner("fleet", "summary", "--db", str(tmp_path / "fleet.db"), "-f", "json")
    assert json.loads(done.stdout)["hosts"]["total"] == 5


def test_agent_configuration_sets_options_and_the_command_line_wins(machine: Machine, tmp_path: Path) -> None:
    _tree(machine)
    config = tmp_path / "agent.yaml"
    config.write_text(f"root: {machine.root}\nformat: csv\ntags: {{department: finance}}\nexclude: ['/home/bob']\n")
    done = run_scanner("audit", "--config", str(config))
    assert done.stdout.startswith("scan_id,host,severity"), done.stderr
    done = run_scanner("audit", "--config", str(config), "-f", "json")
    report = json.loads(done.stdout)
    assert report["agent"] == {"tags": {"department": "finance"}} and report["scan"]["excludes"] == ["/home/bob"]
    config.write_text("formt: csv\n")
    bad = run_scanner("audit", "--config", str(config))
    assert bad.returncode == 2 and f"{config}:1: formt: unknown option" in bad.stderr


def test_submit_needs_a_token_and_the_store(machine: Machine, tmp_path: Path) -> None:
    empty, token = tmp_path / "empty.token", tmp_path / "web.token"
    empty.write_text("")
    token.write_text("sct_x\n")
    for args, message in (
        (("--submit", "http://127.0.0.1:9"), "--submit needs --token-file"),
        (("--submit", "http://127.0.0.1:9", "--token-file", str(empty)), "empty"),
        (("--submit", "ftp://collector", "--token-file", str(token)), "expected an http(s):// URL"),
        (
            ("--submit", "http://127.0.0.1:9", "--token-file", str(token), "--no-store"),
            "cannot be used with --no-store",
        ),
    ):
        done = run_scanner("audit", "--root", str(machine.root), *args)
        assert done.returncode == 2 and message in done.stderr, done.stderr


def test_the_collectors_fast_validator_agrees_with_the_reference_one(report: dict[str, Any]) -> None:
    import copy

    import jsonschema

    from scanner.fleet.collector.intake import IntakeError, parse_report

    schema = json.loads((Path(__file__).parents[1] / "scanner" / "schemas" / "report.schema.json").read_text())
    reference = jsonschema.Draft202012Validator(schema)
    mutations = [
        lambda r: None,
        lambda r: r["summary"].update(violations="many"),
        lambda r: r.pop("findings"),
        lambda r: r["findings"][0].update(severity="critical"),
        lambda r: r["findings"][0]["location"].update(line=0),
        lambda r: r["scan"].update(finished="yesterday"),
        lambda r: r["scan"]["coverage"]["skipped"].append({"path": "/x", "reason": "r", "kind": "lost"}),
        lambda r: r["inventory"][0].update(extra=1),
        lambda r: r.update(agent={"tags": {"department": 3}}),
        lambda r: r["findings"][0].update(waiver={"reference": "x"}),
    ]
    for mutate in mutations:
        changed = copy.deepcopy(report)
        mutate(changed)
        expected = reference.is_valid(changed)
        try:
            parse_report(json.dumps(changed).encode())
            accepted = True
        except IntakeError:
            accepted = False
        assert accepted == expected, changed


def test_concurrent_submissions_are_all_stored(report: dict[str, Any], tmp_path: Path, collector: Collector) -> None:
    """A plain BEGIN that reads then writes fails at once under WAL when another writer got in between."""
    import threading
    import uuid

    from scanner.fleet.agent.submit import Destination, Sender, encode
    from scanner.fleet.collector.tokens import new_token, token_hash

    hosts = [f"web-{n:02d}" for n in range(40)]
    tokens = {h: new_token() for h in hosts}
    enrol = SqliteFleetStorage(collector.db)
    for host, token in tokens.items():
        enrol.add_token(host, token_hash(token))
    enrol.close()
    answers: list[str] = []

    def agent(chunk: list[str]) -> None:
        for host in chunk:
            made = dict(report, scan={**report["scan"], "host": host, "id": str(uuid.uuid4())})
            answers.append(Sender(Destination(collector.url, tokens[host]), attempts=1).send(encode(made)))

    threads = [threading.Thread(target=agent, args=(hosts[n::8],)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == ["stored"] * len(hosts)
    assert len(_stored(collector.db)) == len(hosts)


def test_submission_over_https_verifies_the_collectors_certificate(machine: Machine, tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    collector = Collector(tmp_path / "fleet.db", "--tls-cert", str(cert), "--tls-key", str(key), ca=cert).start()
    try:
        token = _token(collector.db, socket.gethostname(), tmp_path)
        submit = ["--submit", collector.url, "--token-file", str(token)]
        untrusted = run_scanner("audit", "--root", str(machine.root), *submit)
        assert "TLS verification failed" in untrusted.stderr and "kept in the spool" in untrusted.stderr
        assert _stored(collector.db) == []
        trusted = run_scanner("submit", "--spool", *submit, "--ca-cert", str(cert))
        assert trusted.returncode == 0 and "1 report(s) delivered" in trusted.stderr, trusted.stderr
        assert len(_stored(collector.db)) == 1
    finally:
        collector.stop()
