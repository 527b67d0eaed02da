"""The wheel an admin installs carries the bundled policies and the report schema."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_ships_bundled_policies_and_the_report_schema(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("scanner-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for policy in (ROOT / "policies").glob("*.yaml"):
        assert f"scanner/_bundled_policies/{policy.name}" in names
    assert "scanner/schemas/report.schema.json" in names
    assert not any(n.startswith("tests/") for n in names)
