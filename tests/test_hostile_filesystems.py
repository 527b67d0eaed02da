"""Shapes a local user can give the filesystem to hide use from a root scan, stall it or make it leak: a FUSE
mount, links into /proc or to root-only files, a folder swapped for a link between listing and reading, and a
chain of folders deeper than the path-length limit."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import SCANNER, require, run_scanner
from modelkit import write_gguf, write_safetensors

from scanner import beneath
from scanner.audit import AuditOptions, run_audit
from scanner.fsview import RootFS, SpecialFile
from scanner.mounts import read_mount_table
from scanner.policy.loader import load_policy
from scanner.visitors import Interest
from scanner.walk import MAX_DEPTH, Walker, WalkOptions, WalkRoot

NOBODY = 65534
SECRET = "TOPSECRET-fleet-token-0123456789"
ENDPOINT = "OPENAI_BASE_URL=https://api.deepseek.com\n"

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: files and links owned by another user")


@pytest.fixture(params=["openat2", "one folder at a time"])
def kernel(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every read is checked both with ``openat2`` and as on a kernel without it (before Linux 5.6)."""
    if request.param != "openat2":
        monkeypatch.setattr(beneath, "_openat2_missing", True)
    return str(request.param)


@pytest.fixture
def public(tmp_path: Path) -> Iterator[Path]:
    """A folder every user can reach (pytest's own temporary folders are root's alone)."""
    folder = Path(tempfile.mkdtemp(prefix="scanner-test-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def audit(*args: str) -> dict[str, object]:
    done = run_scanner("audit", *args, "--no-store", "-f", "json", "--fail-on", "never")
    report: dict[str, object] = json.loads(done.stdout)
    return report


def skipped(report: dict[str, object]) -> dict[str, tuple[str, str]]:
    coverage = report["scan"]["coverage"]  # type: ignore[index]
    return {s["path"]: (s["kind"], s["reason"]) for s in coverage["skipped"]}


# -- links ----------------------------------------------------------------------------------------------------


def test_hashing_never_follows_a_link_into_proc(tmp_path: Path) -> None:
    """/proc/self/pagemap is a regular file of size 0 that reads as 256 GiB: hashing it never ended."""
    (tmp_path / "model.safetensors").symlink_to("/proc/self/pagemap")
    (tmp_path / "env.gguf").symlink_to("/proc/self/environ")
    assert SCANNER is not None
    command = [SCANNER, "audit", str(tmp_path), "--hash", "--no-store", "-f", "json", "--fail-on", "never"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)  # it never ended
    report = json.loads(done.stdout)
    assert report["summary"]["complete"] is True  # type: ignore[index]
    for name in ("model.safetensors", "env.gguf"):
        assert skipped(report)[str(tmp_path / name)] == (
            "special-file",
            "model file unreadable: a file of a pseudo filesystem (proc)",
        )


def test_hashing_reads_the_file_itself_never_through_a_link(tmp_path: Path) -> None:
    write_safetensors(tmp_path / "real.safetensors")
    (tmp_path / "alias.safetensors").symlink_to("real.safetensors")
    report = audit(str(tmp_path), "--hash")
    assert skipped(report) == {
        str(tmp_path / "alias.safetensors"): ("special-file", "not hashed: a symbolic link (not followed)")
    }


@root_only
def test_a_users_link_to_a_file_that_user_may_not_read_is_never_read(tmp_path: Path) -> None:
    secret_dir = tmp_path / "root-only"
    secret_dir.mkdir(mode=0o700)
    (secret_dir / "token").write_text(SECRET)
    (secret_dir / "token").chmod(0o600)
    home = tmp_path / "home"
    home.mkdir()
    for name, target in (("leak.safetensors", secret_dir / "token"), ("shadow.onnx", Path("/etc/shadow"))):
        (home / name).symlink_to(target)
        os.lchown(home / name, NOBODY, NOBODY)
    (home / ".env").symlink_to(secret_dir / "token")
    os.lchown(home / ".env", NOBODY, NOBODY)
    report = audit(str(home))
    assert SECRET[:8] not in json.dumps(report) and "root:" not in json.dumps(report)
    assert report["summary"]["complete"] is True  # type: ignore[index]
    assert skipped(report)[str(home / "leak.safetensors")] == (
        "special-file",
        f"model file unreadable: a link of user {NOBODY} to a file that user may not read",
    )
    assert skipped(report)[str(home / ".env")][0] == "special-file"


@root_only
def test_a_users_link_to_a_file_that_user_may_read_is_read(public: Path) -> None:
    tmp_path = public
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    write_gguf(shared / "model.gguf", name="DeepSeek-R1-Distill-Qwen-7B", organization="deepseek-ai")
    (shared / "model.gguf").chmod(0o644)
    home = tmp_path / "home"
    home.mkdir()
    (home / "mine.gguf").symlink_to(shared / "model.gguf")
    os.lchown(home / "mine.gguf", NOBODY, NOBODY)
    report = audit(str(home))
    assert report["summary"]["violations"] >= 1, skipped(report)  # type: ignore[index]


def test_an_unrecognised_header_is_described_without_quoting_its_bytes(tmp_path: Path) -> None:
    (tmp_path / "notes.safetensors").write_text(SECRET)
    report = audit(str(tmp_path))
    assert SECRET[:8] not in json.dumps(report)
    assert skipped(report)[str(tmp_path / "notes.safetensors")] == (
        "unsupported",
        "model file header unreadable: not a safetensors file (not a recognised header)",
    )


# -- a folder swapped for a link between the walk and the read ------------------------------------------------


def test_a_folder_swapped_for_an_absolute_link_is_not_read_through_out_of_the_root(tmp_path: Path, kernel: str) -> None:
    root = tmp_path / "root"
    (root / "srv").mkdir(parents=True)
    host = tmp_path / "hostsecret"
    host.mkdir()
    (host / "config.json").write_text('{"_name_or_path": "HOST-ONLY"}')
    (root / "srv" / "m").symlink_to(host)  # where the walk listed a folder holding config.json
    fs = RootFS(str(root))
    with pytest.raises(FileNotFoundError):  # resolved inside the root, where there is no such folder
        fs.read_bytes(str(root / "srv" / "m" / "config.json"), 1000)
    (root / str(host).lstrip("/")).mkdir(parents=True)
    (root / str(host).lstrip("/") / "config.json").write_text('{"_name_or_path": "inside"}')
    assert fs.read_bytes(str(root / "srv" / "m" / "config.json"), 1000)[0] == b'{"_name_or_path": "inside"}'


def test_an_audit_never_reads_a_host_file_through_a_swapped_model_folder(tmp_path: Path) -> None:
    """The walk lists srv/m/config.json; the folder becomes a link to a host folder before the model
    collector reads it (after the walk)."""

    root = tmp_path / "root"
    model = root / "srv" / "m"
    model.mkdir(parents=True)
    (model / "config.json").write_text(json.dumps({"model_type": "llama", "_name_or_path": "innocent/llama"}))
    host = tmp_path / "hostsecret"
    host.mkdir()
    (host / "config.json").write_text(json.dumps({"model_type": "qwen2", "_name_or_path": "HOST-ONLY/deepseek"}))
    swapped: list[str] = []

    def phase(name: str | None) -> None:
        if name == "reading what was found":  # the walk is done, the collectors have not read yet
            model.rename(root / "srv" / "m.orig")
            model.symlink_to(host)
            swapped.append(name)

    result = run_audit(AuditOptions(root=str(root)), load_policy(["default"]), phase=phase)
    assert swapped
    assert "HOST-ONLY" not in json.dumps([r.to_dict() for r in result.records]) + repr(result.findings)


# -- FUSE -----------------------------------------------------------------------------------------------------


def _mountinfo(tmp_path: Path, mount_point: Path, user: int) -> Path:
    table = tmp_path / "mountinfo"
    table.write_text(
        "22 1 0:21 / /proc rw,nosuid shared:12 - proc proc rw\n"
        f"45 27 0:40 / {mount_point} rw,nosuid,nodev,relatime - fuse.squashfuse squashfuse "
        f"rw,user_id={user},group_id={user}\n"
    )
    return table


@pytest.mark.parametrize(("user", "walked"), [(1000, True), (0, False)])
def test_a_fuse_mount_a_user_made_is_walked_and_one_the_system_made_is_skipped_by_choice(
    tmp_path: Path, user: int, walked: bool
) -> None:
    models = tmp_path / "home" / "models"
    models.mkdir(parents=True)
    write_gguf(models / "model.gguf", name="DeepSeek-R1-Distill-Qwen-7B")
    mounts = read_mount_table(str(_mountinfo(tmp_path, models, user)))
    seen: list[str] = []

    class Recorder:
        id = "recorder"
        interest = Interest(file_suffixes=frozenset({".gguf"}))

        def visit(self, entry: object) -> None:
            seen.append(str(getattr(entry, "name", "")))

    coverage = Walker(RootFS(None), [Recorder()], WalkOptions(mounts=mounts)).walk([WalkRoot(str(tmp_path / "home"))])
    assert seen == (["model.gguf"] if walked else [])
    assert coverage.complete
    if not walked:
        assert [(s.kind, s.reason) for s in coverage.skipped] == [
            ("filesystem", "network or virtual filesystem (fuse.squashfuse)")
        ]


@pytest.fixture
def users_fuse_mount(public: Path) -> Iterator[Path]:
    """A squashfs image holding a DeepSeek GGUF, mounted by ``nobody`` with ``squashfuse`` (no ``allow_other``)."""
    for tool in ("squashfuse", "fusermount3", "mksquashfs", "runuser"):
        require(tool, shutil.which(tool))  # .ci/run installs them: under CI=true their absence fails
    if os.geteuid() != 0 or not os.path.exists("/dev/fuse"):
        pytest.skip("needs root and /dev/fuse (a kernel that lets users mount FUSE filesystems)")
    tmp_path = public
    source = tmp_path / "source"
    source.mkdir()
    write_gguf(source / "DeepSeek-R1-Distill-Qwen-7B-Q4_K_M.gguf", name="DeepSeek-R1-Distill-Qwen-7B")
    home = tmp_path / "home"
    home.mkdir()
    image = home / "holiday-photos.img"
    subprocess.run(["mksquashfs", str(source), str(image), "-quiet", "-noappend"], check=True, capture_output=True)
    mount_point = home / "models"
    mount_point.mkdir()
    for path in (home, image, mount_point):
        os.chown(path, NOBODY, NOBODY)
    done = subprocess.run(["runuser", "-u", "nobody", "--", "squashfuse", str(image), str(mount_point)], check=False)
    if done.returncode != 0:
        pytest.skip("squashfuse could not mount as an unprivileged user here")
    try:
        yield home
    finally:
        subprocess.run(["runuser", "-u", "nobody", "--", "fusermount3", "-u", str(mount_point)], check=False)


def test_a_fuse_mount_a_user_made_that_root_may_not_read_makes_the_scan_incomplete(users_fuse_mount: Path) -> None:
    report = audit(str(users_fuse_mount))
    assert report["summary"]["complete"] is False  # type: ignore[index]
    kind, reason = skipped(report)[str(users_fuse_mount / "models")]
    assert kind == "unreadable"
    assert reason == f"permission denied (a fuse.squashfuse filesystem user {NOBODY} mounted)"


# -- depth ----------------------------------------------------------------------------------------------------


def _chain(top: Path, depth: int, leaf: str, text: str) -> None:
    """``top/d/d/.../d/leaf``, ``depth`` folders deep, built with folder descriptors (the path is too long to name)."""
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(depth):
            os.mkdir("d", dir_fd=fd)
            next_fd = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = next_fd
        leaf_fd = os.open(leaf, os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
        os.write(leaf_fd, text.encode())
        os.close(leaf_fd)
    finally:
        os.close(fd)


def _remove_chain(top: Path) -> None:
    """Remove what ``_chain`` built, cut into pieces ``shutil.rmtree`` can take (it recurses once per level)."""
    pieces = [top]
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    level = 0
    try:
        while True:
            try:
                below = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            except FileNotFoundError:
                break
            level += 1
            if level % 500 == 0:
                pieces.append(top.parent / f"{top.name}-{level}")
                os.rename("d", pieces[-1], src_dir_fd=fd)
            os.close(fd)
            fd = below
    finally:
        os.close(fd)
    for piece in pieces:
        shutil.rmtree(piece)


@pytest.fixture
def deep(tmp_path: Path) -> Iterator[Path]:
    """A folder for a deep chain: in memory where there is a tmpfs (removing 10,000 folders from a disk takes
    seconds), beside the test's own folder otherwise."""
    shm = "/dev/shm"
    base = Path(tempfile.mkdtemp(dir=shm)) if os.access(shm, os.W_OK) else tmp_path
    top = base / "deep"
    top.mkdir()
    try:
        yield top
    finally:
        _remove_chain(top)
        if base != tmp_path:
            shutil.rmtree(base)


def test_folders_nested_deeper_than_the_path_length_limit_are_walked_and_read(deep: Path) -> None:
    _chain(deep, 5000, ".env", ENDPOINT)
    started = time.monotonic()
    report = audit(str(deep))
    elapsed = time.monotonic() - started
    assert report["summary"]["complete"] is True, skipped(report)  # type: ignore[index]
    findings = report["findings"]
    assert any(f["location"]["path"].endswith("/d/.env") for f in findings)  # type: ignore[attr-defined]
    assert elapsed < 60


def test_folders_deeper_than_the_depth_cap_are_a_gap(deep: Path) -> None:
    _chain(deep, MAX_DEPTH + 2, ".env", ENDPOINT)
    coverage = Walker(RootFS(None), [], WalkOptions(mounts=[])).walk([WalkRoot(str(deep))])
    assert not coverage.complete
    assert [(s.kind, s.reason) for s in coverage.skipped] == [
        ("unreadable", f"more than {MAX_DEPTH:,} folders deep (not walked)")
    ]
    assert coverage.dirs == MAX_DEPTH + 1


def test_opening_a_file_below_a_link_never_follows_it_unless_asked(tmp_path: Path, kernel: str) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "f").write_text("x")
    (tmp_path / "link").symlink_to("real")
    fs = RootFS(str(tmp_path))
    assert fs.read_bytes(str(tmp_path / "link" / "f"), 10) == (b"x", False)
    with pytest.raises(SpecialFile, match="not followed"):
        fs.open_unlinked(str(tmp_path / "link" / "f"))
