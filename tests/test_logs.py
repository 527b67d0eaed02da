"""DNS and proxy logs say who contacted a banned host, and when: clients, users and full UTC times.

Every log here is written in its real format, plain or gzip, and read through ``scanner audit
--dns-log/--proxy-log``. Times in syslog and BIND lines are local: the tests fix the zone.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from conftest import Machine, run_scanner

from scanner.collectors.endpoints import logs

SARIF = Path(__file__).parent / "schemas" / "sarif-schema-2.1.0.json"


@pytest.fixture(autouse=True)
def zone() -> Iterator[Callable[[str], None]]:
    """The scanning machine's time zone (``TZ``), UTC unless a test picks another."""
    with pytest.MonkeyPatch.context() as patch:

        def use(tz: str) -> None:
            patch.setenv("TZ", tz)
            time.tzset()

        use("UTC0")
        yield use
    time.tzset()


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).replace(tzinfo=timezone.utc).timestamp()


def write_log(path: Path, lines: list[str], *, gz: bool = False, mtime: str = "2026-12-06T00:00:00") -> Path:
    """A log as its daemon leaves it, dated by its file time (syslog lines carry no year)."""
    data = ("\n".join(lines) + "\n").encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    os.utime(path, (epoch(mtime), epoch(mtime)))
    return path


def audit(machine: Machine, *logs: tuple[str, Path], fmt: str = "json", wide: bool = False) -> str:
    args = [a for option, path in logs for a in (option, str(path))]
    done = run_scanner(
        "audit", "--root", str(machine.root), *args, "--no-store", "-f", fmt, *(["--wide"] if wide else [])
    )
    assert done.returncode == 1, done.stderr
    return done.stdout


