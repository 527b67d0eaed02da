"""Folder listings remembered by the store: a re-scan recalls an unchanged folder's entries instead of
listing it, and still sees every change a fresh scan sees."""

from __future__ import annotations

import json
import os
import random
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from conftest import Machine, run_scanner, write_dist_info
from modelkit import write_gguf

from scanner.store.database import open_store

BANNED = 'client = OpenAI(base_url="https://api.deepseek.com/v1")\n'


def _audit(machine: Machine, *store: str) -> dict[str, Any]:
    done = run_scanner("audit", "--root", str(machine.root), "-f", "json", *(store or ("--no-store",)))
    assert done.returncode in (0, 1), done.stderr
    return json.loads(done.stdout)


def _seen(report: dict[str, Any]) -> dict[str, Any]:
    """What a scan saw, without what differs between any two scans (ids, times, the store's salt)."""
    coverage = report["scan"]["coverage"]
    return {
        "findings": sorted((f["rule_id"], f["location"]["path"]) for f in report["findings"]),
        "inventory": sorted((i["kind"], i["location"]["path"]) for i in report["inventory"]),
        "files": coverage["files"],
        "dirs": coverage["dirs"],
        "skipped": sorted((s["path"], s["kind"]) for s in coverage["skipped"]),
    }


def _tree(machine: Machine) -> None:
    for n in range(4):
        app = machine.path(f"/home/dev{n}/src/app{n}/pkg")
        app.mkdir(parents=True)
        (app / "util.py").write_text("def f():\n    return 1\n")
        (app / "README").write_text("notes\n")
        (app.parent / "notes.txt").write_text("nothing here\n")
    write_dist_info(machine.venv("/opt/agent"), "requests", "2.32.0")
    machine.path("/srv/data/a/b/c").mkdir(parents=True)
    write_gguf(machine.path("/srv/data/a/model.gguf"), name="Llama 3 8B")


@pytest.mark.usefixtures("settled_files")
def test_a_rescan_recalls_unchanged_folders_and_sees_every_change_a_fresh_scan_sees(
    machine: Machine, tmp_path: Path
) -> None:
    """Random changes below folders the store remembers: after each, a re-scan and a scan without the
    store see the same findings, inventory and counts."""
    _tree(machine)
    db = ("--db", str(tmp_path / "scanner.db"))
    assert _seen(_audit(machine, *db)) == _seen(_audit(machine))
    with open_store(Path(db[1])) as store:
        assert store.size().folder_listings_bytes > 0
    rng = random.Random(16)
    changes = ["add", "remove", "rename", "link", "folder"] * 2
    rng.shuffle(changes)
    for step, change in enumerate(changes):
        folders = sorted(p for p in machine.root.rglob("*") if p.is_dir() and not p.is_symlink())
        folder = rng.choice(folders)
        if change == "add":  # a new file naming a banned host, in a folder otherwise unchanged
            (folder / f"client{step}.py").write_text(BANNED)
        elif change == "remove":
            files = sorted(p for p in machine.root.rglob("*") if p.is_file())
            rng.choice(files).unlink()
        elif change == "rename" and folder != machine.root and not folder.name.endswith("-info"):
            folder.rename(folder.with_name(folder.name + f"-moved{step}"))
        elif change == "link":  # a folder swapped for a link to another: never followed
            target = machine.path(f"/elsewhere{step}")
            target.mkdir()
            (target / "client.py").write_text(BANNED)
            (folder / f"linked{step}").symlink_to(target)
        else:
            (folder / f"new{step}" / "deeper").mkdir(parents=True)
            (folder / f"new{step}" / "deeper" / ".env").write_text("OPENAI_BASE_URL=https://api.deepseek.com/v1\n")
        assert _seen(_audit(machine, *db)) == _seen(_audit(machine)), f"step {step}: {change} in {folder}"


