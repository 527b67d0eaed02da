"""The single walk: what it hands over, what it refuses to enter, and what it records as skipped."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Machine, drop_dac_prefix, run_scanner

from scanner.fsview import RootFS
from scanner.mounts import Mount, parse_macos_mount, parse_mountinfo, skip_reason
from scanner.visitors import Entry, Interest
from scanner.walk import Coverage, Walker, WalkOptions, WalkRoot


class Recorder:
    id = "recorder"

    def __init__(self, interest: Interest) -> None:
        self.interest = interest
        self.seen: list[Entry] = []

    def visit(self, entry: Entry) -> None:
        self.seen.append(entry)


def walk(root: Path, interest: Interest, *, live: bool = False, **options: object) -> tuple[Recorder, Coverage]:
    fs = RootFS(None if live else str(root))
    recorder = Recorder(interest)
    options.setdefault("mounts", [])
    walker = Walker(fs, [recorder], WalkOptions(**options))  # type: ignore[arg-type]
    start = str(root.resolve()) if live else fs.root
    return recorder, walker.walk([WalkRoot(start)])


def test_walk_hands_each_collector_only_the_entries_it_asked_for(tmp_path: Path) -> None:
    (tmp_path / "a" / "x.dist-info").mkdir(parents=True)
    (tmp_path / "a" / "model.GGUF").write_bytes(b"GGUF")
    (tmp_path / "a" / "notes.txt").write_text("hi")
    (tmp_path / "conda-meta").mkdir()
    (tmp_path / "conda-meta" / "pkg-1-0.json").write_text("{}")
    (tmp_path / ".env").write_text("A=1")
    interest = Interest(
        dir_suffixes=frozenset({".dist-info"}),
        file_suffixes=frozenset({".gguf"}),
        file_names=frozenset({".env"}),
        files_in_dirs=frozenset({"conda-meta"}),
    )
    recorder, coverage = walk(tmp_path, interest)
    assert sorted(e.path for e in recorder.seen) == [
        "/.env",
        "/a/model.GGUF",
        "/a/x.dist-info",
        "/conda-meta/pkg-1-0.json",
    ]
    assert coverage.files == 4 and coverage.dirs == 4 and coverage.complete


def test_paths_are_reported_as_seen_from_inside_the_root(tmp_path: Path) -> None:
    (tmp_path / "home" / "alice").mkdir(parents=True)
    (tmp_path / "home" / "alice" / ".env").write_text("X=1")
    recorder, _ = walk(tmp_path, Interest(file_names=frozenset({".env"})))
    (entry,) = recorder.seen
    assert entry.path == "/home/alice/.env"
    assert entry.real_path == str(tmp_path.resolve() / "home" / "alice" / ".env")


def test_excluded_names_and_paths_are_listed_as_skipped_by_choice(tmp_path: Path) -> None:
    for folder in ("node_modules/x.dist-info", "srv/cache/y.dist-info", "srv/keep/z.dist-info"):
        (tmp_path / folder).mkdir(parents=True)
    recorder, coverage = walk(
        tmp_path, Interest(dir_suffixes=frozenset({".dist-info"})), excludes=("node_modules", "/srv/cache")
    )
    assert [e.path for e in recorder.seen] == ["/srv/keep/z.dist-info"]
    assert {(s.path, s.kind) for s in coverage.skipped} == {
        ("/node_modules", "excluded"),
        ("/srv/cache", "excluded"),
    }
    assert coverage.complete  # exclusions were chosen; they do not make the scan incomplete


def test_an_excluded_path_written_with_a_final_separator_is_excluded(tmp_path: Path) -> None:
    for folder in ("srv/cache/y.dist-info", "srv/keep/z.dist-info"):
        (tmp_path / folder).mkdir(parents=True)
    recorder, coverage = walk(tmp_path, Interest(dir_suffixes=frozenset({".dist-info"})), excludes=("/srv/cache/",))
    assert [e.path for e in recorder.seen] == ["/srv/keep/z.dist-info"]
    assert [(s.path, s.kind) for s in coverage.skipped] == [("/srv/cache", "excluded")]


def test_symlinked_directories_are_not_followed_out_of_the_tree(tmp_path: Path) -> None:
    outside = tmp_path / "outside" / "site-packages" / "evil-1.0.dist-info"
    outside.mkdir(parents=True)
    root = tmp_path / "root"
    (root / "opt").mkdir(parents=True)
    (root / "opt" / "link").symlink_to(tmp_path / "outside")
    (root / "opt" / "loop").symlink_to(root)
    recorder, coverage = walk(root, Interest(dir_suffixes=frozenset({".dist-info"})))
    assert recorder.seen == []
    assert coverage.files == 2  # the two links, seen as entries and never entered


def test_default_pseudo_paths_are_skipped_relative_to_the_root(tmp_path: Path) -> None:
    (tmp_path / "proc" / "1").mkdir(parents=True)
    (tmp_path / "usr").mkdir()
    _, coverage = walk(tmp_path, Interest())
    assert [(s.path, s.kind) for s in coverage.skipped] == [("/proc", "filesystem")]


def test_network_and_pseudo_mounts_are_skipped_unless_their_type_is_included(tmp_path: Path) -> None:
    share = tmp_path / "mnt" / "share"
    (share / "site-packages" / "a-1.dist-info").mkdir(parents=True)
    sysfs = tmp_path / "sysfs"
    sysfs.mkdir()
    mounts = [Mount(str(share), "nfs4", "0:53", "/"), Mount(str(sysfs), "sysfs", "0:20", "/")]
    interest = Interest(dir_suffixes=frozenset({".dist-info"}))
    recorder, coverage = walk(tmp_path, interest, live=True, mounts=mounts, skip_paths=())
    assert recorder.seen == []
    reasons = {s.path: s.reason for s in coverage.skipped}
    assert reasons == {
        str(share): "network or virtual filesystem (nfs4)",
        str(sysfs): "pseudo filesystem (sysfs)",
    }
    recorder, _ = walk(tmp_path, interest, live=True, mounts=mounts, skip_paths=(), include_fstypes=frozenset({"nfs4"}))
    assert [e.name for e in recorder.seen] == ["a-1.dist-info"]


def test_one_file_system_stays_off_other_mounts(tmp_path: Path) -> None:
    (tmp_path / "data" / "b-1.dist-info").mkdir(parents=True)
    mounts = [Mount(str(tmp_path / "data"), "ext4", "8:2", "/")]
    recorder, coverage = walk(
        tmp_path,
        Interest(dir_suffixes=frozenset({".dist-info"})),
        live=True,
        mounts=mounts,
        one_file_system=True,
    )
    assert recorder.seen == []
    assert coverage.skipped[0].reason == "another filesystem (--one-file-system)"


def test_fuseblk_is_local_and_other_fuse_mounts_are_skipped_only_when_the_system_made_them() -> None:
    def mount(fstype: str, user: int | None = None) -> Mount:
        return Mount("/m", fstype, "0:99", "/", user)

    assert skip_reason(mount("fuseblk")) is None
    assert skip_reason(mount("ext4")) is None
    assert skip_reason(mount("fuse.sshfs", 0)) == "network or virtual filesystem (fuse.sshfs)"
    assert skip_reason(mount("fuse.sshfs", 1000)) is None
    assert skip_reason(mount("proc")) == "pseudo filesystem (proc)"


def test_mountinfo_is_parsed_with_escaped_mount_points() -> None:
    text = (
        "22 1 0:21 / /proc rw,nosuid shared:12 - proc proc rw\n"
        "36 35 98:0 /srv/data /mnt/my\\040disk rw,noatime master:1 - ext4 /dev/sda1 rw\n"
        "garbage line\n"
    )
    assert parse_mountinfo(text) == [
        Mount("/proc", "proc", "0:21", "/"),
        Mount("/mnt/my disk", "ext4", "98:0", "/srv/data"),
    ]


def test_the_macos_mount_table_skips_network_shares_and_keeps_local_volumes() -> None:
    """What macOS's ``mount`` prints (its format since 10.x: device, mount point, type and flags)."""
    text = (
        "/dev/disk3s1s1 on / (apfs, sealed, local, read-only, journaled)\n"
        "devfs on /dev (devfs, local, nobrowse)\n"
        "/dev/disk3s5 on /System/Volumes/Data (apfs, local, journaled, nobrowse, protect, root data)\n"
        "map auto_home on /System/Volumes/Data/home (autofs, automounted, nobrowse)\n"
        "//alice@fs.example.org/Team Share on /Volumes/Team Share (smbfs, nodev, nosuid, mounted by alice)\n"
        "nas.example.org:/export/models on /Volumes/models (nfs, nodev, nosuid, mounted by alice)\n"
        "/dev/disk4s1 on /Volumes/USB DISK (msdos, local, nodev, nosuid, noowners, mounted by alice)\n"
    )
    mounts = {m.mount_point: m for m in parse_macos_mount(text)}
    assert mounts["/Volumes/Team Share"].fstype == "smbfs"
    assert {point for point, mount in mounts.items() if skip_reason(mount)} == {
        "/dev", "/System/Volumes/Data/home", "/Volumes/Team Share", "/Volumes/models"
    }  # fmt: skip


