"""The store: scans recorded, diffed, shown again; migrations; crash safety; the per-file cache."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
import sqlite_utils
from conftest import SCANNER, Machine, run_scanner, write_dist_info
from modelkit import write_gguf

from scanner.audit import AuditOptions, audit
from scanner.errors import StoreError
from scanner.fsview import RootFS
from scanner.policy.loader import load_policy
from scanner.sqlite import connect, migrate
from scanner.store.database import open_store, scope_of
from scanner.store.migrations import MIGRATIONS
from scanner.vocabulary import SkipKind


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _audit_json(machine: Machine, db: Path, *extra: str) -> dict:
    done = run_scanner("audit", "--root", str(machine.root), "--db", str(db), "-f", "json", *extra)
    assert done.returncode in (0, 1), done.stderr
    return json.loads(done.stdout)


def test_diff_shows_exactly_the_findings_that_appeared_and_disappeared(machine: Machine, tmp_path: Path) -> None:
    db = tmp_path / "scanner.db"
    _write(machine.path("/home/alice/app/.env"), "OPENAI_BASE_URL=https://api.deepseek.com/v1\n")
    _write(machine.path("/home/bob/.env"), "ANTHROPIC_BASE_URL=https://api.minimaxi.com/anthropic\n")
    first = _audit_json(machine, db)
    assert "changes" not in first, "nothing to compare the first scan with"
    # Bob's file gains lines above the finding (same finding, new line number); Alice's goes; Carol's appears.
    _write(machine.path("/home/bob/.env"), "# moved down\n\nANTHROPIC_BASE_URL=https://api.minimaxi.com/anthropic\n")
    machine.path("/home/alice/app/.env").unlink()
    _write(machine.path("/srv/carol/client.py"), 'client = OpenAI(base_url="https://api.moonshot.cn/v1")\n')
    second = _audit_json(machine, db)

    done = run_scanner("diff", "--db", str(db), "-f", "json")
    assert done.returncode == 0, done.stderr
    diff = json.loads(done.stdout)
    assert (diff["old_scan"]["id"], diff["new_scan"]["id"]) == (first["scan"]["id"], second["scan"]["id"])
    assert [(f["provider"], f["location"]["path"]) for f in diff["new"]] == [("moonshot", "/srv/carol/client.py")]
    assert [(f["provider"], f["location"]["path"]) for f in diff["resolved"]] == [("deepseek", "/home/alice/app/.env")]
    assert [(f["provider"], f["location"]["line"]) for f in diff["unchanged"]] == [("minimax", 3)]
    assert second["changes"]["previous_scan"]["id"] == first["scan"]["id"]
    assert {k: len(v) for k, v in second["changes"].items() if k != "previous_scan"} == {
        "new": 1,
        "resolved": 1,
        "unchanged": 1,
    }
    table = run_scanner("diff", first["scan"]["id"][:8], second["scan"]["id"][:8], "--db", str(db)).stdout
    assert "1 new, 1 resolved, 1 unchanged" in table and "/srv/carol/client.py:1" in table


def test_history_lists_scans_most_recent_first_with_their_verdicts(machine: Machine, tmp_path: Path) -> None:
    db = tmp_path / "scanner.db"
    clean = _audit_json(machine, db)
    _write(machine.path("/home/alice/.env"), "OPENAI_BASE_URL=https://api.deepseek.com\n")
    dirty = _audit_json(machine, db)
    rows = json.loads(run_scanner("history", "--db", str(db), "-f", "json").stdout)
    assert [r["id"] for r in rows] == [dirty["scan"]["id"], clean["scan"]["id"]]
    assert [(r["compliant"], r["violations"]) for r in rows] == [(False, 1), (True, 0)]
    table = run_scanner("history", "--db", str(db)).stdout
    assert table.index("NOT COMPLIANT") < table.index(" COMPLIANT ")


def test_show_renders_a_stored_scan_exactly_as_it_was_reported(machine: Machine, tmp_path: Path) -> None:
    db = tmp_path / "scanner.db"
    write_dist_info(machine.venv("/opt/agent"), "langchain-deepseek", "1.1.1")
    _write(machine.path("/home/alice/.env"), "DEEPSEEK_API_KEY=sk-0123456789abcdef0123456789abcdef\n")
    _audit_json(machine, db)
    _write(machine.path("/home/alice/.bashrc"), "export OPENAI_BASE_URL=https://api.deepseek.com\n")
    report = _audit_json(machine, db, "--exclude", "/nothing-*")
    shown = json.loads(run_scanner("show", report["scan"]["id"][:6], "--db", str(db), "-f", "json").stdout)
    assert shown == report
    assert (
        report["scan"]["resources"]["peak_memory_bytes"] > 10_000_000 and report["scan"]["resources"]["cpu_seconds"] > 0
    )
    table = run_scanner("show", report["scan"]["id"], "--db", str(db), "-f", "table").stdout
    assert table.startswith("NOT COMPLIANT") and "1 new, 0 resolved, 2 unchanged" in table


def test_an_unchanged_rescan_adds_links_not_copies(machine: Machine, tmp_path: Path) -> None:
    db = tmp_path / "scanner.db"
    for n in range(40):
        _write(machine.path(f"/home/u{n}/.env"), f"OPENAI_BASE_URL=https://api.deepseek.com/v1\nKEY={n}\n")
    _audit_json(machine, db)
    counts = "select (select count(*) from findings), (select count(*) from records), (select count(*) from scans)"
    with sqlite3.connect(db) as conn:
        before = conn.execute(counts).fetchone()
    _audit_json(machine, db)
    with sqlite3.connect(db) as conn:
        assert conn.execute(counts).fetchone() == (*before[:2], 2)
        assert conn.execute("select count(*) from scan_findings").fetchone()[0] == 2 * before[0]


def test_unknown_or_ambiguous_scan_ids_are_clear_errors(machine: Machine, tmp_path: Path) -> None:
    db = tmp_path / "scanner.db"
    _audit_json(machine, db)
    for args, message in (
        (("show", "ffffffff"), "no scan with id 'ffffffff'"),
        (("show", "ab"), "too short"),
        (("diff",), "has no earlier scan of the same host and paths"),
    ):
        done = run_scanner(*args, "--db", str(db))
        assert done.returncode == 2 and message in done.stderr, done.stderr


def test_a_scan_of_other_paths_is_not_compared_with_the_whole_machine(machine: Machine, tmp_path: Path) -> None:
    db = tmp_path / "scanner.db"
    _write(machine.path("/home/alice/.env"), "OPENAI_BASE_URL=https://api.deepseek.com\n")
    _audit_json(machine, db)
    machine.path("/srv").mkdir()
    part = run_scanner("audit", "--root", str(machine.root), "--db", str(db), "-f", "json", "/srv")
    assert "changes" not in json.loads(part.stdout)


def test_no_store_leaves_nothing_behind(machine: Machine, tmp_path: Path) -> None:
    db = tmp_path / "scanner.db"
    run_scanner("audit", "--root", str(machine.root), "--db", str(db), "--no-store")
    assert not db.exists()


def test_the_store_is_private_to_its_owner(machine: Machine, tmp_path: Path) -> None:
    db = tmp_path / "new" / "scanner.db"
    _audit_json(machine, db)
    assert (db.parent.stat().st_mode & 0o777, db.stat().st_mode & 0o777) == (0o700, 0o600)


def test_an_older_store_is_upgraded_and_keeps_its_scans(machine: Machine, tmp_path: Path) -> None:
    db_path = tmp_path / "scanner.db"
    old = connect(db_path, "store")
    migrate(old, str(db_path), MIGRATIONS[:1], "store")  # as the first release left it
    old.close()
    with open_store(db_path) as store:  # a first scan with the old schema's tables...
        report = audit(AuditOptions(root=str(machine.root)), load_policy([]), store).report
    with open_store(db_path) as store:
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        names = [r[0] for r in store.db.execute("select name from migrations order by number")]
        assert names == [name for name, _ in MIGRATIONS]
        assert store.load(report["scan"]["id"])["scan"]["id"] == report["scan"]["id"]


def _save_as_schema_5(db: sqlite_utils.Database, report: dict) -> None:
    """What the scanner of store schema 5 wrote for one scan: its findings copied in full."""
    scan, summary = report["scan"], report["summary"]
    header = {k: v for k, v in report.items() if k not in ("inventory", "findings")}
    header["scan"] = {**scan, "coverage": {k: v for k, v in scan["coverage"].items() if k != "skipped"}}
    dumps = functools.partial(json.dumps, separators=(",", ":"))
    db["scans"].insert(
        {
            "id": scan["id"],
            "host": scan["host"],
            "scope": scope_of(report),
            "started": scan["started"],
            "finished": scan["finished"],
            "scanner_version": scan["scanner_version"],
            "policy": ", ".join(f"{p['id']} {p['version']}" for p in scan["policy"]),
            "compliant": int(summary["compliant"]),
            "complete": int(summary["complete"]),
            "violations": summary["violations"],
            "warnings": summary["warnings"],
            "infos": summary["infos"],
            "records": len(report["inventory"]),
            "document": dumps(header),
        }
    )
    for n, item in enumerate(report["inventory"]):
        text = dumps(item)
        digest = hashlib.sha256(text.encode()).hexdigest()
        row = {"kind": item["kind"], "name": item["name"], "version": item["version"], "path": None, "data": text}
        db["records"].insert({"hash": digest, **row}, ignore=True)
        db["scan_records"].insert({"scan_id": scan["id"], "position": n, "record_hash": digest})
    for n, f in enumerate(report["findings"]):
        columns = ("id", "fingerprint", "rule_id", "severity", "confidence", "provider", "kind", "subject")
        row = {k: f[k] for k in columns} | {"path": f["location"]["path"], "line": f["location"]["line"]}
        db["findings"].insert({"scan_id": scan["id"], "position": n, **row, "waived": 0, "data": dumps(f)})
    for n, skipped in enumerate(scan["coverage"]["skipped"]):
        row = {"path": skipped["path"], "kind": skipped["kind"], "data": dumps(skipped)}
        db["coverage"].insert({"scan_id": scan["id"], "position": n, **row})


def test_a_store_of_full_copies_is_converted_and_shows_every_old_scan_unchanged(
    machine: Machine, tmp_path: Path
) -> None:
    """Scans written by store schema 5 (findings copied per scan) come back whole through ``show``, with
    their changes; a finding they shared is stored once afterwards."""
    db_path = tmp_path / "scanner.db"
    opened = connect(db_path, "store")
    migrate(opened, str(db_path), MIGRATIONS[:5], "store")
    old = sqlite_utils.Database(opened.conn)  # what the scanner of schema 5 wrote with
    write_dist_info(machine.venv("/opt/agent"), "langchain-deepseek", "1.1.1")
    _write(machine.path("/home/alice/.env"), "OPENAI_BASE_URL=https://api.deepseek.com/v1\n")
    os.mkfifo(machine.path("/home/alice/app.env"))
    reports = []
    for step in range(3):
        if step == 1:
            _write(machine.path("/srv/carol/client.py"), 'client = OpenAI(base_url="https://api.moonshot.cn/v1")\n')
        reports.append(audit(AuditOptions(root=str(machine.root)), load_policy([])).report)
        with old.conn:
            _save_as_schema_5(old, reports[-1])
    old.close()
    assert any(r["scan"]["coverage"]["skipped"] for r in reports)

    with open_store(db_path) as store:
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        distinct = {json.dumps(f, sort_keys=True) for r in reports for f in r["findings"]}
        assert store.db.execute("select count(*) from findings").fetchone()[0] == len(distinct) == 3
    for n, report in enumerate(reports):
        shown = json.loads(run_scanner("show", report["scan"]["id"], "--db", str(db_path), "-f", "json").stdout)
        changes = shown.pop("changes", None)
        assert shown == report
        assert (changes or {}).get("previous_scan", {}).get("id") == (reports[n - 1]["scan"]["id"] if n else None)
    diff = json.loads(run_scanner("diff", "--db", str(db_path), "-f", "json").stdout)
    assert (diff["old_scan"]["id"], len(diff["new"]), len(diff["unchanged"])) == (reports[1]["scan"]["id"], 0, 3)


def test_a_store_from_a_newer_scanner_is_refused(machine: Machine, tmp_path: Path) -> None:
    db = tmp_path / "scanner.db"
    _audit_json(machine, db)
    with sqlite3.connect(db) as conn:
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 5}")
    for args in (("audit", "--root", str(machine.root)), ("history",)):
        done = run_scanner(*args, "--db", str(db))
        assert done.returncode == 2 and done.stdout.startswith("COMPLIANT" if args[0] == "audit" else "")
        assert f"{db}: this store was written by a newer scanner (store schema {len(MIGRATIONS) + 5}" in done.stderr


def test_a_damaged_store_is_a_clear_error_but_the_report_is_still_written(machine: Machine, tmp_path: Path) -> None:
    db = tmp_path / "scanner.db"
    db.write_bytes(b"this is not a database" * 100)
    done = run_scanner("history", "--db", str(db))
    assert done.returncode == 2 and f"{db}: cannot read the store" in done.stderr
    done = run_scanner("audit", "--root", str(machine.root), "--db", str(db), "-f", "json")
    assert done.returncode == 2 and json.loads(done.stdout)["summary"]["compliant"] is True
    assert "--db PATH" in done.stderr and "--no-store" in done.stderr
    with open_store(tmp_path / "good.db") as store:
        store.db.execute(  # a store that cannot take the scan
            "create trigger full before insert on scans begin select raise(abort, 'database or disk is full'); end"
        )
        outcome = audit(AuditOptions(root=str(machine.root)), load_policy([]), store)
    assert outcome.report["summary"]["compliant"] is True
    assert isinstance(outcome.store_error, StoreError) and "disk is full" in str(outcome.store_error)


def test_a_store_nobody_can_write_still_gives_the_report_and_says_what_to_do(machine: Machine, tmp_path: Path) -> None:
    """A folder the user cannot create a store in, and a read-only store: the report, then exit 2 naming
    --db and --no-store; ``history`` still reads the read-only store."""
    locked = tmp_path / "locked"
    locked.mkdir()
    _audit_json(machine, locked / "scanner.db")
    locked.chmod(0o555)
    (locked / "scanner.db").chmod(0o444)
    nowhere = tmp_path / "nowhere"
    nowhere.mkdir(mode=0o555)
    try:
        for db in (locked / "scanner.db", nowhere / "scanner.db"):
            done = run_scanner("audit", "--root", str(machine.root), "--db", str(db), unprivileged=True)
            assert done.returncode == 2 and done.stdout.startswith("COMPLIANT"), (db, done.stderr)
            assert "--db PATH" in done.stderr and "--no-store" in done.stderr
        listed = run_scanner("history", "--db", str(locked / "scanner.db"), "-f", "json", unprivileged=True)
        assert listed.returncode == 0 and len(json.loads(listed.stdout)) == 1
    finally:
        locked.chmod(0o755)


def test_a_full_disk_still_gives_the_report(machine: Machine, tmp_path: Path) -> None:
    """The store's file may not grow past a few blocks (``RLIMIT_FSIZE``): recording fails as on a full disk."""
    import resource

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (40_000, 40_000))

    done = subprocess.run(
        [SCANNER, "audit", "--root", str(machine.root), "--db", str(tmp_path / "full.db"), "-f", "json"],
        capture_output=True,
        text=True,
        preexec_fn=small_files,
        check=False,
    )
    assert done.returncode == 2 and json.loads(done.stdout)["summary"]["compliant"] is True
    assert "was not recorded" in done.stderr and "--no-store" in done.stderr