def contacts(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per host: when it was seen, its clients as (address, count, first, last, users), the rest counted."""
    return {
        item["name"]: {
            "seen": item["attributes"]["seen"],
            "clients": [
                (c["address"], c["count"], c["first"], c["last"], c["users"]) for c in item["attributes"]["clients"]
            ],
            "other_clients": item["attributes"]["other_clients"],
        }
        for item in report["inventory"]
        if item["attributes"]["source"] in ("dns-log", "proxy-log")
    }


T1, T2, T3 = "2026-12-05T10:01:02Z", "2026-12-05T10:01:03Z", "2026-12-05T10:01:04Z"

FORMATS: dict[str, tuple[str, list[str], str, list[tuple[str, int, str, str, list[str]]]]] = {
    "dnsmasq": (
        "--dns-log",
        [
            "Dec  5 10:01:02 gw dnsmasq[812]: query[A] api.deepseek.com from 10.0.0.7",
            "Dec  5 10:01:02 gw dnsmasq[812]: forwarded api.deepseek.com to 1.1.1.1",
            "Dec  5 10:01:03 gw dnsmasq[812]: query[AAAA] api.deepseek.com from 10.0.0.5",
            "Dec  5 10:01:04 gw dnsmasq[812]: 1234 10.0.0.5/40001 query[A] api.deepseek.com from 10.0.0.5",
            "Dec  5 10:01:04 gw dnsmasq[812]: query[A] www.example.org from 10.0.0.9",
        ],
        "api.deepseek.com",
        [("10.0.0.5", 2, T2, T3, []), ("10.0.0.7", 1, T1, T1, [])],
    ),
    "dnsmasq, rsyslog's precise times": (
        "--dns-log",
        [
            "2026-12-05T11:01:02.123456+01:00 gw dnsmasq[812]: query[A] api.deepseek.com from 10.0.0.5",
            "2026-12-05T10:01:04.5Z gw dnsmasq[812]: query[A] api.deepseek.com from 10.0.0.5",
        ],
        "api.deepseek.com",
        [("10.0.0.5", 2, T1, T3, [])],
    ),
    "bind": (
        "--dns-log",
        [
            "05-Dec-2026 10:01:02.123 queries: info: client @0x7f3a2c0 10.0.0.5#53421 (api.moonshot.cn): "
            "query: api.moonshot.cn IN A +E(0)K (10.0.0.1)",
            "05-Dec-2026 10:01:03.456 client 2001:DB8:0::7#53422 (api.moonshot.cn): query: api.moonshot.cn IN AAAA + (10.0.0.1)",
            "2026-12-05T10:01:04.000Z client @0x7f3a2c0 10.0.0.5#53423 (api.moonshot.cn): "
            "view internal: query: api.moonshot.cn IN A + (10.0.0.1)",
            "05-Dec-2026 10:01:04.456 client @0x7f3a2c0 10.0.0.9#53424 (example.com): query: example.com IN A + (10.0.0.1)",
        ],
        "api.moonshot.cn",
        [("10.0.0.5", 2, T1, T3, []), ("2001:db8::7", 1, T2, T2, [])],
    ),
    "zeek tsv": (
        "--dns-log",
        [
            "#separator \\x09",
            "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\ttrans_id\tquery\tqtype_name",
            "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tcount\tstring\tstring",
            f"{epoch(T1):.6f}\tC1\t10.0.0.5\t51000\t10.0.0.1\t53\tudp\t1\tapi.minimax.io\tA",
            f"{epoch(T3):.6f}\tC2\tfe80::1%eth0\t51001\t10.0.0.1\t53\tudp\t2\tapi.minimax.io\tAAAA",
        ],
        "api.minimax.io",
        [("10.0.0.5", 1, T1, T1, []), ("fe80::1%eth0", 1, T3, T3, [])],
    ),
    "zeek json": (
        "--dns-log",
        [
            f'{{"ts":{epoch(T2)},"uid":"C1","id.orig_h":"10.0.0.5","id.orig_p":51000,"query":"api.kimi.com"}}',
            '{"ts":"2026-12-05T10:01:04.000000Z","uid":"C2","id":{"orig_h":"10.0.0.5"},"query":"API.KIMI.COM."}',
            '{"ts":"2026-12-05T10:01:02.000000Z","uid":"C3","query":"api.kimi.com"}',
        ],
        "api.kimi.com",
        [("10.0.0.5", 2, T2, T3, []), ("unknown", 1, T1, T1, [])],
    ),
    "squid": (
        "--proxy-log",
        [
            f"{epoch(T1):.3f}    120 10.0.0.5 TCP_TUNNEL/200 3456 CONNECT api.deepseek.com:443 alice HIER_DIRECT/1.2.3.4 -",
            f"{epoch(T2):.3f}     15 10.0.0.6 TCP_MISS/200 512 GET http://api.deepseek.com/v1/models - "
            "HIER_DIRECT/5.6.7.8 application/json",
            f"{epoch(T3):.3f}     15 10.0.0.5 TCP_MISS/200 512 GET http://api.deepseek.com/ bob HIER_DIRECT/5.6.7.8 -",
        ],
        "api.deepseek.com",
        [("10.0.0.5", 2, T1, T3, ["alice", "bob"]), ("10.0.0.6", 1, T2, T2, [])],
    ),
}


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("name", sorted(FORMATS))
def test_each_log_format_says_which_clients_asked_and_when_in_utc(
    machine: Machine, tmp_path: Path, name: str, gz: bool
) -> None:
    option, lines, host, clients = FORMATS[name]
    log = write_log(tmp_path / ("log.1.gz" if gz else "log"), lines, gz=gz)
    report = json.loads(audit(machine, (option, log)))
    (found,) = contacts(report).values()
    assert found["clients"] == clients
    assert found["seen"] == {"count": str(sum(c[1] for c in clients)), "first": T1, "last": T3}
    assert found["other_clients"] is None
    assert report["scan"]["coverage"]["skipped"] == []
    assert {f["subject"] for f in report["findings"]} == {host}


def test_the_evidence_says_who_asked_how_often_and_between_which_times(machine: Machine, tmp_path: Path) -> None:
    asked = [("10.0.0.5", 30), ("10.0.0.7", 10), ("10.0.0.9", 2)]
    lines = [
        f"Dec  {1 + i % 5} {8 + i % 2:02d}:00:00 gw dnsmasq[812]: query[A] api.deepseek.com from {client}"
        for client, times in asked
        for i in range(times)
    ]
    lines.append("Dec  5 10:01:02 gw dnsmasq[812]: query[A] api.deepseek.com from 10.0.0.5")
    log = write_log(tmp_path / "dnsmasq.log", lines)
    (finding,) = json.loads(audit(machine, ("--dns-log", log)))["findings"]
    assert finding["evidence"][0] == (
        f"a DNS log at {log}:1 names api.deepseek.com, looked up by 3 clients, most often 10.0.0.5."
    ), "the first line (all the fleet page shows) says who too"
    assert finding["evidence"][1].startswith(
        "`api.deepseek.com` was looked up 43 times by 3 clients (10.0.0.5 ×31, 10.0.0.7 ×10, 10.0.0.9 ×2) "
        "between 2026-12-01T08:00:00Z and 2026-12-05T10:01:02Z (endpoints: api.deepseek.com, "
    )


def test_a_proxy_finding_names_the_client_and_its_users(machine: Machine, tmp_path: Path) -> None:
    log = write_log(tmp_path / "access.log", FORMATS["squid"][1][:1])
    (finding,) = json.loads(audit(machine, ("--proxy-log", log)))["findings"]
    assert finding["evidence"][0] == f"a proxy log at {log}:1 names api.deepseek.com, requested by 10.0.0.5 as alice."
    assert finding["evidence"][1].startswith(
        f"`api.deepseek.com` was requested through the proxy once by 10.0.0.5 as alice at {T1} ("
    )


def test_syslog_dates_take_the_year_from_the_file_and_a_log_spanning_new_year_the_year_before(
    machine: Machine, tmp_path: Path, zone: Callable[[str], None]
) -> None:
    lines = [
        "Dec 31 23:59:58 gw dnsmasq[812]: query[A] api.deepseek.com from 10.0.0.5",
        "Jan  1 00:00:03 gw dnsmasq[812]: query[A] api.deepseek.com from 10.0.0.7",
    ]
    spanning = write_log(tmp_path / "dnsmasq.log.1.gz", lines, gz=True, mtime="2027-01-01T06:25:00")
    (found,) = contacts(json.loads(audit(machine, ("--dns-log", spanning)))).values()
    assert found["clients"] == [
        ("10.0.0.5", 1, "2026-12-31T23:59:58Z", "2026-12-31T23:59:58Z", []),
        ("10.0.0.7", 1, "2027-01-01T00:00:03Z", "2027-01-01T00:00:03Z", []),
    ]
    zone("CET-1")  # a machine one hour east of UTC wrote (and reads) local times
    old = write_log(tmp_path / "dnsmasq.log", lines[:1], mtime="2025-03-01T00:00:00")
    (found,) = contacts(json.loads(audit(machine, ("--dns-log", old)))).values()
    assert found["seen"]["first"] == "2024-12-31T22:59:58Z"


def test_a_hostile_log_of_100k_distinct_clients_gives_a_bounded_report(machine: Machine, tmp_path: Path) -> None:
    start = epoch(T1)
    lines = [
        f"{start + i:.3f} 1 10.{i >> 16}.{(i >> 8) & 255}.{i & 255} TCP_MISS/200 5 GET http://api.deepseek.com/ "
        f"user{i} HIER_DIRECT/1.2.3.4 -"
        for i in range(100_000)
    ]
    lines += [
        f"{start + 100_000 + i:.3f} 1 192.0.2.1 TCP_MISS/200 5 GET http://api.deepseek.com/ - -" for i in range(3)
    ]
    log = write_log(tmp_path / "access.log.gz", lines, gz=True)
    out = audit(machine, ("--proxy-log", log))
    assert len(out) < 100_000, "a flood of addresses must not become a flood of text"
    (found,) = contacts(json.loads(out)).values()
    assert found["seen"]["count"] == "100003"
    assert len(found["clients"]) == logs.CLIENTS_KEPT
    assert found["clients"][0] == ("192.0.2.1", 3, "2026-12-06T13:47:42Z", "2026-12-06T13:47:44Z", []), (
        "a busy client met after the flood is still counted exactly, and listed first"
    )
    dropped = 100_001 - logs.CLIENT_SLOTS
    assert found["other_clients"] == {
        "clients": logs.CLIENT_SLOTS - logs.CLIENTS_KEPT + dropped,
        "count": logs.CLIENT_SLOTS - logs.CLIENTS_KEPT + dropped,
        "dropped": dropped,
        "uncounted": 0,
    }
    (finding,) = json.loads(out)["findings"]
    assert finding["evidence"][0].endswith("requested by up to 100,001 clients, most often 192.0.2.1.")
    sentence = finding["evidence"][1]
    assert len(sentence) < 1_000
    assert "requested through the proxy 100,003 times by up to 100,001 clients (192.0.2.1 ×3, 10.1." in sentence
    assert " and 99,991 more) between 2026-12-05T10:01:02Z and 2026-12-06T13:47:44Z (" in sentence


def test_clients_past_the_budget_that_cannot_be_told_apart_are_still_counted(
    machine: Machine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(logs, "CLIENT_SLOTS", 3)
    regulars = [f"Dec  5 10:01:0{i} gw dnsmasq[812]: query[A] api.deepseek.com from 10.0.0.{i % 3}" for i in range(6)]
    late = [
        "Dec  5 10:02:00 gw dnsmasq[812]: query[A] api.deepseek.com from 10.0.0.9",
        "Dec  5 10:02:01 gw dnsmasq[812]: query[A] chat.deepseek.com from 10.0.0.9",
    ]
    report = json.loads(audit(machine, ("--dns-log", write_log(tmp_path / "dnsmasq.log", regulars + late))))
    found = contacts(report)
    assert [c[:2] for c in found["api.deepseek.com"]["clients"]] == [("10.0.0.0", 2), ("10.0.0.1", 2), ("10.0.0.2", 2)]
    assert found["api.deepseek.com"]["other_clients"] == {"clients": 0, "count": 0, "dropped": 0, "uncounted": 1}
    assert found["chat.deepseek.com"]["clients"] == []
    evidence = {f["subject"]: f["evidence"][1] for f in report["findings"]}
    assert evidence["api.deepseek.com"].startswith(
        "`api.deepseek.com` was looked up 7 times by at least 3 clients (10.0.0.0 ×2, 10.0.0.1 ×2, 10.0.0.2 ×2; "
        "1 more lookup(s) by clients not told apart) between 2026-12-05T10:01:00Z and 2026-12-05T10:02:00Z ("
    )
    assert evidence["chat.deepseek.com"].startswith(
        "`chat.deepseek.com` was looked up once by clients not told apart (more than the scan counts one by one) at "
    )


def test_a_flood_of_watched_hosts_is_capped_and_is_a_coverage_gap(
    machine: Machine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(logs, "HOSTS_CAP", 5)
    lines = [f"Dec  5 10:01:02 gw dnsmasq[812]: query[A] x{i}.deepseek.com from 10.0.0.5" for i in range(8)]
    report = json.loads(audit(machine, ("--dns-log", write_log(tmp_path / "dnsmasq.log", lines))))
    assert len(contacts(report)) == 5
    (gap,) = report["scan"]["coverage"]["skipped"]
    assert gap["reason"] == "3 line(s) name other watched hosts past the first 5: counted, not itemised"
    assert report["summary"]["complete"] is False


HOSTILE_USER = "\x1b[2A\u202e<script>alert(1)</script>[x](http://evil)"
HOSTILE_CLIENT = '=HYPERLINK("http://evil")'


def test_client_and_user_names_from_a_hostile_log_are_escaped_in_every_format(machine: Machine, tmp_path: Path) -> None:
    long_user = "u" * 300
    lines = [
        f"{epoch(T1):.3f} 1 {HOSTILE_CLIENT} TCP_MISS/200 5 GET http://api.deepseek.com/ {HOSTILE_USER} -",
        f"{epoch(T2):.3f} 1 10.0.0.5 TCP_MISS/200 5 GET http://api.deepseek.com/ {long_user} -",
    ]
    log = write_log(tmp_path / "access.log", lines)
    report = json.loads(audit(machine, ("--proxy-log", log)))
    (found,) = contacts(report).values()
    users = {client[0]: client[4] for client in found["clients"]}
    assert users == {HOSTILE_CLIENT: [HOSTILE_USER], "10.0.0.5": ["u" * (logs.NAME_CAP - 1) + "…"]}
    for fmt in ("table", "html", "markdown", "csv"):
        out = audit(machine, ("--proxy-log", log), fmt=fmt, wide=True)
        assert "\x1b" not in out and "\u202e" not in out, fmt
        assert "x1b" in out and "u202e" in out, f"{fmt}: shown escaped, not dropped"
        assert "u" * (logs.NAME_CAP + 1) not in out, fmt
    html = audit(machine, ("--proxy-log", log), fmt="html")
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    assert "[x](http://evil)" not in audit(machine, ("--proxy-log", log), fmt="markdown")
    rows = list(csv.reader(io.StringIO(audit(machine, ("--proxy-log", log), fmt="csv"))))
    assert all(not cell.startswith("=") for row in rows for cell in row)
    sarif = json.loads(audit(machine, ("--proxy-log", log), fmt="sarif"))
    jsonschema.Draft202012Validator(json.loads(SARIF.read_text())).validate(sarif)
    assert "by 2 clients (" in sarif["runs"][0]["results"][0]["message"]["text"]
