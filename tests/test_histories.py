"""Browser and shell histories: visits to the providers' hosts and commands that use them, as evidence
of past use weighed by the policy, read only where the policy allows."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from conftest import run_scanner

# The tables the browsers themselves create (Chromium's history/history_database.cc and
# url_database.cc, Firefox's toolkit/components/places/nsPlacesTables.h), with the columns read here.
CHROMIUM_SCHEMA = """
CREATE TABLE meta(key LONGVARCHAR NOT NULL UNIQUE PRIMARY KEY, value LONGVARCHAR);
CREATE TABLE urls(id INTEGER PRIMARY KEY AUTOINCREMENT,url LONGVARCHAR,title LONGVARCHAR,visit_count INTEGER DEFAULT 0 NOT NULL,typed_count INTEGER DEFAULT 0 NOT NULL,last_visit_time INTEGER NOT NULL,hidden INTEGER DEFAULT 0 NOT NULL);
CREATE TABLE visits(id INTEGER PRIMARY KEY AUTOINCREMENT,url INTEGER NOT NULL,visit_time INTEGER NOT NULL,from_visit INTEGER,external_referrer_url TEXT,transition INTEGER DEFAULT 0 NOT NULL,segment_id INTEGER,visit_duration INTEGER DEFAULT 0 NOT NULL,incremented_omnibox_typed_score BOOLEAN DEFAULT FALSE NOT NULL,opener_visit INTEGER,originator_cache_guid TEXT,originator_visit_id INTEGER,originator_from_visit INTEGER,originator_opener_visit INTEGER,is_known_to_sync BOOLEAN DEFAULT FALSE NOT NULL,consider_for_ntp_most_visited BOOLEAN DEFAULT FALSE NOT NULL,visited_link_id INTEGER DEFAULT 0 NOT NULL,app_id TEXT);
CREATE INDEX visits_url_index ON visits (url);
"""
FIREFOX_SCHEMA = """
CREATE TABLE moz_places (id INTEGER PRIMARY KEY, url LONGVARCHAR, title LONGVARCHAR, rev_host LONGVARCHAR, visit_count INTEGER DEFAULT 0, hidden INTEGER DEFAULT 0 NOT NULL, typed INTEGER DEFAULT 0 NOT NULL, frecency INTEGER DEFAULT -1 NOT NULL, last_visit_date INTEGER , guid TEXT, foreign_count INTEGER DEFAULT 0 NOT NULL, url_hash INTEGER DEFAULT 0 NOT NULL , description TEXT, preview_image_url TEXT, site_name TEXT, origin_id INTEGER REFERENCES moz_origins(id), recalc_frecency INTEGER NOT NULL DEFAULT 0, alt_frecency INTEGER, recalc_alt_frecency INTEGER NOT NULL DEFAULT 0);
CREATE TABLE moz_historyvisits (id INTEGER PRIMARY KEY, from_visit INTEGER, place_id INTEGER, visit_date INTEGER, visit_type INTEGER, session INTEGER, source INTEGER DEFAULT 0 NOT NULL, triggeringPlaceId INTEGER);
CREATE TABLE moz_origins ( id INTEGER PRIMARY KEY, prefix TEXT NOT NULL, host TEXT NOT NULL, frecency INTEGER NOT NULL, recalc_frecency INTEGER NOT NULL DEFAULT 0, alt_frecency INTEGER, recalc_alt_frecency INTEGER NOT NULL DEFAULT 0, UNIQUE (prefix, host) );
"""
CHROMIUM_EPOCH_OFFSET = 11_644_473_600_000_000  # microseconds from 1601-01-01 to 1970-01-01


def micros(day: str) -> int:
    return int(datetime.fromisoformat(day).replace(tzinfo=timezone.utc).timestamp() * 1_000_000)


def chromium_history(path: Path, visits: dict[str, list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as db:
        db.executescript(CHROMIUM_SCHEMA)
        for url, days in visits.items():
            times = [micros(d) + CHROMIUM_EPOCH_OFFSET for d in days]
            row = db.execute(
                "INSERT INTO urls (url, title, visit_count, last_visit_time) VALUES (?, ?, ?, ?)",
                (url, "a page", len(days), max(times)),
            )
            db.executemany("INSERT INTO visits (url, visit_time) VALUES (?, ?)", [(row.lastrowid, t) for t in times])


def firefox_history(path: Path, visits: dict[str, list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as db:
        db.executescript(FIREFOX_SCHEMA)
        for url, days in visits.items():
            times = [micros(d) for d in days]
            row = db.execute(
                "INSERT INTO moz_places (url, title, visit_count, last_visit_date) VALUES (?, ?, ?, ?)",
                (url, "a page", len(days), max(times)),
            )
            db.executemany(
                "INSERT INTO moz_historyvisits (place_id, visit_date, visit_type) VALUES (?, ?, 1)",
                [(row.lastrowid, t) for t in times],
            )


def audit(root: Path, tmp_path: Path, *options: str) -> dict[str, Any]:
    report = tmp_path / "report.json"
    result = run_scanner("audit", "--root", str(root), "--no-store", "-o", str(report), *options)
    assert result.returncode in (0, 1), result.stderr
    return json.loads(report.read_text())


def browsers(root: Path) -> None:
    chromium_history(
        root / "home/alice/.config/google-chrome/Default/History",
        {
            "https://chat.deepseek.com/a/chat/s/123": ["2026-11-02T09:00:00", "2026-11-20T16:30:00"],
            "https://chat.deepseek.com/": ["2026-11-01T08:00:00"],
            "https://www.google.com/search?q=deepseek+ban": ["2026-11-03T10:00:00"],  # a search, not a visit
            "https://example.org/news": ["2026-11-04T10:00:00"],
        },
    )
    firefox_history(
        root / "home/bob/.mozilla/firefox/x1y2z3.default-release/places.sqlite",
        {"https://kimi.moonshot.cn/chat/abc": ["2026-10-05T12:00:00"], "https://www.mozilla.org/": ["2026-10-01"]},
    )
    chromium_history(
        root / "Users/carol/AppData/Local/Microsoft/Edge/User Data/Profile 1/History",
        {"https://hailuoai.com/video": ["2026-09-09T09:09:09"], "https://openai.com/": ["2026-09-10T00:00:00"]},
    )


def test_visits_to_the_providers_sites_are_found_per_browser_profile_and_user_as_counts_and_dates(
    tmp_path: Path,
) -> None:
    browsers(tmp_path / "tree")
    report = audit(tmp_path / "tree", tmp_path)
    found = {(f["provider"], f["subject"], f["severity"]) for f in report["findings"]}
    assert found == {
        ("deepseek", "chat.deepseek.com", "warning"),
        ("moonshot", "kimi.moonshot.cn", "warning"),
        ("minimax", "hailuoai.com", "warning"),
    }
    deepseek = next(f for f in report["findings"] if f["provider"] == "deepseek")
    assert deepseek["evidence"][0] == (
        "Chrome's history (profile Default of user alice) at /home/alice/.config/google-chrome/Default/History "
        "shows chat.deepseek.com visited 3 times between 2026-11-01T08:00:00Z and 2026-11-20T16:30:00Z."
    )
    kept = json.dumps(report)
    assert "example.org" not in kept and "google.com/search" not in kept and "/a/chat/s/123" not in kept


def test_history_severity_and_collect_are_the_policys_to_set(tmp_path: Path) -> None:
    browsers(tmp_path / "tree")
    (tmp_path / "tree/home/alice/.bash_history").write_text("ollama pull deepseek-r1:14b\n")
    strict = tmp_path / "strict.yaml"
    strict.write_text(
        'schema_version: 1\nid: strict\nversion: "1"\ntitle: Strict\ninclude: [default]\nhistory_severity: violation\n'
    )
    assert {f["severity"] for f in audit(tmp_path / "tree", tmp_path, "--policy", str(strict))["findings"]} == {
        "violation"
    }
    private = tmp_path / "private.yaml"
    private.write_text(
        'schema_version: 1\nid: private\nversion: "1"\ntitle: Private\ninclude: [default]\n'
        "collect: {browser_history: false, shell_history: false}\n"
    )
    report = audit(tmp_path / "tree", tmp_path, "--policy", str(private))
    assert report["findings"] == []
    assert not [r for r in report["inventory"] if r["kind"] == "endpoint"]
    report = audit(tmp_path / "tree", tmp_path, "--no-browser-history")
    assert [f["subject"] for f in report["findings"]] == ["deepseek-r1:14b"]


def test_commands_in_shell_histories_that_fetch_install_or_call_a_provider_are_past_use(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    histories = {
        "home/alice/.bash_history": "ls -la\nollama pull deepseek-r1:14b\n# deepseek was banned today\ncd ~/work\n",
        "home/bob/.zsh_history": ": 1764000000:0;pip install langchain-deepseek\n: 1764000100:0;git status\n",
        "home/carol/.local/share/fish/fish_history": "- cmd: curl https://api.moonshot.cn/v1/models\n  when: 1764000200\n",
        "Users/dan/AppData/Roaming/Microsoft/Windows/PowerShell/PSReadLine/ConsoleHost_history.txt": (
            "Get-ChildItem\nnpm install -g mmx-cli\n"
        ),
    }
    for place, text in histories.items():
        (tree / place).parent.mkdir(parents=True, exist_ok=True)
        (tree / place).write_text(text)
    report = audit(tree, tmp_path)
    found = {
        (f["location"]["path"], f["location"]["line"], f["provider"], f["severity"])
        for f in report["findings"]
        if f["severity"] != "info"
    }
    assert found == {
        ("/home/alice/.bash_history", 2, "deepseek", "warning"),
        ("/home/bob/.zsh_history", 1, "deepseek", "warning"),
        ("/home/carol/.local/share/fish/fish_history", 1, "moonshot", "warning"),
        (
            "/Users/dan/AppData/Roaming/Microsoft/Windows/PowerShell/PSReadLine/ConsoleHost_history.txt",
            2,
            "minimax",
            "warning",
        ),
    }
    sources = {r["attributes"]["source"] for r in report["inventory"] if r["kind"] == "endpoint"}
    assert sources == {"shell-history"}


def test_a_history_database_that_is_not_one_is_a_gap_and_a_huge_one_stays_bounded(tmp_path: Path) -> None:
    broken = tmp_path / "tree/home/alice/.config/chromium/Default/History"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"SQLite format 3\x00" + b"\x00" * 100)
    report = audit(tmp_path / "tree", tmp_path)
    gaps = [s for s in report["scan"]["coverage"]["skipped"] if s["path"].endswith("/History")]
    assert gaps and gaps[0]["reason"].startswith("browser history unreadable")
