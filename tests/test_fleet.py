"""The fleet end to end: tokens, a real collector on 127.0.0.1, submission, the spool, ingest, summaries."""

from __future__ import annotations

import gzip
import json
import os
import re
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import postgres
import psycopg
import pytest
import requests
from conftest import SCANNER, Machine, require, run_scanner

from scanner.audit import AuditOptions, run_audit
from scanner.errors import StoreError
from scanner.fleet.agent.spool import Spool
from scanner.fleet.collector.databases import open_fleet_storage
from scanner.fleet.collector.schema import FLEET_SCHEMA
from scanner.fleet.collector.sqlite_storage import SqliteFleetStorage
from scanner.fleet.collector.storage import Entry, Turn
from scanner.fleet.collector.summary import fleet_summary
from scanner.fleet.collector.tokens import token_hash
from scanner.policy.loader import load_policy
from scanner.report import report_dict, utc_now
from scanner.store.database import open_store


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Collector:
    """``scanner serve`` as a child process, started and stopped like the real service."""

    def __init__(self, db: str, *extra: str, ca: Path | None = None, log: Path | None = None) -> None:
        self.db = db
        self.extra = extra
        self.port = _free_port()
        self.ca = ca
        self.log = log
        self.url = f"{'https' if ca else 'http'}://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Collector:
        assert SCANNER
        args = [SCANNER, "serve", "--db", self.db, "--port", str(self.port), *self.extra]
        out = self.log.open("wb") if self.log else subprocess.DEVNULL
        self.process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
        if self.log:
            out.close()  # type: ignore[union-attr]  # the child has its own copy
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
def collector(fleet_db: str) -> Iterator[Collector]:
    running = Collector(fleet_db).start()
    yield running
    running.stop()


def _token(db: str, host: str, tmp_path: Path) -> Path:
    done = run_scanner("fleet", "token", "add", host, "--db", db)
    assert done.returncode == 0, done.stderr
    token = tmp_path / f"{host}.token"
    token.write_text(done.stdout)
    return token


def _tree(machine: Machine) -> None:
    env = machine.path("/home/alice/app/.env")
    env.parent.mkdir(parents=True, exist_ok=True)
    env.write_text("OPENAI_BASE_URL=https://api.deepseek.com/v1\n")


def _stored(db: str) -> list[dict[str, Any]]:
    with open_fleet_storage(db) as storage:
        return [r for h in storage.hosts() for r in storage.reports(h.host)]


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
    hosts = json.loads(run_scanner("fleet", "hosts", "--db", collector.db, "-f", "json").stdout)
    assert [(h["host"], h["state"], h["tags"]) for h in hosts] == [
        (socket.gethostname(), "not-compliant", {"department": "finance"})
    ]
    shown = json.loads(run_scanner("fleet", "show", socket.gethostname(), "--db", collector.db, "-f", "json").stdout)
    assert shown["scan"]["id"] == report["scan"]["id"] and shown["agent"] == {"tags": {"department": "finance"}}


def test_a_report_spooled_while_the_collector_is_down_is_delivered_exactly_once(
    machine: Machine, tmp_path: Path
) -> None:
    _tree(machine)
    collector = Collector(str(tmp_path / "fleet.db"))
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


def test_the_next_audit_sends_older_spooled_reports_first(machine: Machine, tmp_path: Path, fleet_db: str) -> None:
    collector = Collector(fleet_db)
    token = _token(collector.db, socket.gethostname(), tmp_path)
    submit = ["--submit", collector.url, "--token-file", str(token), "-f", "json"]
    first = json.loads(run_scanner("audit", "--root", str(machine.root), *submit).stdout)["scan"]["id"]
    collector.start()
    try:
        done = run_scanner("audit", "--root", str(machine.root), *submit)
        assert "2 report(s) delivered" in done.stderr, done.stderr
        arrived = [r["id"] for r in reversed(_stored(collector.db))]
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
    assert run_scanner("fleet", "token", "revoke", "web-01", "--db", collector.db).returncode == 0
    assert _post(collector.url, json.dumps(report).encode(), token).status_code == 401


def test_each_host_is_rate_limited(report: dict[str, Any], tmp_path: Path, fleet_db: str) -> None:
    collector = Collector(fleet_db, "--burst", "2", "--rate", "0.01").start()
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
    with open_fleet_storage(collector.db) as storage:
        (host,) = storage.hosts()
    assert (host.reports, host.lost_reports) == (3, 2)


def test_ingest_loads_report_files_with_the_same_checks(report: dict[str, Any], tmp_path: Path, fleet_db: str) -> None:
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    (incoming / "web-01.json").write_text(json.dumps(report))
    (incoming / "web-01-copy.json.gz").write_bytes(gzip.compress(json.dumps(report).encode()))
    (incoming / "broken.json").write_text("{")
    done = run_scanner("ingest", str(incoming), "--db", fleet_db)
    assert done.returncode == 1
    assert done.stdout.strip() == "1 stored, 1 already stored, 1 refused"
    assert "broken.json: refused: body is not UTF-8 JSON" in done.stderr