def test_walk_never_opens_fifos_sockets_or_devices(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.gguf"
    os.mkfifo(fifo)
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "s.gguf"))
    try:
        recorder, coverage = walk(tmp_path, Interest(file_suffixes=frozenset({".gguf"})))
    finally:
        sock.close()
    # The walker only lists folders; entries reach collectors, which read through RootFS (see test_fsview).
    assert sorted(e.name for e in recorder.seen) == ["pipe.gguf", "s.gguf"]
    assert coverage.files == 2


def test_a_failing_collector_costs_one_entry_not_the_scan(tmp_path: Path) -> None:
    (tmp_path / "a.dist-info").mkdir()
    (tmp_path / "b.dist-info").mkdir()

    class Broken(Recorder):
        def visit(self, entry: Entry) -> None:
            if entry.name == "a.dist-info":
                raise ValueError("bad header")
            super().visit(entry)

    broken = Broken(Interest(dir_suffixes=frozenset({".dist-info"})))
    coverage = Walker(RootFS(str(tmp_path)), [broken], WalkOptions(mounts=[])).walk([WalkRoot(str(tmp_path.resolve()))])
    assert [e.name for e in broken.seen] == ["b.dist-info"]
    assert [(s.path, s.kind) for s in coverage.skipped] == [("/a.dist-info", "error")]
    assert "bad header" in coverage.skipped[0].reason and not coverage.complete


