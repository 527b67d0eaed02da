"""The scanner's own files are not use: a clone of the project, and the wheel's list of digests."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import build_wheel, require, run_scanner

from scanner.own import SHIPPED, project_digests
from scanner.policy.compiled import SUFFIX

PROJECT = Path(__file__).resolve().parents[1]


def test_a_clone_of_the_project_is_not_judged_as_use(tmp_path: Path) -> None:
    """The README's first command audits the machine the project was cloned onto: its tests, policies and
    benchmarks name every banned host, and none of that is use."""
    require("git", shutil.which("git") and (PROJECT / ".git").exists())
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=PROJECT, capture_output=True, check=True).stdout
    clone = tmp_path / "scanner"
    for name in filter(None, listed.decode().split("\0")):
        if (PROJECT / name).is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(PROJECT / name, clone / name)
    done = run_scanner("audit", str(clone), "-f", "json", "--no-store")
    report = json.loads(done.stdout)
    assert (report["summary"]["violations"], report["summary"]["warnings"]) == (0, 0), [
        (f["subject"], f["location"]) for f in report["findings"]
    ]
    (clone / "tests" / "planted.py").write_text('client = OpenAI(base_url="https://api.deepseek.com")\n')
    again = json.loads(run_scanner("audit", str(clone), "-f", "json", "--no-store").stdout)
    assert [f["location"]["path"] for f in again["findings"]] == [str(clone / "tests" / "planted.py")]


@pytest.mark.slow
def test_the_wheel_ships_the_digests_of_every_file_of_the_project(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "wheels")
    with zipfile.ZipFile(wheel) as archive:
        shipped = archive.read(f"scanner/{SHIPPED}").decode().split()
        composed = [hashlib.sha256(archive.read(n)).hexdigest() for n in archive.namelist() if n.endswith(SUFFIX)]
        archive.extractall(tmp_path / "installed")
    assert composed, "the bundled policies, composed, name what they ban: they are the scanner's own too"
    assert shipped == sorted({*project_digests(PROJECT), *composed})
    loaded = subprocess.run(
        [sys.executable, "-c", "from scanner.own import shipped_digests; print(len(shipped_digests()))"],
        cwd=tmp_path / "installed",
        capture_output=True,
        text=True,
        check=True,
    )
    assert int(loaded.stdout) == len(shipped), "an installed wheel reads the list it ships"