@pytest.mark.usefixtures("settled_files")
@pytest.mark.usefixtures("settled_files")
def test_a_small_file_that_grows_into_a_model_is_sniffed_though_its_folder_is_unchanged(
    machine: Machine, tmp_path: Path
) -> None:
    """Rewriting a file in place changes its size, not its folder: files without an extension are kept
    in a remembered listing whatever their size, and measured again at every scan."""
    _tree(machine)
    models = machine.path("/var/lib/models")
    models.mkdir(parents=True)
    (models / "licence").write_text("MIT\n")
    db = ("--db", str(tmp_path / "scanner.db"))
    _audit(machine, *db)
    before = models.stat()
    write_gguf(models / "licence", name="DeepSeek R1 Distill Qwen 7B")
    os.truncate(models / "licence", 2 << 20)  # past the size from which a file without an extension is sniffed
    assert (models.stat().st_mtime_ns, models.stat().st_ctime_ns) == (before.st_mtime_ns, before.st_ctime_ns)
    seen = _seen(_audit(machine, *db))
    assert ("model", "/var/lib/models/licence") in seen["inventory"]
    assert seen == _seen(_audit(machine))


@pytest.mark.usefixtures("settled_files")
def test_other_exclusions_make_a_walk_of_their_own(machine: Machine, tmp_path: Path) -> None:
    """What was passed over under one ``--exclude`` is looked at under another: the listings a scan
    remembered are kept under what its choices depended on."""
    _tree(machine)
    (machine.path("/home/dev1/src/app1/pkg") / "client.py").write_text(BANNED)
    db = ("--db", str(tmp_path / "scanner.db"))
    excluded = _audit(machine, *db, "--exclude", "pkg")
    assert not excluded["findings"]
    assert [f["location"]["path"] for f in _audit(machine, *db)["findings"]] == ["/home/dev1/src/app1/pkg/client.py"]


@pytest.mark.usefixtures("settled_files")
def test_a_store_whose_listings_were_tampered_with_lists_the_folders_again(machine: Machine, tmp_path: Path) -> None:
    """A hand-edited store (an entry named ``..``, a cut row) costs the recall, never the walk's bounds."""
    _tree(machine)
    (machine.path("/home/dev2/src") / "client.py").write_text(BANNED)
    db = tmp_path / "scanner.db"
    fresh = _seen(_audit(machine))
    _audit(machine, "--db", str(db))
    with sqlite3.connect(db) as connection:
        (stored,) = connection.execute("select listings from folder_listings").fetchone()
        fields = bytes(stored).split(b"\0")
        fields[2::3] = [b"d1 ..", *fields[5::3]]
        for tampered in (b"\0".join(fields), bytes(stored)[: len(stored) // 2], b"\xff\xfe garbage"):
            connection.execute("update folder_listings set listings = ?", [tampered])
            connection.commit()
            assert _seen(_audit(machine, "--db", str(db))) == fresh
            connection.execute("update folder_listings set listings = ?", [stored])


def test_folders_changed_in_the_last_seconds_are_not_remembered(machine: Machine, tmp_path: Path) -> None:
    """A change in the same tick of the filesystem's clock as the listing would leave the folder's times
    as they were: a folder that new is listed again next time."""
    _tree(machine)
    db = tmp_path / "scanner.db"
    _audit(machine, "--db", str(db))
    with open_store(db) as store:
        assert store.size().folder_listings_bytes == 0


@pytest.mark.usefixtures("settled_files")
def test_a_folder_replaced_between_scans_by_one_with_the_same_name_is_listed(machine: Machine, tmp_path: Path) -> None:
    _tree(machine)
    db = ("--db", str(tmp_path / "scanner.db"))
    _audit(machine, *db)
    app = machine.path("/home/dev3/src/app3")
    shutil.rmtree(app)
    (app / "pkg").mkdir(parents=True)
    (app / "pkg" / "client.py").write_text(BANNED)
    os.utime(app, ns=(0, 0))
    assert [f["location"]["path"] for f in _audit(machine, *db)["findings"]] == ["/home/dev3/src/app3/pkg/client.py"]