def test_reading_commands_never_create_a_store(tmp_path: Path) -> None:
    db = tmp_path / "scanner.db"
    assert run_scanner("history", "--db", str(db)).stdout == "No scans recorded yet.\n"
    for args in (("diff",), ("show", "abc")):
        done = run_scanner(*args, "--db", str(db))
        assert done.returncode == 2 and "no scans recorded yet" in done.stderr
    assert not db.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_a_scan_killed_mid_write_leaves_earlier_scans_intact(machine: Machine, tmp_path: Path) -> None:
    """SIGKILL at many points of a scan whose recording takes a while: the store always opens, passes
    an integrity check, and holds every earlier scan whole; a scan is either all there or absent."""
    db = tmp_path / "scanner.db"
    site = machine.venv("/opt/big")
    for n in range(1500):
        (site / f"pkg{n}-1.0.dist-info").mkdir()
        (site / f"pkg{n}-1.0.dist-info" / "METADATA").write_text(f"Metadata-Version: 2.1\nName: pkg{n}\nVersion: 1.0\n")
    args = [SCANNER, "audit", "--root", str(machine.root), "--db", str(db), "-o", os.devnull]
    started = time.monotonic()
    subprocess.run(args, check=True, timeout=300)  # the scan every later check must keep
    duration = time.monotonic() - started
    kept = 1
    for step in range(8):
        child = subprocess.Popen(args)
        time.sleep(duration * (0.4 + 0.1 * step))
        child.send_signal(signal.SIGKILL)
        child.wait()
        with open_store(db) as store:
            assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            scans = store.history()
            assert len(scans) >= kept
            kept = len(scans)
            for scan in scans:  # all or nothing
                report = store.load(scan.id)
                assert len(report["inventory"]) == scan.records == 1500


