"""Folder listings remembered by the store: a re-scan recalls an unchanged folder's entries instead of
listing it, and still sees every change a fresh scan sees."""

from __future__ import annotations

import json
import os
import random
import shutil
import sqlite3
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import Machine, run_scanner, write_dist_info
from hypothesis import given, settings
from hypothesis import strategies as st
from modelkit import ollama_store, write_gguf

from scanner.listings import Listings
from scanner.store.database import open_store

BANNED = 'client = OpenAI(base_url="https://api.deepseek.com/v1")\n'


def _audit(machine: Machine, *store: str, root: Path | None = None, unprivileged: bool = False) -> dict[str, Any]:
    scanned = str(root or machine.root)
    done = run_scanner("audit", "--root", scanned, "-f", "json", *(store or ("--no-store",)), unprivileged=unprivileged)
    assert done.returncode in (0, 1), done.stderr
    return json.loads(done.stdout)


def _tampered(db: Path, change: Callable[[list[bytes]], None]) -> None:
    """The store's listings, each folder's four fields (digest, facts, count, entries) changed by ``change``."""
    with sqlite3.connect(db) as connection:
        (stored,) = connection.execute("select listings from folder_listings").fetchone()
        fields = bytes(stored).split(b"\0")
        change(fields)
        connection.execute("update folder_listings set listings = ?", [b"\0".join(fields)])


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
def test_an_exclusion_added_after_a_scan_is_reported_in_unchanged_folders(machine: Machine, tmp_path: Path) -> None:
    """A listing keeps no file the walk passed over by name; under another ``--exclude`` the same folder
    is listed again, so what the exclusion leaves out is reported as left out."""
    _tree(machine)
    machine.path("/usr/share/x").mkdir(parents=True)
    machine.path("/usr/share/x/old.qqq").write_text("x")
    db = ("--db", str(tmp_path / "scanner.db"))
    _audit(machine, *db)
    fresh = _seen(_audit(machine, "--no-store", "--exclude", "*.qqq"))
    assert ("/usr/share/x/old.qqq", "excluded") in fresh["skipped"]
    assert _seen(_audit(machine, *db, "--exclude", "*.qqq")) == fresh


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
        fields[3::4] = [b"d1 ..", *fields[7::4]]
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


@pytest.mark.usefixtures("settled_files")
def test_a_scan_of_another_root_recalls_nothing_the_host_scan_listed(machine: Machine, tmp_path: Path) -> None:
    """The same store for the host's nightly scan and for ``--root`` of a container's files: seen from the
    host its home is below ``/var/lib`` (installed, its code not read); inside ``--root`` it is ``/home``."""
    proj = machine.path("/var/lib/machines/c1/home/dev/proj")
    proj.mkdir(parents=True)
    (proj / "client.py").write_text(BANNED)
    db = ("--db", str(tmp_path / "scanner.db"))
    container = machine.path("/var/lib/machines/c1")
    _audit(machine, *db)
    fresh = _seen(_audit(machine, root=container))
    assert ("endpoint-host", "/home/dev/proj/client.py") in fresh["findings"]
    assert _seen(_audit(machine, *db, root=container)) == fresh


@pytest.mark.usefixtures("settled_files")
def test_folders_below_a_folder_a_collector_wants_everything_of_are_listed_apart(
    machine: Machine, tmp_path: Path
) -> None:
    """What the walk takes from a folder depends on the folders it came through (every file below an
    Ollama ``manifests``): a scan started below one recalls nothing for a whole scan."""
    gguf = write_gguf(tmp_path / "w.gguf", arch="qwen2", name="DeepSeek R1 Distill Qwen 1.5B", pre="deepseek-r1-qwen")
    models = machine.path("/usr/share/ollama/.ollama/models")
    ollama_store(models, {"weights": gguf.read_bytes()}, {"deepseek-r1:1.5b": {"model": "weights"}})
    inside = "/usr/share/ollama/.ollama/models/manifests/registry.ollama.ai/library/deepseek-r1"
    db = ("--db", str(tmp_path / "scanner.db"))
    _audit(machine, *db, inside)
    fresh = _seen(_audit(machine))
    assert any(path.endswith("/deepseek-r1/1.5b") for _, path in fresh["inventory"])
    assert _seen(_audit(machine, *db)) == fresh


def test_a_folder_the_scanning_user_cannot_open_is_a_gap_whoever_listed_it_before(
    machine: Machine, tmp_path: Path
) -> None:
    """Whether a folder opens is for the user scanning now (its ids, capabilities, security modules), not
    the folder's own times to tell: a recalled folder is opened all the same."""
    private = machine.path("/usr/share/private")
    private.mkdir(parents=True)
    (private / "data.qqq").write_bytes(b"x")  # nothing any collector wants: the listing keeps no entry
    (machine.path("/usr/share") / "other.txt").write_text("x")
    private.chmod(0)
    tmp_path.chmod(0o755)
    db = ("--db", str(tmp_path / "scanner.db"))
    try:
        time.sleep(2.1)  # settled: the scans run in processes of their own
        _audit(machine, *db)  # as root, which opens it
        fresh = _seen(_audit(machine, unprivileged=True))
        assert ("/usr/share/private", "unreadable") in fresh["skipped"]
        assert _seen(_audit(machine, *db, unprivileged=True)) == fresh
    finally:
        private.chmod(0o755)


