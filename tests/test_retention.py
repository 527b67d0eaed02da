"""Retention: ``scanner prune``, the agent's ``retention:``, and the space given back."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from conftest import Machine, run_scanner

from scanner.fleet.agent.config import load_agent_config
from scanner.store.database import open_store
from scanner.store.retention import Retention, prune


def _plant(machine: Machine, files: int, preamble: int) -> None:
    """``files`` .env files, each naming DeepSeek below ``preamble`` comment lines (the line numbers move)."""
    for n in range(files):
        path = machine.path(f"/home/u{n}/.env")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("# note\n" * preamble + f"OPENAI_BASE_URL=https://api.deepseek.com/v1\nKEY={n}\n")


def _report(machine: Machine, db: Path) -> dict:
    done = run_scanner("audit", "--root", str(machine.root), "--db", str(db), "-f", "json")
    assert done.returncode in (0, 1), done.stderr
    return dict(json.loads(done.stdout))


def _audit(machine: Machine, db: Path) -> str:
    return str(_report(machine, db)["scan"]["id"])


def _size(db: Path) -> int:
    with open_store(db) as store:
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return store.size().bytes


def test_prune_keep_last_leaves_the_store_as_small_as_one_that_only_held_those_scans(
    machine: Machine, tmp_path: Path
) -> None:
    pruned_db, fresh_db = tmp_path / "six.db", tmp_path / "two.db"
    reports = []
    for night in range(6):
        _plant(machine, 60, night)  # every finding's line moves: new contents, same findings
        reports.append(_report(machine, pruned_db))
        if night >= 4:
            _audit(machine, fresh_db)
    ids = [r["scan"]["id"] for r in reports]
    done = run_scanner("prune", "--keep-last", "2", "--db", str(pruned_db), "-f", "json")
    assert done.returncode == 0, done.stderr
    assert [s["id"] for s in json.loads(done.stdout)["removed"]] == ids[3::-1]
    listed = json.loads(run_scanner("history", "--db", str(pruned_db), "-f", "json").stdout)
    assert [s["id"] for s in listed] == ids[:3:-1]
    assert abs(_size(pruned_db) - _size(fresh_db)) <= 0.1 * _size(fresh_db)
    for report in reports[4:]:
        shown = json.loads(run_scanner("show", report["scan"]["id"], "--db", str(pruned_db), "-f", "json").stdout)
        assert {**shown, "changes": None} == {**report, "changes": None}


def test_the_scans_on_both_sides_of_a_change_and_the_latest_of_each_scope_are_kept(
    machine: Machine, tmp_path: Path
) -> None:
    db = tmp_path / "scanner.db"
    _plant(machine, 3, 0)
    before = [_audit(machine, db) for _ in range(3)]
    machine.path("/home/u0/.env").unlink()  # a finding resolved
    after = [_audit(machine, db) for _ in range(3)]
    machine.path("/srv").mkdir()
    other_scope = run_scanner("audit", "--root", str(machine.root), "--db", str(db), "-f", "json", "/srv")
    done = run_scanner("prune", "--keep-last", "1", "--db", str(db), "-f", "json")
    assert {s["id"] for s in json.loads(done.stdout)["removed"]} == {*before[:2], after[1]}
    kept = [s["id"] for s in json.loads(run_scanner("history", "--db", str(db), "-f", "json").stdout)]
    assert kept == [json.loads(other_scope.stdout)["scan"]["id"], after[2], after[0], before[2]]
    diff = json.loads(run_scanner("diff", before[2], after[0], "--db", str(db), "-f", "json").stdout)
    assert [f["location"]["path"] for f in diff["resolved"]] == ["/home/u0/.env"]


def test_older_than_removes_only_old_scans_and_a_dry_run_removes_nothing(machine: Machine, tmp_path: Path) -> None:
    db = tmp_path / "scanner.db"
    _plant(machine, 3, 0)
    ids = [_audit(machine, db) for _ in range(4)]
    with open_store(db) as store:
        now = datetime.now(timezone.utc)
        assert prune(store, Retention(older_than_days=1), now=now).scans == ()
        later = now + timedelta(days=2)
        going = prune(store, Retention(older_than_days=1), dry_run=True, now=later)
        assert [s.id for s in going.scans] == ids[2::-1] and len(store.history()) == 4
        assert [s.id for s in prune(store, Retention(keep_last=2, older_than_days=1), now=later).scans] == ids[1::-1]
        assert [s.id for s in store.history()] == ids[:1:-1]
    table = run_scanner("prune", "--older-than", "0", "--dry-run", "--db", str(db)).stdout
    assert "Would remove these 1 scan(s)" in table and ids[2][:8] in table


def test_prune_needs_a_limit_and_never_creates_a_store(tmp_path: Path) -> None:
    done = run_scanner("prune", "--db", str(tmp_path / "scanner.db"))
    assert done.returncode == 2 and "--keep-last N, --older-than DAYS" in done.stderr
    done = run_scanner("prune", "--keep-last", "3", "--db", str(tmp_path / "scanner.db"))
    assert done.returncode == 2 and "no scans recorded yet" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_history_shows_the_store_size_and_what_retention_would_remove(machine: Machine, tmp_path: Path) -> None:
    db = tmp_path / "scanner.db"
    _audit(machine, db)
    table = run_scanner("history", "--db", str(db)).stdout
    assert "Store: " in table and " MB (file cache: 0 entries" in table
    assert "Retention (keep 90 days, and at least the last 10 scans) would remove nothing" in table


def test_the_agent_configuration_prunes_after_each_audit(machine: Machine, tmp_path: Path) -> None:
    db, config = tmp_path / "scanner.db", tmp_path / "agent.yaml"
    config.write_text(f"root: {machine.root}\ndb: {db}\nretention: {{keep_last: 2, older-than: 0}}\n")
    for _ in range(4):
        assert run_scanner("audit", "--config", str(config)).returncode == 0
    assert len(json.loads(run_scanner("history", "--db", str(db), "-f", "json").stdout)) == 2
    config.write_text(f"root: {machine.root}\ndb: {db}\n")  # the default: 90 days and at least 10 scans
    assert run_scanner("audit", "--config", str(config)).returncode == 0
    assert len(json.loads(run_scanner("history", "--db", str(db), "-f", "json").stdout)) == 3
    config.write_text("")
    options = {"keep_last": "keep_last", "older_than": "older_than"}
    assert load_agent_config(config, options, ()) == {"keep_last": 10, "older_than": 90}


def test_a_wrong_retention_setting_names_the_file_line_and_key(machine: Machine, tmp_path: Path) -> None:
    config = tmp_path / "agent.yaml"
    for text, message in (
        ("retention: 10\n", ":2: retention: expected a mapping"),
        ("retention:\n  keep_last: 0\n", ":3: retention.keep_last: expected a whole number"),
        ("retention:\n  keep: 3\n", ":3: retention.keep: unknown key"),
        ("keep_last: 3\n", ":2: keep_last: unknown option"),
    ):
        config.write_text(f"root: {machine.root}\n{text}")
        done = run_scanner("audit", "--config", str(config))
        assert done.returncode == 2 and f"{config}{message}" in done.stderr, done.stderr
