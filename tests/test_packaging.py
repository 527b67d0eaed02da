"""The wheel an admin installs carries the bundled policies and the report schema."""

from __future__ import annotations

import zipfile
from pathlib import Path

from conftest import build_wheel

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_ships_bundled_policies_and_the_report_schema(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path)
    names = set(zipfile.ZipFile(wheel).namelist())
    for policy in (ROOT / "policies").glob("*.yaml"):
        assert f"scanner/_bundled_policies/{policy.name}" in names
    assert "scanner/schemas/report.schema.json" in names
    assert not any(n.startswith("tests/") for n in names)