@pytest.mark.usefixtures("settled_files")
def test_unchanged_model_headers_are_answered_from_the_file_cache(machine: Machine, tmp_path: Path) -> None:
    target = machine.path("/srv/models/assistant.gguf")
    target.parent.mkdir(parents=True)
    write_gguf(target, name="Assistant 7B", tokens=[f"t{n}" for n in range(2000)])
    options = AuditOptions(root=str(machine.root))
    with open_store(tmp_path / "scanner.db") as store:
        first = audit(options, load_policy([]), store).report
        assert [m["name"] for m in first["inventory"]] == ["Assistant 7B"]
        with store.db.conn:  # plant a different name: only a cache hit can report it
            (data,) = store.db.execute("select data from file_facts where kind = 'weight-facts-2'").fetchone()
            planted = json.loads(data)
            planted["clues"] = [["name", "Planted 1B", "general.name", None]]
            store.db.execute("update file_facts set data = ?", [json.dumps(planted)])
        assert [m["name"] for m in audit(options, load_policy([]), store).report["inventory"]] == ["Planted 1B"]
        os.utime(target)  # changed: parsed again
        assert [m["name"] for m in audit(options, load_policy([]), store).report["inventory"]] == ["Assistant 7B"]


@pytest.mark.parametrize("renamed", ["/srv/models/renamed.gguf", "/srv/other/model-file.gguf"])
def test_a_renamed_model_file_keeps_its_facts_but_reports_its_new_path(
    machine: Machine, tmp_path: Path, renamed: str
) -> None:
    target = machine.path("/srv/models/assistant.gguf")
    target.parent.mkdir(parents=True)
    write_gguf(target, name="Assistant 7B")
    options = AuditOptions(root=str(machine.root))
    with open_store(tmp_path / "scanner.db") as store:
        audit(options, load_policy([]), store)
        machine.path(renamed).parent.mkdir(parents=True, exist_ok=True)
        target.rename(machine.path(renamed))
        (model,) = audit(options, load_policy([]), store).report["inventory"]
    assert model["location"]["path"] == renamed
    assert {c["path"] for c in model["attributes"]["clues"]} == {renamed}