@pytest.mark.usefixtures("settled_files")
@pytest.mark.parametrize("count", ["\u00b2", "9" * 30, "9" * 5000, "0"])
def test_a_listing_with_a_count_that_is_no_count_of_its_entries_is_listed_again(
    machine: Machine, tmp_path: Path, count: str
) -> None:
    _tree(machine)
    (machine.path("/home/dev0/src") / "client.py").write_text(BANNED)
    db = tmp_path / "scanner.db"
    fresh = _seen(_audit(machine))
    _audit(machine, "--db", str(db))

    def counts(fields: list[bytes]) -> None:
        fields[2::4] = [count.encode()] * len(fields[2::4])

    _tampered(db, counts)
    assert _seen(_audit(machine, "--db", str(db))) == fresh


@pytest.mark.usefixtures("settled_files")
def test_a_listing_that_names_a_folder_twice_is_listed_again(machine: Machine, tmp_path: Path) -> None:
    """Each copy of a folder entry would be walked again (and copies at every level multiply)."""
    for n in range(20):
        machine.path(f"/home/dev/src/d{n}").mkdir(parents=True)
    db = tmp_path / "scanner.db"
    fresh = _seen(_audit(machine))
    _audit(machine, "--db", str(db))

    def repeated(fields: list[bytes]) -> None:
        for at in range(3, len(fields), 4):
            if fields[at].startswith(b"d") and fields[at].endswith(b" home"):
                fields[at] = b"/".join([fields[at]] * 200)
                fields[at - 1] = b"1000"  # a count to match: only the names give it away

    _tampered(db, repeated)
    assert _seen(_audit(machine, "--db", str(db))) == fresh


@pytest.mark.usefixtures("settled_files")
def test_a_device_a_store_calls_a_regular_file_is_never_opened(
    machine: Machine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = machine.path("/home/dev/src")
    src.mkdir(parents=True)
    os.mknod(src / "dev.py", 0o600 | stat.S_IFCHR, os.makedev(1, 3))
    db = tmp_path / "scanner.db"
    _audit(machine, "--db", str(db))

    def regular(fields: list[bytes]) -> None:
        fields[3::4] = [
            entries.replace(b"o", b"f", 1) if b" dev.py" in entries else entries for entries in fields[3::4]
        ]

    _tampered(db, regular)
    opened: list[str] = []
    real_open = os.open

    def watched(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        opened.append(os.fsdecode(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", watched)
    _audit(machine, "--db", str(db))
    assert not [path for path in opened if path.endswith("dev.py")]


@pytest.mark.usefixtures("settled_files")
def test_a_scan_of_some_paths_keeps_what_the_whole_scan_remembered(machine: Machine, tmp_path: Path) -> None:
    """The nightly whole scan's listings outlive a scan of one folder in between; a scan of the whole root
    (named or not) keeps only what it recalled or listed, so the listings of folders gone are dropped."""
    _tree(machine)
    db = tmp_path / "scanner.db"

    def remembered() -> int:
        with open_store(db) as store:
            return store.size().folder_listings_bytes

    _audit(machine, "--db", str(db))
    whole = remembered()
    _audit(machine, "--db", str(db), "/home/dev1")
    assert remembered() == whole
    shutil.rmtree(machine.path("/home/dev3"))
    _audit(machine, "--db", str(db), "/")  # the whole root, named
    assert 0 < remembered() < whole


@pytest.mark.usefixtures("settled_files")
def test_scans_of_one_path_do_not_pile_up_listings_of_its_changing_folders(machine: Machine, tmp_path: Path) -> None:
    """``scanner audit ~/proj`` again and again, never a whole scan: a folder listed again has its new
    listing in place of the old."""
    proj = machine.path("/home/dev/proj")
    (proj / "src").mkdir(parents=True)
    db = tmp_path / "scanner.db"

    def remembered() -> int:
        with open_store(db) as store:
            return store.size().folder_listings_bytes

    _audit(machine, "--db", str(db), "/home/dev/proj")
    first = remembered()
    for step in range(10):
        (proj / "src" / f"f{step}.qqq").write_text("x")
        (proj / "src" / f"f{step}.qqq").unlink()  # the folder as it was, its times moved on
        _audit(machine, "--db", str(db), "/home/dev/proj")
    assert remembered() == first


@given(
    count=st.text(max_size=25),
    entries=st.lists(st.text(alphabet=st.sampled_from("dflo0129 ./\\0\udcff\u00b2xy"), max_size=12), max_size=6),
)
@settings(max_examples=300, deadline=None)
def test_a_stored_listing_is_recalled_whole_and_well_formed_or_not_at_all(count: str, entries: list[str]) -> None:
    """Whatever a store holds for a folder, a recall never raises, and what it gives could be a listing: each
    entry named, once, by a name that leads nowhere but into the folder, no more of them than the count."""
    listings = Listings()
    listings.start("identity")
    where, facts = listings.key("/srv/data", (), os.stat("/"))
    stored = "\0".join((where, facts, count, "/".join(entries))).encode("utf-8", "surrogateescape")
    recalling = Listings(stored)
    recalling.start("identity")
    recalled = recalling.recall((where, facts), -1)
    if recalled is not None:
        found, total = recalled
        names = [entry.name for entry in found]
        assert len(names) == len(set(names)) <= total
        assert all(name not in ("", ".", "..") and "/" not in name and "\0" not in name for name in names)
