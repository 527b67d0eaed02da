"""What a report may hold whatever a local user plants: no key in any form, no raw control or bidi
character in any format, no string or finding without bound, and never more than the collector accepts.

From the red-team sweeps: 6 of 46 planted key forms reached all seven formats and the store; hostile
names carried ESC, C1 and right-to-left overrides into CSV, JSON, SARIF and CycloneDX; 25 GGUF files
with a 1 MiB ``general.name`` made a 286 MiB report that the collector refused.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from conftest import Machine, run_scanner
from modelkit import write_gguf

from scanner import limits
from scanner.fleet.collector.intake import MAX_BODY, MAX_REPORT, MAX_VALUES
from scanner.reporters.interface import Format

KEYS = {n: f"sk-live-{n:02d}0123456789abcdefXYZ" for n in range(20)}
"""One distinct key per planted form; the part after ``sk-live-`` must appear nowhere."""


def plant(machine: Machine, files: dict[str, str]) -> None:
    for inside, text in files.items():
        path = machine.path(inside)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def every_output(machine: Machine, tmp_path: Path) -> dict[str, bytes]:
    """Each format's report of one audit, and every value of the store it was recorded in."""
    out: dict[str, bytes] = {}
    db = tmp_path / "store.db"
    for fmt in Format:
        report = tmp_path / f"report.{fmt}"
        done = run_scanner("audit", "--root", str(machine.root), "--db", str(db), "-f", fmt, "-o", str(report))
        assert done.returncode in (0, 1), done.stderr
        out[fmt] = report.read_bytes()
    with sqlite3.connect(db) as store:
        tables = [t for (t,) in store.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        out["store"] = b"".join(
            v if isinstance(v, bytes) else str(v).encode("utf-8", "surrogatepass")
            for t in tables
            for row in store.execute(f'SELECT * FROM "{t}"')
            for v in row
        )
    return out


def test_a_key_is_masked_in_every_format_and_the_store_wherever_it_is_written(machine: Machine, tmp_path: Path) -> None:
    k = KEYS
    plant(
        machine,
        {
            "/home/a/.env": f"OPENAI_API_BASE=https://api.deepseek.com/{k[0]}/v1\n"
            f"OPENAI_BASE_URL=https://api.deepseek.com/v1;key={k[1]}\n"
            f"OPENAI_BASE_URL2=https://{k[2]}.api.deepseek.com/v1\n"
            f"OPENAI_BASE_URL3=https://api.deepseek.com/v1/?{k[3]}\n",
            "/home/b/.env": f"ANTHROPIC_MODEL={k[4]}\nDEEPSEEK_MODEL=deepseek-chat-{k[5]}\n",
            "/home/b/.continue/config.json": json.dumps(
                {
                    "models": [
                        {"provider": "deepseek", "model": k[6], "apiBase": "https://api.deepseek.com", "title": k[7]}
                    ]
                }
            ),
            "/srv/app/client.py": f'c = OpenAI(base_url="https://api.deepseek.com/{k[8]}/v1")\n',
            "/etc/systemd/system/ai.service": f"[Service]\nEnvironment=OPENAI_BASE_URL=https://api.deepseek.com/{k[9]}\n",
        },
    )
    write_gguf(machine.path("/srv/models/m.gguf"), name=f"DeepSeek-R1 {k[10]}", organization="deepseek-ai")
    outputs = every_output(machine, tmp_path)
    leaks = sorted(
        {(n, where) for n, key in KEYS.items() for where, blob in outputs.items() if key[8:].encode() in blob}
    )
    assert leaks == []
    assert b"sk-\xe2\x80\xa6fXYZ" in outputs[Format.JSON], "masked to its prefix and last four characters"


HOSTILE_NAMES = {
    "esc": "x\x1b[2J\x1b[31mCOMPLIANT\x1b[0m",
    "osc52": "x\x1b]52;c;ZWNobyBwd25lZA==\x07",
    "c1": "x\u009b2J\u009d0;title\u009c",
    "rlo": "x\u202eexe.txt",
    "isolates": "x\u2066\u2067\u2068\u2069\u200f",
    "newline": "x\nVIOLATION deepseek fake\r\n",
    "erase": "x\x7f\x08\x08\x08",
    "invisible": "x\u200b\ufeff\u2028\u2029\u0085",
}
RAW = "".join(chr(c) for c in (*range(0x00, 0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0)))
BIDI_AND_INVISIBLE = "\u061c\u200b\u200e\u200f\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff"


def test_control_and_bidi_characters_in_names_are_visible_escapes_in_every_format(
    machine: Machine, tmp_path: Path
) -> None:
    for name in HOSTILE_NAMES.values():
        plant(machine, {f"/home/{name}/.env": "OPENAI_BASE_URL=https://api.deepseek.com/v1\n"})
    outputs = every_output(machine, tmp_path)
    for where, blob in outputs.items():
        if where == "store":
            continue
        text = blob.decode("utf-8")
        found = sorted({f"U+{ord(c):04X}" for c in text if c in RAW or c in BIDI_AND_INVISIBLE})
        assert found == [], f"{where} carries raw {found}"
        assert not any(line.startswith("VIOLATION deepseek fake") for line in text.splitlines())
    report = json.loads(outputs[Format.JSON])
    paths = {f["location"]["path"] for f in report["findings"]}
    assert "/home/x\u202eexe.txt/.env" in paths, "JSON escapes the characters; a parser reads the real name"


def test_a_delete_character_is_escaped_in_a_report_otherwise_all_ascii(machine: Machine, tmp_path: Path) -> None:
    plant(machine, {f"/home/{HOSTILE_NAMES['erase']}/.env": "OPENAI_BASE_URL=https://api.deepseek.com/v1\n"})
    report_file = tmp_path / "report.json"
    run_scanner("audit", "--root", str(machine.root), "--no-store", "-f", "json", "-o", str(report_file))
    text = report_file.read_text(encoding="utf-8")
    assert text.isascii() and "\x7f" not in text
    assert "/home/x\x7f\x08\x08\x08/.env" in {f["location"]["path"] for f in json.loads(text)["findings"]}


def test_a_megabyte_model_name_is_cut_saying_how_much_and_the_collector_accepts_the_report(
    machine: Machine, tmp_path: Path
) -> None:
    for n in range(6):
        write_gguf(machine.path(f"/home/evil/models/m{n}.gguf"), name=f"deepseek-ai/DeepSeek-R1-{n}-" + "A" * 1_000_000)
    report_file = tmp_path / "report.json"
    run_scanner("audit", "--root", str(machine.root), "--no-store", "-f", "json", "-o", str(report_file))
    report = json.loads(report_file.read_text())
    assert report["summary"]["violations"] == 6
    assert report_file.stat().st_size < 6 * 12 * limits.STRING_CAP * 2, "about a dozen capped copies per file"
    assert all(f"…[+{1_000_000 + 26 - limits.STRING_CAP:,} chars]…" in f["subject"] for f in report["findings"])
    db = tmp_path / "fleet.db"
    run_scanner("fleet", "token", "add", "vm", "--db", str(db))
    ingested = run_scanner("ingest", str(report_file), "--db", str(db))
    assert ingested.returncode == 0, ingested.stdout + ingested.stderr


def test_a_report_over_its_budget_leaves_out_the_least_needed_and_says_how_much(
    machine: Machine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits, "REPORT_BUDGET", 96 << 10)
    for n in range(150):
        plant(
            machine,
            {f"/home/u{n}/.env": f"OPENAI_BASE_URL=https://api.deepseek.com/v1\nDEEPSEEK_API_KEY={KEYS[n % 20]}\n"},
        )
        machine.path(f"/srv/env/e{n}/lib/python3.11/site-packages").mkdir(parents=True)
    report_file = tmp_path / "report.json"
    run_scanner("audit", "--root", str(machine.root), "--no-store", "-f", "json", "-o", str(report_file))
    report: dict[str, Any] = json.loads(report_file.read_text())
    assert report_file.stat().st_size <= 96 << 10
    assert report["summary"]["violations"] == 150, "the summary still counts everything"
    note = report["scan"]["coverage"]["skipped"][-1]
    assert note["path"] == "(report)" and note["kind"] == "partial"
    assert "warning findings" in note["reason"] and "violation findings" in note["reason"]
    assert report["findings"] and all(f["severity"] == "violation" for f in report["findings"])
    kept = {i["id"] for i in report["inventory"]}
    assert {f["record_id"] for f in report["findings"]} <= kept, "a finding kept keeps the record it judges"


def test_the_report_budget_is_under_what_the_collector_accepts() -> None:
    assert min(MAX_BODY, MAX_REPORT) >= limits.REPORT_BUDGET + (1 << 20)
    # the collector also counts values: a report's values take 7 bytes or more each (`"k":"",` and up)
    assert limits.REPORT_BUDGET // 7 <= MAX_VALUES


def test_masking_keeps_keys_that_are_not_text_as_they_are() -> None:
    assert limits.shown_all({("a", 1): "x", "k": {(2,): ["y", 3, None]}}) == {
        ("a", 1): "x",
        "k": {(2,): ["y", 3, None]},
    }