@pytest.mark.usefixtures("settled_files")
def test_the_file_cache_drops_files_that_are_gone_and_keeps_those_out_of_the_scans_paths(
    machine: Machine, tmp_path: Path
) -> None:
    for name in ("kept", "deleted", "replaced"):
        target = machine.path(f"/srv/{name}/model.gguf")
        target.parent.mkdir(parents=True)
        write_gguf(target, name=f"{name} 7B")
    db = tmp_path / "scanner.db"
    _audit_json(machine, db)
    machine.path("/srv/deleted/model.gguf").unlink()
    replaced = machine.path("/srv/replaced/model.gguf")
    replaced.rename(replaced.with_suffix(".old"))
    write_gguf(replaced, name="replaced 7B")
    replaced.with_suffix(".old").unlink()
    machine.path("/home").mkdir()
    _audit_json(machine, db, "/home")  # none of the three is in this scan's paths
    with sqlite3.connect(db) as conn:
        paths = sorted(p for (p,) in conn.execute("select path from file_facts"))
    assert paths == [str(machine.path("/srv/kept/model.gguf"))]
    table = run_scanner("history", "--db", str(db)).stdout
    assert "(file cache: 1 entries, " in table


@pytest.mark.usefixtures("settled_files")
def test_files_found_quiet_are_passed_over_until_they_change(machine: Machine, tmp_path: Path) -> None:
    """A file people wrote that named no provider is not read again while it is unchanged; a change to
    its content is seen even when its size and modification time are put back (its change time tells)."""
    quiet = machine.path("/home/alice/app/settings.py")
    _write(quiet, 'BASE_URL = "https://api.examples.com/v1"\n')
    machine.path("/home/alice/app/logo.dat").write_bytes(b"\0\1\2" * 100)
    _write(machine.path("/home/alice/app/client.py"), 'BASE_URL = "https://api.deepseek.com/v1"\n')
    db = tmp_path / "scanner.db"
    first = _audit_json(machine, db)
    assert [f["location"]["path"] for f in first["findings"]] == ["/home/alice/app/client.py"]
    with open_store(db) as store:
        assert store.size().quiet_files == 2, "the settings and the binary file; not the file naming DeepSeek"
    again = _audit_json(machine, db)
    assert [i["id"] for i in again["inventory"]] == [i["id"] for i in first["inventory"]]
    with open_store(db) as store:
        assert store.size().quiet_files == 2, "passed over, and still remembered"

    before = quiet.stat()
    _write(quiet, 'BASE_URL = "https://api.deepseek.com/v1"\n')  # as long as before
    os.utime(quiet, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (quiet.stat().st_size, quiet.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    found = sorted(f["location"]["path"] for f in _audit_json(machine, db)["findings"])
    assert found == ["/home/alice/app/client.py", "/home/alice/app/settings.py"]
    assert "1 files passed over while unchanged" in run_scanner("history", "--db", str(db)).stdout


@pytest.mark.usefixtures("settled_files")
def test_an_env_file_that_set_nothing_is_not_read_again_until_it_changes(
    machine: Machine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = machine.path("/srv/app/.env")
    _write(env, "LANG=C\nWORKERS=4\n")
    read: list[str] = []
    read_with_status = RootFS.read_with_status
    monkeypatch.setattr(
        RootFS, "read_with_status", lambda fs, path, cap: read.append(path) or read_with_status(fs, path, cap)
    )
    options = AuditOptions(root=str(machine.root))
    with open_store(tmp_path / "scanner.db") as store:
        assert audit(options, load_policy([]), store).report["findings"] == []
        assert str(env) in read
        read.clear()
        assert audit(options, load_policy([]), store).report["findings"] == []
        assert str(env) not in read, "found to set nothing, unchanged: passed over"
        _write(env, "OPENAI_BASE_URL=https://api.deepseek.com/v1\n")
        found = audit(options, load_policy([]), store).report["findings"]
    assert "deepseek" in {f["provider"] for f in found}


@pytest.mark.usefixtures("settled_files")
def test_an_unchanged_model_file_is_not_even_opened_by_a_rescan(
    machine: Machine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = write_gguf(machine.path("/srv/models/assistant.gguf"), name="Assistant 7B")
    opened: list[str] = []
    open_regular = RootFS.open_regular
    monkeypatch.setattr(RootFS, "open_regular", lambda fs, path: opened.append(path) or open_regular(fs, path))
    options = AuditOptions(root=str(machine.root))
    with open_store(tmp_path / "scanner.db") as store:
        first = audit(options, load_policy([]), store).report["inventory"]
        assert str(target) in opened
        opened.clear()
        assert audit(options, load_policy([]), store).report["inventory"] == first
        assert str(target) not in opened, "its facts come from the store, by the status the walk's listing gave"


@pytest.mark.usefixtures("settled_files")
@pytest.mark.parametrize("live", [False, True], ids=["under --root", "below /, through a link too"])
def test_a_file_without_an_extension_that_holds_no_model_is_not_opened_again_until_it_changes(
    machine: Machine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, live: bool
) -> None:
    """The sniffer's verdict on a large file without an extension (a program, a database) is kept like the
    text scan's: unchanged, it is passed over unopened; changed into a model, it is a model."""
    tool, blob = machine.path("/opt/app/tool"), machine.path("/srv/blob.bin")
    for path in (tool, blob):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\x7fELF" + bytes(2 << 20))
    machine.path("/opt/app/linked").symlink_to(blob if live else "../../srv/blob.bin")
    sniffed = [str(tool), str(machine.path("/opt/app/linked"))] if live else [str(tool)]
    opened: list[str] = []
    open_regular = RootFS.open_regular
    monkeypatch.setattr(RootFS, "open_regular", lambda fs, path: opened.append(path) or open_regular(fs, path))
    options = AuditOptions(paths=(str(machine.path("/opt/app")),)) if live else AuditOptions(root=str(machine.root))
    with open_store(tmp_path / "scanner.db") as store:
        assert audit(options, load_policy([]), store).report["inventory"] == []
        assert set(sniffed) <= set(opened)
        opened.clear()
        assert audit(options, load_policy([]), store).report["inventory"] == []
        assert not set(sniffed) & set(opened), "passed over: the same file, unchanged"
        real = write_gguf(tmp_path / "x.gguf", arch="qwen2", name="x", pre="deepseek-r1-qwen")
        with open(tool, "r+b") as handle:
            handle.write(real.read_bytes())
        found = audit(options, load_policy([]), store).report
    assert [m["attributes"]["format"] for m in found["inventory"]] == ["gguf"]


@pytest.mark.usefixtures("settled_files")
def test_an_installed_package_unchanged_since_the_last_scan_is_not_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Below a root of ``/`` a distribution's metadata and installer are looked up by their status; a
    change to either is read again."""
    site = tmp_path / "venv" / "lib" / "python3.11" / "site-packages"
    folder = write_dist_info(site, "langchain-deepseek", "0.1.0", summary="DeepSeek for LangChain", installer="pip")
    opened: list[str] = []
    open_regular = RootFS.open_regular
    monkeypatch.setattr(RootFS, "open_regular", lambda fs, path: opened.append(path) or open_regular(fs, path))

    def packages() -> list[tuple[str, str, str]]:
        report = audit(AuditOptions(paths=(str(site),)), load_policy([]), store).report
        return [(p["name"], p["version"], p["attributes"]["installer"]) for p in report["inventory"]]

    with open_store(tmp_path / "scanner.db") as store:
        first = packages()
        assert first == [("langchain-deepseek", "0.1.0", "pip")]
        assert str(folder / "METADATA") in opened
        opened.clear()
        assert packages() == first
        assert not [path for path in opened if path.startswith(str(folder))], "taken from the store"
        (folder / "INSTALLER").write_text("uv\n")
        assert packages() == [("langchain-deepseek", "0.1.0", "uv")]
        metadata = (folder / "METADATA").read_text().replace("Version: 0.1.0", "Version: 0.2.0")
        (folder / "METADATA").write_text(metadata)
        assert packages() == [("langchain-deepseek", "0.2.0", "uv")]


@pytest.mark.usefixtures("settled_files")
def test_a_package_folder_swapped_while_it_is_read_is_not_remembered_as_what_was_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A user who swaps a clean package's folder in while the scanner reads (and back) must not get the clean
    metadata kept under the banned package's files: what is kept is keyed by the file actually read."""
    site = tmp_path / "venv" / "lib" / "python3.11" / "site-packages"
    banned = write_dist_info(site, "langchain-deepseek", "0.1.0")
    clean = write_dist_info(tmp_path / "elsewhere", "requests", "2.0")
    read_with_status = RootFS.read_with_status
    swaps = [True]

    def racing(fs: RootFS, path: str, cap: int) -> tuple[bytes, bool, os.stat_result]:
        if swaps and path == str(banned / "METADATA"):  # the attacker wins the race once
            swaps.clear()
            banned.rename(tmp_path / "parked")
            clean.rename(banned)
            try:
                return read_with_status(fs, path, cap)
            finally:
                banned.rename(clean)
                (tmp_path / "parked").rename(banned)
        return read_with_status(fs, path, cap)

    monkeypatch.setattr(RootFS, "read_with_status", racing)
    with open_store(tmp_path / "scanner.db") as store:
        names = [
            [p["name"] for p in audit(AuditOptions(paths=(str(site),)), load_policy([]), store).report["inventory"]]
            for _ in range(2)
        ]
    assert names == [["requests"], ["langchain-deepseek"]], "the race fooled one scan, and only that one"


@pytest.mark.usefixtures("settled_files")
def test_what_looks_like_a_key_is_judged_the_same_in_a_rescan(tmp_path: Path) -> None:
    """A name or summary that looks like a key is masked in the report; what the next scan judges is the
    file itself, never a masked copy of it (``xai-deepseek-…`` masked is no longer a DeepSeek package)."""
    site = tmp_path / "venv" / "lib" / "python3.11" / "site-packages"
    write_dist_info(site, "xai-deepseek-inference-client", "1.0", summary="client for sk-deepseek-chat-wrapper-lib")
    with open_store(tmp_path / "scanner.db") as store:
        scans = [audit(AuditOptions(paths=(str(site),)), load_policy([]), store).report for _ in range(3)]
    judged = [sorted((f["rule_id"], f["provider"]) for f in scan["findings"]) for scan in scans]
    assert judged[0] and judged[1] == judged[2] == judged[0]
    assert [scan.get("changes", {}).get("resolved") for scan in scans[1:]] in ([[], []], [None, None])


def test_file_facts_of_a_kind_no_collector_asks_for_are_never_decoded(machine: Machine, tmp_path: Path) -> None:
    """After an upgrade most entries are of kinds the new build does not ask for: one that is not even JSON
    costs nothing and breaks nothing."""
    db = tmp_path / "scanner.db"
    _write(machine.path("/home/alice/.env"), "OPENAI_BASE_URL=https://api.deepseek.com/v1\n")
    first = _audit_json(machine, db)
    with sqlite3.connect(db) as conn:
        conn.execute(
            "insert into file_facts (device, inode, kind, size, mtime_ns, ctime_ns, data, seen, path) "
            "values (1, 2, 'an older build', 3, 4, 5, '{not json', '2026-12-06T00:00:00+00:00', '/nowhere')"
        )
    again = _audit_json(machine, db)
    assert [f["fingerprint"] for f in again["findings"]] == [f["fingerprint"] for f in first["findings"]]


def test_a_file_found_quiet_is_read_again_under_its_new_name_or_another_search() -> None:
    from scanner.store.filecache import StoreFileCache

    st = os.stat(__file__)
    cache = StoreFileCache({})
    cache.found_nothing("text policy-1", "/srv/app/config.py", st)
    reloaded = StoreFileCache({}, cache.quiet_files())
    assert reloaded.quiet("text policy-1", "/srv/app/config.py", st)
    assert not reloaded.quiet("text policy-2", "/srv/app/config.py", st), "another policy looks for other names"
    assert not reloaded.quiet("text policy-1", "/srv/app/config.yaml", st), "a file's name chooses how it is read"
    assert reloaded.quiet_files() == cache.quiet_files(), "written back: the files found quiet, read or not"


def test_a_policy_that_bans_another_provider_reads_quiet_files_again(machine: Machine, tmp_path: Path) -> None:
    _write(machine.path("/srv/app/config.py"), 'PROVIDER_URL = "https://api.acme-ai.example/v1"\n')
    policy = tmp_path / "site.yaml"
    policy.write_text(
        "schema_version: 1\nid: site\nversion: '1'\ntitle: Site bans\ninclude: [default]\nproviders:\n"
        "  - id: acme-ai\n    name: Acme AI\n    severity: violation\n    reason: Banned by memo 12.\n"
        "    sources: [memo]\n    endpoints:\n      - {host: api.acme-ai.example, source: memo}\n"
        "sources:\n  memo: {title: Memo 12, date: 2026-12-01, urls: ['https://example.org/memo-12'], "
        "confidence: verified, kind: vendor-documentation}\n"
    )
    db = tmp_path / "scanner.db"
    assert _audit_json(machine, db)["findings"] == []
    found = _audit_json(machine, db, "--policy", str(policy))["findings"]
    assert [f["location"]["path"] for f in found] == ["/srv/app/config.py"]


NAMING_FILES = {
    "/home/alice/app/client.py": (
        "import os\nimport openai\n\n"
        'client = openai.OpenAI(base_url="https://api.deepseek.com/v1", api_key=os.environ["DEEPSEEK_API_KEY"])\n'
        '# we used to call "https://api.moonshot.cn/v1" here\n'
    ),
    "/home/alice/app/config.yaml": "llm:\n  model: deepseek-ai/DeepSeek-R1-Distill-Qwen-32B\n  provider: deepseek\n",
    "/home/alice/bin/ask.sh": "#!/bin/sh\nexport MOONSHOT_API_KEY=sk-7f3a9b2c4d5e6f708192a3b4c5d6e7f8\ncurl https://api.moonshot.cn/v1/chat\n",
    "/home/alice/app/analysis.ipynb": json.dumps(
        {
            "cells": [
                {
                    "cell_type": "code",
                    "source": ["from openai import OpenAI\n", 'OpenAI(base_url="https://api.minimax.io/v1")\n'],
                }
            ]
        }
    ),
    "/home/alice/app/config.json": json.dumps(
        {"model_type": "qwen2", "_name_or_path": "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B"}
    ),
}


@pytest.mark.usefixtures("settled_files")
def test_a_re_scan_takes_what_unchanged_files_named_from_the_store_and_reports_the_same(
    machine: Machine, tmp_path: Path
) -> None:
    for place, text in NAMING_FILES.items():
        _write(machine.path(place), text)
    db = tmp_path / "scanner.db"
    first, again = _audit_json(machine, db), _audit_json(machine, db)
    assert first["findings"], "the files name banned providers"
    for section in ("inventory", "findings"):
        assert again[section] == first[section]
    assert again["scan"]["coverage"]["skipped"] == first["scan"]["coverage"]["skipped"]

    client = machine.path("/home/alice/app/client.py")
    with sqlite3.connect(db) as conn:  # plant another host: only taking the file's records from the store reports it
        ((kind, data),) = conn.execute(
            "select kind, data from file_facts where path = ? and kind like 'text-collector %'", [str(client)]
        ).fetchall()
        conn.execute(
            "update file_facts set data = ? where kind = ?",
            [data.replace("api.deepseek.com", "api.planted.test"), kind],
        )
    hosts = {i["attributes"].get("host") for i in _audit_json(machine, db)["inventory"]}
    assert "api.planted.test" in hosts and "api.deepseek.com" not in hosts
    os.utime(client)  # changed: read again
    hosts = {i["attributes"].get("host") for i in _audit_json(machine, db)["inventory"]}
    assert "api.deepseek.com" in hosts and "api.planted.test" not in hosts


def test_every_record_a_scan_makes_comes_back_whole_from_its_plain_form(machine: Machine) -> None:
    from scanner.audit import run_audit
    from scanner.records import Skipped, plain, rebuilt

    for place, text in NAMING_FILES.items():
        _write(machine.path(place), text)
    write_dist_info(machine.venv("/opt/venv"), "deepseek-sdk", "0.1.0")
    write_gguf(
        machine.path("/srv/models/r1-distill.gguf"),
        name="DeepSeek R1 Distill Qwen 7B",
        base_models=[
            {
                "name": "DeepSeek R1",
                "organization": "deepseek-ai",
                "repo_url": "https://huggingface.co/deepseek-ai/DeepSeek-R1",
            }
        ],
    )
    result = run_audit(AuditOptions(root=str(machine.root)), load_policy([]))
    kinds = {type(r).__name__ for r in result.records}
    assert {"EndpointRecord", "ModelRecord", "PackageRecord"} <= kinds, kinds
    for record in result.records:
        assert rebuilt(type(record), json.loads(json.dumps(plain(record)))) == record
    skipped = Skipped("/srv/x", "text read only up to 1 MiB", SkipKind.PARTIAL)
    assert rebuilt(Skipped, json.loads(json.dumps(plain(skipped)))) == skipped
    with pytest.raises((TypeError, ValueError, KeyError)):
        rebuilt(Skipped, {"path": "/srv/x", "reason": "r", "kind": "no such kind"})


def test_a_policy_that_adds_what_the_text_records_without_a_new_needle_reads_named_files_again(
    machine: Machine, tmp_path: Path
) -> None:
    """A variable whose name holds a needle already searched for (``DEEPSEEK_…``) changes what a line
    records, not what a file is searched for: the records kept from the last scan are not taken back."""
    _write(machine.path("/srv/app/client.py"), 'import os\nurl = os.environ["DEEPSEEK_GATEWAY_URL"]\n')
    policy = tmp_path / "site.yaml"
    policy.write_text(
        "schema_version: 1\nid: site\nversion: '1'\ntitle: Site bans\ninclude: [default]\nproviders:\n"
        "  - id: deepseek-gateway\n    name: DeepSeek Gateway\n    severity: violation\n"
        "    reason: Banned by memo 12.\n    sources: [memo]\n"
        "    env_vars:\n      - {name: DEEPSEEK_GATEWAY_URL, source: memo}\n"
        "sources:\n  memo: {title: Memo 12, date: 2026-12-01, urls: ['https://example.org/memo-12'], "
        "confidence: verified, kind: vendor-documentation}\n"
    )
    without_store = run_scanner("audit", "--root", str(machine.root), "--policy", str(policy), "-f", "json")
    expected = [f["location"]["path"] for f in json.loads(without_store.stdout)["findings"]]
    assert expected == ["/srv/app/client.py"], "the site policy bans the variable the file reads"
    db = tmp_path / "scanner.db"
    assert _audit_json(machine, db)["findings"] == []
    found = _audit_json(machine, db, "--policy", str(policy))["findings"]
    assert [f["location"]["path"] for f in found] == expected


def test_nothing_is_kept_of_a_file_changed_in_the_last_seconds(machine: Machine, tmp_path: Path) -> None:
    """A same-size rewrite within one tick of the filesystem's clock keeps a file's times: a file changed
    this recently is read again next time, whatever it held."""
    _write(machine.path("/home/alice/app/settings.py"), 'BASE_URL = "https://api.examples.com/v1"\n')
    _write(machine.path("/home/alice/app/client.py"), 'BASE_URL = "https://api.deepseek.com/v1"\n')
    db = tmp_path / "scanner.db"
    _audit_json(machine, db)
    with open_store(db) as store:
        assert store.size().quiet_files == 0
    with sqlite3.connect(db) as conn:
        assert conn.execute("select count(*) from file_facts").fetchone() == (0,)


@pytest.mark.usefixtures("settled_files")
def test_a_file_whose_name_is_not_utf8_is_cached_under_its_own_bytes(machine: Machine, tmp_path: Path) -> None:
    """A planted name of bytes that are not UTF-8 (kept by Python as lone surrogates, which SQLite's text
    refuses) once made every scan into a store fail before its report was written."""
    folder = os.fsencode(machine.path("/home/alice/app"))
    os.makedirs(folder)
    with open(os.path.join(folder, b"client-\xff.py"), "w") as handle:
        handle.write('client = OpenAI(base_url="https://api.deepseek.com/v1")\n')
    db = tmp_path / "scanner.db"
    for _ in range(2):  # recorded, then found again through the store
        found = [f["location"]["path"] for f in _audit_json(machine, db)["findings"]]
        assert found == ["/home/alice/app/client-\\xff.py"]
    with sqlite3.connect(db) as connection:
        (path,) = connection.execute("select path from file_facts").fetchone()
    assert path == os.path.join(folder, b"client-\xff.py")


def _status(inode: int, device: int, *, mtime_ns: int, ctime_ns: int) -> os.stat_result:
    """A regular file's status as ``os.stat`` makes it (times in seconds, and in nanoseconds)."""
    times = (0, mtime_ns // 10**9, ctime_ns // 10**9, 0.0, mtime_ns / 1e9, ctime_ns / 1e9, 0, mtime_ns, ctime_ns)
    return os.stat_result((0o100644, inode, device, 1, 0, 0, 10, *times))


def test_inode_numbers_past_sqlites_signed_range_are_kept_and_found(tmp_path: Path) -> None:
    """overlayfs (``xino``) and others put the filesystem's number in an inode's high bits."""
    from scanner.store.filecache import StoreFileCache

    big = (1 << 64) - 5
    st = _status(big, (1 << 63) + 3, mtime_ns=2_000_000, ctime_ns=3_000_000)
    cache = StoreFileCache({})
    cache.put("kind", "/srv/model.gguf", st, {"fact": 1})
    reports = [
        json.loads(run_scanner("audit", "--root", str(tmp_path), "--no-store", "-f", "json").stdout) for _ in "ab"
    ]
    with open_store(tmp_path / "scanner.db") as store:
        store.save(reports[0], cache.rows(), [], b"")
        again = StoreFileCache.load(store)
        assert again.get("kind", "/srv/model.gguf", st) == {"fact": 1}
        store.save(reports[1], again.rows(), [(st.st_dev, st.st_ino, "kind")], b"")
        assert StoreFileCache.load(store).get("kind", "/srv/model.gguf", st) is None, "dropped as gone"


@pytest.mark.parametrize("mtime_ns", [-(1 << 63) - 1, 1 << 63])
def test_a_file_dated_past_what_sqlite_holds_is_read_again_and_the_scan_recorded(tmp_path: Path, mtime_ns: int) -> None:
    """A planted file dated before 1678 (tmpfs and btrfs keep such times) is not cached: one such file must
    not stop every scan from being recorded."""
    from scanner.store.filecache import StoreFileCache

    st = _status(7, 9, mtime_ns=mtime_ns, ctime_ns=3_000_000)
    cache = StoreFileCache({})
    cache.put("kind", "/srv/client.py", st, {"fact": 1})
    report = json.loads(run_scanner("audit", "--root", str(tmp_path), "--no-store", "-f", "json").stdout)
    with open_store(tmp_path / "scanner.db") as store:
        store.save(report, cache.rows(), [], b"")
        assert StoreFileCache.load(store).get("kind", "/srv/client.py", st) is None
        assert [scan.id for scan in store.history()] == [report["scan"]["id"]]