def test_fleet_prune_keeps_each_hosts_latest_reports_and_says_the_database_size(
    report: dict[str, Any], tmp_path: Path, fleet_db: str
) -> None:
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    for host in ("web-01", "web-02"):
        for night in range(4 if host == "web-01" else 1):
            copy = json.loads(json.dumps(report))
            copy["scan"].update(id=f"{host}-{night}", host=host)
            (incoming / f"{host}-{night}.json").write_text(json.dumps(copy))
    assert run_scanner("ingest", str(incoming), "--db", fleet_db).returncode == 0
    dry = run_scanner("fleet", "prune", "--keep-last", "2", "--dry-run", "--db", fleet_db)
    assert dry.returncode == 0 and dry.stdout.startswith("would remove 2 report(s); the fleet database holds ")
    assert run_scanner("fleet", "prune", "--keep-last", "2", "--older-than", "1", "--db", fleet_db).stdout.startswith(
        "removed 0 report(s)"
    )  # they all arrived today
    done = run_scanner("fleet", "prune", "--keep-last", "1", "--db", fleet_db)
    assert done.stdout.startswith("removed 3 report(s)")
    hosts = json.loads(run_scanner("fleet", "hosts", "-f", "json", "--db", fleet_db).stdout)
    assert {(h["host"], h["reports"]) for h in hosts} == {("web-01", 1), ("web-02", 1)}
    shown = run_scanner("fleet", "show", "web-01", "-f", "json", "--db", fleet_db).stdout
    assert "web-01-3" in shown and "web-01-2" not in shown  # the host's latest report stays


def _rows(db: str, sql: str) -> int:
    """A count read straight from the fleet database, on either backend."""
    if db.startswith("postgresql://"):
        with psycopg.connect(db) as conn:
            return int(conn.execute(sql).fetchone()[0])  # type: ignore[index]
    with sqlite3.connect(db) as conn:
        return int(conn.execute(sql).fetchone()[0])


def test_the_summary_reads_a_hosts_findings_only_when_one_is_an_open_violation_or_an_expiring_waiver(
    report: dict[str, Any], fleet_db: str
) -> None:
    now = datetime.now(timezone.utc)
    violating, warned, waived = (_as(report, host, now) for host in ("a-violating", "b-warned", "c-waived"))
    for finding in warned["findings"]:
        finding["severity"] = "warning"
    waiver = {
        "reference": "CHG-1",
        "approved_by": "ciso",
        "reason": "pilot",
        "expires": "2027-01-31",
        "location": "w:1",
    }
    for finding in waived["findings"]:
        finding.update(waived=True, waiver=waiver)
    with open_fleet_storage(fleet_db) as storage:
        for sent in (violating, warned, waived):
            assert storage.store_report(sent, utc_now())
        for expiring_by, read in (("2027-02-01", [True, False, True]), ("2027-01-30", [True, False, False])):
            reports = list(storage.latest_reports_for_summary(expiring_by=expiring_by))
            assert ["findings" in r for r in reports] == read, expiring_by
            assert [r["scan"]["host"] for r in reports] == ["a-violating", "b-warned", "c-waived"]
        assert reports[0]["findings"] == violating["findings"]


def _many_findings(report: dict[str, Any], count: int) -> dict[str, Any]:
    """``report`` with ``count`` findings (copies of its first, each at its own path)."""
    made = json.loads(json.dumps(report))
    first = made["findings"][0]
    made["findings"] = [
        {**first, "fingerprint": f"{n:016x}", "location": {**first["location"], "path": f"/srv/app-{n}/.env"}}
        for n in range(count)
    ]
    return made


def test_a_host_sending_the_same_findings_again_costs_a_link_not_a_copy_and_every_report_reads_back_whole(
    report: dict[str, Any], fleet_db: str
) -> None:
    big = _many_findings(report, 1000)
    now = datetime.now(timezone.utc)
    nights = [_as(big, "web-01", now - timedelta(days=30 - n)) for n in range(30)]
    changed = _as(big, "web-01", now)
    changed["findings"][500]["location"]["path"] = "/srv/moved/.env"
    with open_fleet_storage(fleet_db) as storage:
        assert storage.store_report(nights[0], nights[0]["scan"]["finished"])
        first = storage.size_bytes()
        for night in nights[1:]:
            assert storage.store_report(night, night["scan"]["finished"])
        per_night = (storage.size_bytes() - first) / 29
        assert storage.store_report(changed, changed["scan"]["finished"])
        for sent in (nights[0], nights[17], changed):
            assert storage.report("web-01", sent["scan"]["id"]) == sent
        (summarised,) = storage.latest_reports_for_summary(expiring_by="2000-01-01")
        assert summarised == {k: v for k, v in changed.items() if k not in ("inventory", "sources")}
        assert per_night < 10_000, per_night  # an unchanged night: a report row, its scan section, three links
        assert _rows(fleet_db, "select count(*) from part_findings") == 2000  # the two findings lists, once each
        assert storage.prune(keep_last=1, older_than=None) == 30
        assert storage.report("web-01", changed["scan"]["id"]) == changed
    assert _rows(fleet_db, "select count(*) from part_findings") == 1000  # the old list went with its reports
    assert _rows(fleet_db, "select count(*) from report_parts") == 3


