"""``-o``: a report or token file is private and atomic; a device or FIFO is written to, never replaced."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

from conftest import Machine, require, run_scanner, write_dist_info


def _banned_machine(machine: Machine) -> None:
    write_dist_info(machine.venv("/opt/venvs/agent"), "langchain-deepseek", "1.1.1")


def test_a_report_file_is_created_private_and_replaced_atomically(machine: Machine, tmp_path: Path) -> None:
    _banned_machine(machine)
    out = tmp_path / "report.json"
    out.write_text("old")
    out.chmod(0o644)
    done = run_scanner("audit", "--root", str(machine.root), "-f", "json", "-o", str(out))
    assert done.returncode == 1, done.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert json.loads(out.read_text())["summary"]["violations"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["machine", "report.json"]


def test_a_character_device_given_to_output_gets_the_report_and_stays_a_device(
    machine: Machine, tmp_path: Path
) -> None:
    """``mknod X c 1 3`` is a second /dev/null: writing the report must not turn it into a file."""
    _banned_machine(machine)
    null = tmp_path / "null"
    try:
        os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except PermissionError:
        require("root (to create a device node)", False)
    null.chmod(0o666)
    done = run_scanner("audit", "--root", str(machine.root), "-f", "json", "-o", str(null))
    assert done.returncode == 1, done.stderr
    assert stat.S_ISCHR(null.lstat().st_mode) and null.lstat().st_rdev == os.makedev(1, 3)
    assert stat.S_IMODE(null.lstat().st_mode) == 0o666


def test_dev_null_and_dev_stdout_are_written_through(machine: Machine) -> None:
    _banned_machine(machine)
    before = os.lstat("/dev/null")
    done = run_scanner("audit", "--root", str(machine.root), "-f", "json", "-o", "/dev/null")
    assert (done.returncode, done.stdout) == (1, "")
    after = os.lstat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)
    done = run_scanner("audit", "--root", str(machine.root), "-f", "json", "-o", "/dev/stdout", process=True)
    assert done.returncode == 1 and json.loads(done.stdout)["summary"]["violations"] == 1


def test_a_fifo_given_to_output_feeds_its_reader(machine: Machine, tmp_path: Path) -> None:
    _banned_machine(machine)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    done = run_scanner("audit", "--root", str(machine.root), "-f", "json", "-o", str(fifo))
    reader.join(timeout=60)
    assert done.returncode == 1, done.stderr
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert json.loads(received[0])["summary"]["violations"] == 1


def test_a_symlink_to_nothing_is_refused_rather_than_followed(machine: Machine, tmp_path: Path) -> None:
    _banned_machine(machine)
    link = tmp_path / "report.json"
    link.symlink_to(tmp_path / "elsewhere" / "target.json")
    done = run_scanner("audit", "--root", str(machine.root), "-f", "json", "-o", str(link))
    assert done.returncode == 2 and "a symbolic link to nothing" in done.stderr
    assert link.is_symlink() and not (tmp_path / "elsewhere").exists()


def test_a_token_written_with_output_is_private(tmp_path: Path) -> None:
    token_file = tmp_path / "web-01.token"
    done = run_scanner("fleet", "token", "add", "web-01", "--db", str(tmp_path / "fleet.db"), "-o", str(token_file))
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert len(token_file.read_text().strip()) >= 32