def test_supplementary_roots_inside_a_scanned_tree_are_not_walked_twice(tmp_path: Path) -> None:
    site = tmp_path / "lib" / "site-packages"
    (site / "c-1.dist-info").mkdir(parents=True)
    recorder = Recorder(Interest(dir_suffixes=frozenset({".dist-info"})))
    Walker(RootFS(None), [recorder], WalkOptions(mounts=[])).walk(
        [WalkRoot(str(tmp_path)), WalkRoot(str(site), max_depth=1, supplementary=True)]
    )
    assert len(recorder.seen) == 1


def test_supplementary_roots_hidden_by_a_skipped_mount_are_still_walked(tmp_path: Path) -> None:
    site = tmp_path / "net" / "site-packages"
    (site / "d-1.dist-info").mkdir(parents=True)
    recorder = Recorder(Interest(dir_suffixes=frozenset({".dist-info"})))
    mounts = [Mount(str(tmp_path / "net"), "nfs", "0:50", "/")]
    Walker(RootFS(None), [recorder], WalkOptions(mounts=mounts)).walk(
        [WalkRoot(str(tmp_path)), WalkRoot(str(site), max_depth=1, supplementary=True)]
    )
    assert [e.name for e in recorder.seen] == ["d-1.dist-info"]


def test_progress_is_reported_while_walking(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    calls: list[tuple[int, str]] = []
    Walker(RootFS(str(tmp_path)), [], WalkOptions(mounts=[]), lambda c, p: calls.append((c.dirs, p))).walk(
        [WalkRoot(str(tmp_path.resolve()))]
    )
    assert calls and calls[0][1] == "/"


_WALK_SCRIPT = """
import json, sys
from scanner.fsview import RootFS
from scanner.walk import Walker, WalkOptions, WalkRoot
fs = RootFS(sys.argv[1])
coverage = Walker(fs, [], WalkOptions(mounts=[])).walk([WalkRoot(fs.root)])
print(json.dumps({"skipped": [s.to_dict() for s in coverage.skipped], "complete": coverage.complete}))
"""


def test_unreadable_directory_is_listed_in_coverage_not_dropped(tmp_path: Path) -> None:
    locked = tmp_path / "home" / "bob"
    locked.mkdir(parents=True)
    (locked / "secret.txt").write_text("x")
    locked.chmod(0)
    try:
        out = subprocess.run(
            [*drop_dac_prefix(), sys.executable, "-c", _WALK_SCRIPT, str(tmp_path)],
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        locked.chmod(0o755)
    result = json.loads(out.stdout)
    assert result == {
        "skipped": [{"path": "/home/bob", "reason": "permission denied", "kind": "unreadable"}],
        "complete": False,
    }


_MOUNTED_WALK = """
import json, sys
from scanner.fsview import RootFS
from scanner.walk import Walker, WalkOptions, WalkRoot
from scanner.visitors import Interest
class Recorder:
    id = "recorder"
    interest = Interest(dir_suffixes=frozenset({".dist-info"}))
    seen = []
    def visit(self, entry):
        self.seen.append(entry.path)
walker = Walker(RootFS(None), [Recorder()], WalkOptions(excludes=tuple(sys.argv[2:])))
coverage = walker.walk([WalkRoot(sys.argv[1])])
print(json.dumps({"seen": sorted(Recorder.seen), "skipped": [s.to_dict() for s in coverage.skipped]}))
"""


def walk_with_bind_mounts(tmp_path: Path, binds: list[tuple[str, str]], *excludes: str) -> dict[str, list]:  # type: ignore[type-arg]
    """Walk ``tmp_path`` live, in a private mount namespace where ``binds`` (source, target) are bind-mounted."""
    unshare = shutil.which("unshare")
    if unshare is None or os.geteuid() != 0:
        pytest.skip("needs root and unshare(1) to make private bind mounts")
    script = tmp_path / "walk.py"
    script.write_text(_MOUNTED_WALK)
    mounts = " && ".join(f"mount --bind {tmp_path / src} {tmp_path / dst}" for src, dst in binds)
    command = f"{mounts} && {sys.executable} {script} {tmp_path} {' '.join(excludes)}"
    done = subprocess.run([unshare, "--mount", "sh", "-c", command], capture_output=True, text=True, check=False)
    if done.returncode != 0 and "mount" in done.stderr:
        pytest.skip(f"cannot bind-mount here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_a_bind_mount_looping_back_up_the_tree_is_walked_once(tmp_path: Path) -> None:
    (tmp_path / "a" / "b" / "loop").mkdir(parents=True)
    (tmp_path / "a" / "pkg-1.dist-info").mkdir()
    result = walk_with_bind_mounts(tmp_path, [("a", "a/b/loop")])
    assert result["seen"] == [str(tmp_path / "a" / "pkg-1.dist-info")]
    assert result["skipped"] == [
        {
            "path": str(tmp_path / "a" / "b" / "loop"),
            "reason": "already scanned through another path (bind mount)",
            "kind": "duplicate-mount",
        }
    ]


def test_a_folder_bind_mounted_onto_itself_is_still_scanned(tmp_path: Path) -> None:
    (tmp_path / "srv" / "data" / "langchain_deepseek-1.1.1.dist-info").mkdir(parents=True)
    result = walk_with_bind_mounts(tmp_path, [("srv/data", "srv/data")])
    assert result == {"seen": [str(tmp_path / "srv" / "data" / "langchain_deepseek-1.1.1.dist-info")], "skipped": []}


def test_a_bind_mount_of_an_excluded_folder_is_scanned_where_it_is_mounted(tmp_path: Path) -> None:
    (tmp_path / "srv" / "data" / "pkg-1.dist-info").mkdir(parents=True)
    (tmp_path / "other").mkdir()
    result = walk_with_bind_mounts(tmp_path, [("srv/data", "other")], "srv")
    assert result["seen"] == [str(tmp_path / "other" / "pkg-1.dist-info")]
    assert [s["kind"] for s in result["skipped"]] == ["excluded"]


def test_symlinked_package_folders_are_handed_over_as_folders(tmp_path: Path) -> None:
    store = tmp_path / "store" / "langchain_deepseek-1.1.1.dist-info"
    store.mkdir(parents=True)
    site = tmp_path / "env" / "site-packages"
    site.mkdir(parents=True)
    (site / "langchain_deepseek-1.1.1.dist-info").symlink_to("../../store/langchain_deepseek-1.1.1.dist-info")
    (site / "host-1.0.dist-info").symlink_to(store)  # absolute: means <root>/<that path>, which is not there
    (site / "dangling-1.0.dist-info").symlink_to("nowhere")
    recorder, _ = walk(tmp_path, Interest(dir_suffixes=frozenset({".dist-info"})), excludes=("store",))
    assert [(e.path, e.is_dir) for e in recorder.seen] == [
        ("/env/site-packages/langchain_deepseek-1.1.1.dist-info", True)
    ]


def test_files_below_a_named_folder_and_files_without_extension_are_handed_over(tmp_path: Path) -> None:
    manifest = tmp_path / "ollama" / "manifests" / "registry.ollama.ai" / "library" / "deepseek-r1"
    manifest.mkdir(parents=True)
    (manifest / "7b").write_text("{}")
    (manifest / "notes.txt").write_text("x")
    (tmp_path / "srv").mkdir()
    (tmp_path / "srv" / "assistant").write_bytes(b"GGUF")
    (tmp_path / "srv" / "readme.txt").write_text("x")
    recorder, _ = walk(tmp_path, Interest(files_below_dirs=frozenset({"manifests"}), extensionless_files=True))
    assert sorted(e.path for e in recorder.seen) == [
        "/ollama/manifests/registry.ollama.ai/library/deepseek-r1/7b",
        "/ollama/manifests/registry.ollama.ai/library/deepseek-r1/notes.txt",
        "/srv/assistant",
    ]


def test_masked_units_and_sockets_among_peoples_files_leave_the_scan_complete(machine: Machine) -> None:
    """systemd masks a unit by linking it to /dev/null: an empty file, not an unreadable one. A socket or
    FIFO among people's files holds no text at rest: listed, but no gap."""
    for unit in ("/etc/systemd/system/apt-daily.service", "/usr/lib/systemd/system/ctrl-alt-del.target"):
        machine.path(unit).parent.mkdir(parents=True, exist_ok=True)
        machine.path(unit).symlink_to("/dev/null")
    machine.path("/home/u").mkdir(parents=True)
    machine.path("/home/u/.bash_history").symlink_to("/dev/null")
    os.mkfifo(machine.path("/home/u/pipe"))
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(machine.path("/home/u/agent.sock")))
    try:
        done = run_scanner("audit", "--root", str(machine.root), "-f", "json")
    finally:
        server.close()
    report = json.loads(done.stdout)
    assert report["summary"]["complete"] is True, report["scan"]["coverage"]["skipped"]
    assert {(s["path"], s["kind"]) for s in report["scan"]["coverage"]["skipped"]} == {
        ("/home/u/pipe", "special-file"),
        ("/home/u/agent.sock", "special-file"),
    }


def test_a_walk_past_its_memory_cap_stops_and_says_what_was_not_seen(tmp_path: Path) -> None:
    """``--max-memory``: the scan ends cleanly with partial coverage rather than growing (here the cap is
    below what any Python process holds, so the walk stops at its first look)."""
    for index in range(300):
        (tmp_path / "tree" / f"d{index}").mkdir(parents=True)
    (tmp_path / "tree" / "d299" / ".env").write_text("OPENAI_BASE_URL=https://api.deepseek.com\n")
    report = tmp_path / "report.json"
    done = run_scanner("audit", "--root", str(tmp_path / "tree"), "--max-memory", "16", "--no-store", "-o", str(report))
    assert report.is_file(), done.stderr  # the report of what was seen is still written
    coverage = json.loads(report.read_text())["scan"]["coverage"]
    (gap,) = [s for s in coverage["skipped"] if s["path"] == "(walk)"]
    assert gap["kind"] == "unreadable" and gap["reason"].startswith("scan stopped at --max-memory 16 MiB")
    assert coverage["complete"] is False