def test_a_prune_while_a_report_is_stored_never_removes_a_part_the_report_links_to(
    report: dict[str, Any], postgres_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The report being stored links to a part only older, prunable reports linked to: a prune that runs
    meanwhile must not remove it (PostgreSQL, where a store and a prune can interleave)."""
    from scanner.fleet.collector import postgres_storage

    now = datetime.now(timezone.utc)
    old = _as(report, "web-01", now - timedelta(days=3))
    newer = [_as(_many_findings(report, 2), "web-01", now - timedelta(days=d)) for d in (2, 1)]
    again = _as(report, "web-01", now)  # the old findings once more, with an inventory never sent
    again["inventory"] = [*again["inventory"], {"name": "never-sent"}]
    with open_fleet_storage(postgres_db) as storage:
        for sent in (old, *newer):
            assert storage.store_report(sent, sent["scan"]["finished"])
        pruning: list[threading.Thread] = []
        compress = postgres_storage.compress

        def compress_then_prune(text: bytes) -> bytes:
            if b"never-sent" in text and not pruning:  # the new part: the known ones were read, the links sent
                pruning.append(threading.Thread(target=storage.prune, args=(1, None)))
                pruning[0].start()
                pruning[0].join(timeout=2)  # a prune that waits for this store waits in vain here
            return compress(text)

        monkeypatch.setattr(postgres_storage, "compress", compress_then_prune)
        assert storage.store_report(again, again["scan"]["finished"])
        pruning[0].join()
        assert storage.report("web-01", again["scan"]["id"]) == again


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


def test_the_fleet_summary_counts_compliance_staleness_and_tags(machine: Machine, fleet_db: str) -> None:
    now = datetime.now(timezone.utc)
    storage = open_fleet_storage(fleet_db)
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
    storage.close()
    done = run_scanner("fleet", "summary", "--db", fleet_db, "-f", "json")
    assert json.loads(done.stdout)["hosts"]["total"] == 5 and json.loads(done.stdout)["database_bytes"] > 0
    shown = run_scanner("fleet", "summary", "--db", fleet_db, "-f", "table").stdout
    assert re.search(r"The fleet database holds [0-9.]+ MiB \([0-9.]+ KiB per host\)\.", shown), shown


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


def test_submit_reads_the_agents_file_passing_over_what_only_audit_takes(tmp_path: Path) -> None:
    """Also as the console script, which builds only the command it is given (and the audit's options, that
    ``submit`` must know to pass over)."""
    config = tmp_path / "agent.yaml"
    config.write_text(
        "submit: http://127.0.0.1:9\ntoken_file: /etc/scanner/token\npolicy: [default]\nexclude: ['/home/bob']\n"
        "tags: {department: finance}\nretention: {keep_last: 5}\npolicy_key: /etc/scanner/policy.pub\n"
    )
    for process in (False, True):
        listed = run_scanner("submit", "--list", "--config", str(config), process=process)
        assert listed.returncode == 0 and listed.stdout == "The spool is empty.\n", listed.stderr
    config.write_text("submit: http://127.0.0.1:9\nsubmitt: http://127.0.0.1:9\n")
    bad = run_scanner("submit", "--list", "--config", str(config))
    assert bad.returncode == 2 and f"{config}:2: submitt: unknown option" in bad.stderr


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
    import uuid

    from scanner.fleet.agent.submit import Destination, Sender, encode
    from scanner.fleet.collector.tokens import new_token

    hosts = [f"web-{n:02d}" for n in range(40)]
    tokens = {h: new_token() for h in hosts}
    enrol = open_fleet_storage(collector.db)
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
    collector = Collector(str(tmp_path / "fleet.db"), "--tls-cert", str(cert), "--tls-key", str(key), ca=cert).start()
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


# -- a compromised agent, a hostile client: the collector's hardening (issue 12, items 1-6) -----------


def _stamp(when: datetime) -> str:
    return when.isoformat(timespec="seconds").replace("+00:00", "Z")


def _as(report: dict[str, Any], host: str, finished: datetime, clean: bool = False) -> dict[str, Any]:
    """A copy of ``report`` from ``host``, finished at ``finished``; ``clean`` forges a compliant one."""
    import copy
    import uuid

    made = copy.deepcopy(report)
    made["scan"].update(host=host, id=str(uuid.uuid4()), started=_stamp(finished), finished=_stamp(finished))
    if clean:
        made["findings"], made["inventory"] = [], []
        made["summary"].update(violations=0, warnings=0, infos=0, compliant=True, by_provider={}, records={})
    return made


def _gz(report: dict[str, Any]) -> bytes:
    return gzip.compress(json.dumps(report).encode())


def test_a_report_dated_ahead_of_the_collectors_clock_cannot_pin_a_host(
    report: dict[str, Any], tmp_path: Path, collector: Collector
) -> None:
    token = _token(collector.db, "web-01", tmp_path).read_text().strip()
    now = datetime.now(timezone.utc)
    gzipped = {"Content-Encoding": "gzip"}
    forged = _post(
        collector.url,
        _gz(_as(report, "web-01", datetime(9999, 12, 31, 23, 59, tzinfo=timezone.utc), True)),
        token,
        **gzipped,
    )
    assert forged.status_code == 422 and "ahead of the collector's clock" in forged.json()["error"], forged.text
    near = _as(report, "web-01", now + timedelta(minutes=8), clean=True)  # within the skew allowed
    assert _post(collector.url, _gz(near), token, **gzipped).status_code == 201
    genuine = _as(report, "web-01", now)
    assert _post(collector.url, _gz(genuine), token, **gzipped).status_code == 201
    (host,) = json.loads(run_scanner("fleet", "hosts", "--db", collector.db, "-f", "json").stdout)
    assert (host["state"], host["last_report"], host["clock_ahead"]) == ("not-compliant", genuine["scan"]["id"], 0)
    shown = run_scanner("fleet", "show", "web-01", "--db", collector.db, "-f", "table").stdout
    assert shown.startswith("NOT COMPLIANT") and " s ahead" in shown.split("Recent reports:")[1]
    # a report stored from elsewhere (ingest of an old file, another collector) is clamped the same way
    storage = open_fleet_storage(collector.db)
    try:
        assert storage.store_report(_as(report, "web-02", now + timedelta(days=365), clean=True), _stamp(now))
        (web02,) = [h for h in storage.hosts() if h.host == "web-02"]
        assert web02.last_seen == _stamp(now) and web02.clock_ahead >= 365 * 86400
        summary = fleet_summary(storage, now=now + timedelta(days=4))
        assert {h["host"] for h in summary["stale_hosts"]} == {"web-01", "web-02"}
        assert summary["clock_ahead"][0]["host"] == "web-02"
    finally:
        storage.close()


def test_report_ids_are_per_host_so_another_hosts_id_cannot_make_a_report_a_duplicate(
    report: dict[str, Any], tmp_path: Path, collector: Collector
) -> None:
    tokens = {h: _token(collector.db, h, tmp_path).read_text().strip() for h in ("host-a", "host-b")}
    first = _as(report, "host-a", datetime.now(timezone.utc), clean=True)
    second = dict(
        _as(report, "host-b", datetime.now(timezone.utc)),
        scan={**report["scan"], "host": "host-b", "id": first["scan"]["id"]},
    )
    answers = [
        _post(collector.url, _gz(r), tokens[r["scan"]["host"]], **{"Content-Encoding": "gzip"})
        for r in (first, second, second)
    ]
    assert [(a.status_code, a.json()["status"]) for a in answers] == [
        (201, "stored"),
        (201, "stored"),
        (200, "duplicate"),
    ]
    for host, expected in (("host-a", 0), ("host-b", 1)):
        shown = json.loads(run_scanner("fleet", "show", host, "--db", collector.db, "-f", "json").stdout)
        assert (shown["scan"]["host"], shown["summary"]["violations"]) == (host, expected)


def test_a_fleet_database_from_before_per_host_ids_keeps_its_reports(report: dict[str, Any], tmp_path: Path) -> None:
    from scanner.fleet.collector.sqlite_storage import FLEET_MIGRATIONS
    from scanner.sqlite import connect, migrate

    db = connect(tmp_path / "fleet.db", "fleet database")
    migrate(db, "fleet.db", FLEET_MIGRATIONS[:1], "fleet database")
    old = _as(report, "web-01", datetime.now(timezone.utc) - timedelta(hours=1))
    db.execute(
        "insert into hosts (host, lost_reports, last_report, last_finished) values ('web-01', 2, ?, ?)",
        [old["scan"]["id"], old["scan"]["finished"]],
    )
    db.execute(
        "insert into reports (id, host, received, started, finished, compliant, complete, violations, warnings, infos, tags, document) "
        "values (?, 'web-01', ?, ?, ?, 0, 1, 1, 0, 0, '{}', ?)",
        [
            old["scan"]["id"],
            old["scan"]["finished"],
            old["scan"]["started"],
            old["scan"]["finished"],
            gzip.compress(json.dumps(old).encode()),
        ],
    )
    db.execute("insert into report_findings (report_id, position, rule_id) values (?, 0, 'r')", [old["scan"]["id"]])
    db.conn.commit()
    db.close()
    storage = SqliteFleetStorage(tmp_path / "fleet.db")
    try:
        (host,) = storage.hosts()
        assert (host.last_report, host.lost_reports, host.violations) == (old["scan"]["id"], 2, 1)
        assert storage.report("web-01", old["scan"]["id"]) == old
        assert storage.store_report(_as(report, "web-01", datetime.now(timezone.utc), clean=True), utc_now())
        assert storage.hosts()[0].compliant is True
    finally:
        storage.close()
    with sqlite3.connect(tmp_path / "fleet.db") as check:
        assert check.execute("select host, part, rule_id from part_findings where part like 'report:%'").fetchall() == [
            ("web-01", f"report:{old['scan']['id']}", "r")
        ]
        assert check.execute("pragma foreign_key_check").fetchall() == []


def test_every_agent_header_is_checked_before_it_is_used(
    report: dict[str, Any], tmp_path: Path, collector: Collector
) -> None:
    token = _token(collector.db, "web-01", tmp_path).read_text().strip()
    refused = {}
    for value in ("\u00b2", "9" * 5000, str(2**63), str(2**63 - 1), "-1", "1e3", "0x10", ""):
        answer = _post(collector.url, _gz(_as(report, "web-01", datetime.now(timezone.utc))), token,
                       **{"Content-Encoding": "gzip", "X-Scanner-Dropped-Reports": value.encode().decode("latin-1")})  # fmt: skip
        refused[value[:20]] = (answer.status_code, "X-Scanner-Dropped-Reports" in answer.json()["error"])
    assert set(refused.values()) == {(400, True)}, refused
    wrong_encoding = _post(collector.url, _gz(report), token, **{"Content-Encoding": "br"})
    assert wrong_encoding.status_code == 415 and "Content-Encoding" in wrong_encoding.json()["error"]
    accepted = _post(collector.url, _gz(_as(report, "web-01", datetime.now(timezone.utc))), token,
                     **{"Content-Encoding": "gzip", "X-Scanner-Dropped-Reports": "3"})  # fmt: skip
    assert accepted.status_code == 201
    with open_fleet_storage(collector.db) as storage:
        (host,) = storage.hosts()
    assert host.lost_reports == 3 and type(host.lost_reports) is int


_UNSAFE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
"""What must never reach a terminal raw: C0 (but the newline), DEL, C1, and text-direction controls."""


def test_every_fleet_command_shows_what_agents_wrote_with_visible_escapes(
    report: dict[str, Any], fleet_db: str
) -> None:
    evil = "\x1b[2J\x1b[H\x1b]52;c;cm0gLXJmIH4K\x07COMPLIANT: 0 violation(s)\n\r\x08\x9b31m\u202egnp.exe\u2066"
    made = _as(report, "web-01", datetime.now(timezone.utc))
    made["scan"]["id"] = evil + made["scan"]["id"]
    made["scan"]["policy"][0]["id"] = evil
    made["findings"][0].update(subject=evil, provider=evil, kind=evil, rule_id=evil)
    made["findings"][0]["evidence"] = [evil, evil]
    made["findings"][0]["location"]["path"] = "/home/" + evil
    made["agent"] = {"tags": {evil: evil}}
    storage = open_fleet_storage(fleet_db)
    assert storage.store_report(made, utc_now())
    storage.close()
    commands = [
        ("fleet", "hosts"),
        ("fleet", "hosts", "-f", "json"),
        ("fleet", "summary"),
        ("fleet", "summary", "-f", "json"),
    ]
    commands += [("fleet", "summary", "-f", f) for f in ("markdown", "html")]
    commands += [
        ("fleet", "show", "web-01", "-f", f) for f in ("table", "json", "csv", "markdown", "html", "sarif", "cyclonedx")
    ]
    for command in commands:
        done = run_scanner(*command, "--db", fleet_db)
        assert done.returncode in (0, 1), (command, done.stderr)
        found = _UNSAFE.search(done.stdout)
        assert found is None, (command, done.stdout[max(0, found.start() - 80) : found.end() + 20])
        assert "\n\x1b" not in done.stdout and "COMPLIANT: 0 violation(s)\\x0a" in done.stdout.replace("\\\\", "\\"), (
            command
        )


def test_the_intake_bounds_a_reports_values_depth_and_strings() -> None:
    from scanner.fleet.collector.intake import MAX_DEPTH, MAX_STRING, MAX_VALUES, IntakeError, read_report

    cases = {
        "nested deeper than": b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1),  # checked once parsed: small
        "nested deeper than ": b"[" * 600_000 + b"]" * 600_000,  # measured before: past 1 MiB
        "more than": b"[" + b"0," * MAX_VALUES + b"0]",
        "string longer than": b'["' + b"a" * (MAX_STRING + 1) + b'"]',
        "once decompressed": gzip.compress(b"{}," * ((34 << 20) // 3)),  # the reproducer's bomb: 0.1 MiB of gzip
    }
    for message, body in cases.items():
        with pytest.raises(IntakeError) as refused:
            read_report(body)
        assert (refused.value.status, message.strip() in refused.value.message) == (413, True), refused.value
    assert len(cases["once decompressed"]) < 200 << 10


def test_the_intake_counts_nesting_outside_strings_and_stores_what_only_pythons_json_reads(
    report: dict[str, Any], tmp_path: Path
) -> None:
    """Brackets, quotes and escapes inside strings do not count as nesting; NaN and a path that is not
    UTF-8 (a lone surrogate) are accepted as before and stored as sent, not turned into null or refused."""
    import math

    from scanner.fleet.collector.intake import MAX_DEPTH, IntakeError, read_report

    def with_item(attributes: dict[str, Any]) -> dict[str, Any]:
        made = _as(report, "web-01", datetime.now(timezone.utc))
        item = {"id": "x", "kind": "package", "name": "x", "version": None, "location": {"path": "/x", "line": None}}
        made["inventory"].append({**item, "attributes": attributes})
        return made

    deepest: Any = []
    for _ in range(MAX_DEPTH - 5):  # the report, inventory, item, attributes, "deep": 4 levels above its value
        deepest = [deepest]
    tricky = {"note": '[{"' * 50 + '\\"\\', "deep": deepest, "ratio": float("nan"), "path": "/opt/caf\udce9"}
    made = with_item(tricky)
    body = json.dumps(made).encode()
    checked = read_report(body)
    assert checked["inventory"][-1]["attributes"]["note"] == tricky["note"]
    with pytest.raises(IntakeError) as refused:
        read_report(json.dumps(with_item({**tricky, "deep": [deepest]})).encode())
    assert (refused.value.status, "nested deeper than" in refused.value.message) == (413, True)
    with SqliteFleetStorage(tmp_path / "fleet.db") as storage:
        assert storage.store_report(checked, utc_now())
        stored = storage.report("web-01", made["scan"]["id"])
    assert stored is not None
    kept = stored["inventory"][-1]["attributes"]
    assert math.isnan(kept["ratio"]) and kept["path"] == "/opt/caf\udce9" and kept["deep"] == deepest


def _peak_rss_mib(pid: int) -> int:
    """The process's high-water mark of resident memory (``VmHWM``), MiB."""
    with open(f"/proc/{pid}/status") as status:
        (line,) = [line for line in status if line.startswith("VmHWM:")]
    return int(line.split()[1]) >> 10


@pytest.mark.slow
def test_ten_memory_bombs_at_once_keep_the_collector_under_512_mib(tmp_path: Path) -> None:
    """The reproducer's body (0.1 MiB of gzip holding 100 MB of ``{},``), and the shape that costs most
    under the caps (31 strings of 1 MiB, each with a 4-byte character: Python stores the whole text
    4 bytes a character), each sent by 10 hosts at once."""
    import zlib

    def gz(parts: list[bytes]) -> bytes:
        packer = zlib.compressobj(6, zlib.DEFLATED, 31)
        return b"".join(packer.compress(p) for p in parts) + packer.flush()

    bombs = {
        "empty objects": gz([b'{"x":[', *[b"{}," * 100_000] * 333, b"{}]}"]),
        "wide strings": gz([b"[", *[b'"\xf0\x9f\x98\x80' + b"a" * ((1 << 20) - 10) + b'",'] * 31, b"0]"]),
    }
    assert len(bombs["empty objects"]) < 128 << 10
    collector = Collector(str(tmp_path / "fleet.db")).start()
    try:
        assert collector.process is not None
        tokens = [_token(collector.db, f"web-{n:02d}", tmp_path).read_text().strip() for n in range(10)]
        for name, body in bombs.items():
            answers: list[int] = []

            def send(token: str, body: bytes, answers: list[int]) -> None:
                answers.append(_post(collector.url, body, token, **{"Content-Encoding": "gzip"}).status_code)

            threads = [threading.Thread(target=send, args=(t, body, answers)) for t in tokens]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert sorted(answers) in ([413] * 10, [422] * 10), (name, answers)
            peak = _peak_rss_mib(collector.process.pid)
            assert peak < 512, f"{name}: peak RSS {peak} MiB"
        assert requests.get(collector.url + "/api/v1/health", timeout=5).json() == {"status": "ok"}
    finally:
        collector.stop()


def _open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


@pytest.mark.slow
def test_slow_clients_cannot_starve_the_collector_and_their_connections_are_closed(
    report: dict[str, Any], tmp_path: Path
) -> None:
    log = tmp_path / "collector.log"
    limits = ("--max-connections", "60", "--header-timeout", "2", "--body-timeout", "2")
    collector = Collector(str(tmp_path / "fleet.db"), *limits, log=log).start()
    slow: list[socket.socket] = []
    try:
        assert collector.process is not None
        token = _token(collector.db, "web-01", tmp_path).read_text().strip()
        assert _post(collector.url, b"{", token).status_code == 400  # the database is open in every thread now
        before = _open_fds(collector.process.pid)
        for _ in range(200):  # half-sent request heads, no token needed
            client = socket.create_connection(("127.0.0.1", collector.port), timeout=5)
            client.sendall(b"POST /api/v1/reports HTTP/1.1\r\nHost: x\r\n")
            slow.append(client)
        for _ in range(3):
            started = time.monotonic()
            assert requests.get(collector.url + "/api/v1/health", timeout=5).json() == {"status": "ok"}
            assert time.monotonic() - started < 2
        assert _open_fds(collector.process.pid) <= before + 60 + 2
        body = _gz(_as(report, "web-01", datetime.now(timezone.utc)))
        trickle = socket.create_connection(("127.0.0.1", collector.port), timeout=10)
        trickle.sendall(
            b"POST /api/v1/reports HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\n"
            + f"Authorization: Bearer {token}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body[:10]
        )
        assert trickle.recv(200).startswith(b"HTTP/1.1 408"), "the body never came"
        trickle.close()
        time.sleep(3)  # past the header timeout: the half-sent requests are closed by the collector
        assert _open_fds(collector.process.pid) <= before + 2
    finally:
        for client in slow:
            client.close()
        collector.stop()
    lines = log.read_text(errors="replace").splitlines()
    assert len(lines) < 100 and "Traceback" not in log.read_text(errors="replace"), lines[-20:]


def test_repeated_log_lines_are_counted_not_written() -> None:
    import logging

    from scanner.fleet.collector.guard import FloodFilter

    flood = FloodFilter(burst=20)
    records = [
        logging.LogRecord(
            "asyncio", logging.ERROR, __file__, 1, "socket.accept() out of system resource\nfd=%d", (n,), None
        )
        for n in range(10_000)
    ]
    assert sum(flood.filter(r) for r in records) == 20
    other = logging.LogRecord("uvicorn.error", logging.WARNING, __file__, 1, "Invalid HTTP request received.", (), None)
    assert flood.filter(other), "another kind of line has its own budget"


@pytest.fixture
def postgres_db(postgres_server: str | None) -> Iterator[str]:
    """A fresh PostgreSQL fleet database (the tests of what only several collectors can do)."""
    require("PostgreSQL (the server tools, or $SCANNER_TEST_POSTGRES)", postgres_server)
    assert postgres_server is not None
    with postgres.fresh_database(postgres_server) as url:
        yield url


def test_two_collectors_on_one_postgresql_database_share_each_hosts_rate_limit_and_turn(
    report: dict[str, Any], tmp_path: Path, postgres_db: str
) -> None:
    limits = ("--burst", "2", "--rate", "0.01")
    first, second = Collector(postgres_db, *limits).start(), Collector(postgres_db, *limits).start()
    try:
        token = _token(postgres_db, "web-01", tmp_path).read_text().strip()
        answers = []
        for n, collector in enumerate((first, second, first)):
            made = _as(report, "web-01", datetime.now(timezone.utc))
            made["scan"]["id"] = f"00000000-0000-4000-8000-00000000000{n}"
            answers.append(_post(collector.url, json.dumps(made).encode(), token).status_code)
        assert answers == [201, 201, 429], "the third report is over the burst of two, whichever collector took it"
        with open_fleet_storage(postgres_db) as one, open_fleet_storage(postgres_db) as other:
            for host in ("web-02", "web-03", "web-04"):
                one.add_token(host, token_hash(f"token of {host}"))
            gate, other_gate = one.gate(60, 1.0, lease=60), other.gate(60, 1.0, lease=60)
            taken = gate.enter(token_hash("token of web-02"))
            assert (taken.host, taken.admitted) == ("web-02", True), "admitted, its turn taken"
            assert other_gate.enter(token_hash("token of web-02")) == Entry("web-02", busy=True), "one at a time"
            gate.release("web-02", taken.until)
            taken = other_gate.enter(token_hash("token of web-02"))
            assert taken.admitted and gate.enter(token_hash("token of web-02")).busy
            stored = _as(report, "web-02", datetime.now(timezone.utc))
            assert other.store_report(stored, utc_now(), turn=Turn(other_gate, "web-02", taken.until))
            taken = gate.enter(token_hash("token of web-02"))
            assert taken.admitted, "a stored report gives its host's turn back"
            stored = _as(report, "web-02", datetime.now(timezone.utc))
            assert other.store_report(stored, utc_now(), turn=Turn(gate, "web-02", taken.until))
            assert gate.enter(token_hash("token of web-02")).admitted, "so does one stored through another connection"
            outlived = one.gate(60, 1.0, lease=0).enter(token_hash("token of web-03"))
            assert outlived.admitted
            assert other_gate.enter(token_hash("token of web-03")).admitted, "a lease ends by itself"
            gate.release("web-03", outlived.until)
            assert gate.enter(token_hash("token of web-03")).busy, (
                "a request that outlived its lease gives back nothing"
            )
            assert gate.enter(token_hash("no such token")) == Entry(None)
            one.revoke_token("web-03")
            assert gate.enter(token_hash("token of web-03")) == Entry(None), "a revoked token opens nothing"
            slow = one.gate(1, 0.001, lease=0)
            assert slow.enter(token_hash("token of web-04")).admitted
            assert 990 < slow.enter(token_hash("token of web-04")).wait <= 1000, "over the rate: told how long to wait"
    finally:
        first.stop()
        second.stop()


@pytest.mark.slow
def test_a_collector_answers_503_while_its_postgresql_restarts_then_stores_on_new_connections(
    report: dict[str, Any], tmp_path: Path
) -> None:
    """Reports sent while the database is away are refused with ``503`` (the agent keeps them and sends
    them again), never lost; once the database is back the collector's pool reconnects by itself."""
    tools = postgres.server_tools()
    require("PostgreSQL server tools (initdb, pg_ctl)", tools)
    assert tools is not None
    with postgres.throwaway_cluster(tools) as cluster:
        collector = Collector(cluster.url).start()
        try:
            token = _token(cluster.url, "web-01", tmp_path).read_text().strip()
            reports = [_as(report, "web-01", datetime.now(timezone.utc)) for _ in range(2)]
            assert _post(collector.url, _gz(reports[0]), token).status_code == 201
            cluster.stop()
            refused = _post(collector.url, _gz(reports[1]), token)
            assert (refused.status_code, "storage unavailable" in refused.text) == (503, True), refused.text
            assert int(refused.headers["Retry-After"]) > 0
            cluster.start()
            deadline, answer = time.monotonic() + 60, refused
            while answer.status_code == 503 and time.monotonic() < deadline:
                time.sleep(0.5)  # the agent's retry, sooner than its Retry-After
                answer = _post(collector.url, _gz(reports[1]), token)
            assert answer.status_code == 201, answer.text
            assert {r["id"] for r in _stored(cluster.url)} == {r["scan"]["id"] for r in reports}
        finally:
            collector.stop()


def test_collectors_starting_together_migrate_a_postgresql_database_once(postgres_db: str) -> None:
    opened: list[object] = []

    def start() -> None:
        with open_fleet_storage(postgres_db) as storage:
            opened.append(storage.hosts())

    threads = [threading.Thread(target=start) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert opened == [[]] * 6
    with psycopg.connect(postgres_db) as db:
        steps = db.execute("select number, name from migrations order by number").fetchall()
        assert [name for _, name in steps] == [step.name for step in FLEET_SCHEMA]
        db.execute("insert into migrations values (99, '0099-from-the-future', '2099-01-01T00:00:00Z')")
    with pytest.raises(StoreError, match="newer scanner"):
        open_fleet_storage(postgres_db)


def test_postgresql_does_not_compress_again_what_the_collector_stores_compressed(postgres_db: str) -> None:
    with open_fleet_storage(postgres_db):
        pass
    with psycopg.connect(postgres_db) as db:
        storage = db.execute(
            "select attrelid::regclass::text, attname, attstorage from pg_attribute "
            "where (attrelid, attname) in (('report_parts'::regclass, 'body'), ('reports'::regclass, 'document'))"
        ).fetchall()
    assert sorted(storage) == [("report_parts", "body", "e"), ("reports", "document", "e")]


def test_several_workers_serve_one_postgresql_database_and_sqlite_refuses_them(
    report: dict[str, Any], tmp_path: Path, postgres_db: str
) -> None:
    collector = Collector(postgres_db, "--workers", "2").start()
    try:
        tokens = {h: _token(postgres_db, h, tmp_path).read_text().strip() for h in ("web-01", "web-02", "web-03")}
        for host, token in tokens.items():
            answer = _post(collector.url, json.dumps(_as(report, host, datetime.now(timezone.utc))).encode(), token)
            assert answer.status_code == 201, answer.text
        assert len(_stored(postgres_db)) == 3
    finally:
        collector.stop()
    refused = run_scanner("serve", "--db", str(tmp_path / "fleet.db"), "--workers", "2")
    assert refused.returncode != 0 and "needs a PostgreSQL --db" in refused.stderr


def test_a_postgresql_fleet_database_from_before_reports_were_stored_by_content_keeps_every_report(
    report: dict[str, Any], postgres_db: str
) -> None:
    from scanner.fleet.collector.schema import Dialect

    old = _as(report, "web-01", datetime.now(timezone.utc) - timedelta(hours=1))
    with psycopg.connect(postgres_db, autocommit=True) as db:  # the schema as 3 steps left it, with one report
        db.execute("create table migrations (number integer primary key, name text not null, applied text not null)")
        for number, step in enumerate(FLEET_SCHEMA[:3], start=1):
            for statement in step.sql(Dialect.POSTGRESQL):
                db.execute(statement)
            db.execute("insert into migrations values (%s, %s, '2026-12-01T00:00:00Z')", [number, step.name])
        db.execute("insert into hosts (host, lost_reports, last_report) values ('web-01', 0, %s)", [old["scan"]["id"]])
        db.execute(
            "insert into reports (id, host, received, started, finished, compliant, complete, violations, warnings, "
            "infos, tags, document) values (%s, 'web-01', %s, %s, %s, 0, 1, 1, 0, 0, '{}', %s)",
            [old["scan"]["id"], old["scan"]["finished"], old["scan"]["started"], old["scan"]["finished"],
             gzip.compress(json.dumps(old).encode())],
        )  # fmt: skip
        db.execute(
            "insert into report_findings (host, report_id, position, rule_id, provider) values "
            "('web-01', %s, 0, 'endpoint-host', 'deepseek')",
            [old["scan"]["id"]],
        )
    with open_fleet_storage(postgres_db) as storage:
        assert storage.report("web-01", old["scan"]["id"]) == old
        (host,) = storage.hosts()
        assert (host.last_report, host.violations, host.reports) == (old["scan"]["id"], 1, 1)
        newer = _as(report, "web-01", datetime.now(timezone.utc))
        assert storage.store_report(newer, utc_now())
        assert storage.report("web-01", newer["scan"]["id"]) == newer
        assert _rows(postgres_db, "select count(*) from part_findings where part like 'report:%'") == 1  # kept
        assert storage.prune(keep_last=1, older_than=None) == 1
    assert _rows(postgres_db, "select count(*) from part_findings where part like 'report:%'") == 0
    assert _rows(postgres_db, "select count(*) from reports") == 1


@pytest.mark.slow
def test_a_report_cut_off_by_the_collectors_stop_gives_its_hosts_turn_back(
    report: dict[str, Any], tmp_path: Path, postgres_db: str
) -> None:
    """A stop ends a request half-way through its body (the graceful wait of 10 s runs out): the host's
    turn, kept in the database for every collector, is given back, not held until its lease ends."""
    collector = Collector(postgres_db).start()
    token = _token(postgres_db, "web-01", tmp_path).read_text().strip()
    head = (
        f"POST /api/v1/reports HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
        "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"
    )
    try:
        with socket.create_connection(("127.0.0.1", collector.port)) as slow:
            slow.sendall(head.encode())
            with psycopg.connect(postgres_db) as db:
                for _ in range(100):
                    row = db.execute("select busy_until from host_limits where host = 'web-01'").fetchone()
                    if row and row[0] is not None:
                        break
                    time.sleep(0.05)
                assert row and row[0] is not None, "the slow request holds the host's turn"
            collector.stop()
        with psycopg.connect(postgres_db) as db:
            (busy,) = db.execute("select busy_until from host_limits where host = 'web-01'").fetchone() or (0,)
        assert busy is None, "given back when the collector stopped"
        collector.start()
        answer = _post(collector.url, json.dumps(_as(report, "web-01", datetime.now(timezone.utc))).encode(), token)
        assert answer.status_code == 201, answer.text
    finally:
        collector.stop()


def test_a_report_whose_store_fails_unexpectedly_gives_its_hosts_turn_back(
    report: dict[str, Any], tmp_path: Path
) -> None:
    """Whatever goes wrong while a report is stored (not only the database's errors), its host may send
    again at once rather than be told for minutes that a report of it is being received."""
    from starlette.testclient import TestClient

    from scanner.fleet.collector.server import create_app
    from scanner.fleet.collector.tokens import new_token

    class FailingOnce(SqliteFleetStorage):
        failed = False

        def store_report(
            self, report: dict[str, Any], received: str, dropped: int = 0, turn: Turn | None = None
        ) -> bool:
            if not self.failed:
                self.failed = True
                raise RuntimeError("a bug in storing")
            return super().store_report(report, received, dropped, turn)

    storage = FailingOnce(tmp_path / "fleet.db")
    token = new_token()
    storage.add_token("web-01", token_hash(token))
    body = json.dumps(report).encode()
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(storage), raise_server_exceptions=False) as client:
        assert client.post("/api/v1/reports", content=body, headers=headers).status_code == 500
        again = client.post("/api/v1/reports", content=body, headers=headers)
        assert again.status_code == 201, again.text
