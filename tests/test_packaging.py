"""The wheel an admin installs carries the bundled policies and the report schema."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from conftest import build_wheel

from scanner.policy.compiled import SUFFIX

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_ships_bundled_policies_and_the_report_schema(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path)
    names = set(zipfile.ZipFile(wheel).namelist())
    for policy in (ROOT / "policies").glob("*.yaml"):
        assert f"scanner/_bundled_policies/{policy.name}" in names
    assert "scanner/schemas/report.schema.json" in names
    assert not any(n.startswith("tests/") for n in names)


def test_the_wheel_ships_each_bundled_policy_composed_and_an_audit_from_it_reads_no_yaml(tmp_path: Path) -> None:
    """What the build composed is the policy the YAML says, and an installed scanner starts from it."""
    wheel = build_wheel(tmp_path / "wheels")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        archive.extractall(tmp_path / "installed")
    composed = {n.removeprefix("scanner/_bundled_policies/") for n in names if n.endswith(SUFFIX)}
    assert f"default{SUFFIX}" in composed, (
        "each bundled policy that includes no other (an included one is shown where it lies)"
    )
    (tmp_path / "root").mkdir()
    check = f"""
import sys
from scanner.cli.console import main
from scanner.policy.loader import bundled_names, load_policy, load_policy_sources
assert all(load_policy([name]) == load_policy_sources([name])[0] for name in bundled_names())
del sys.modules["yaml"]
sys.argv = ["scanner", "audit", "--root", {str(tmp_path / "root")!r}, "--no-store", "-f", "json", "-o", "/dev/null"]
try:
    main()
except SystemExit as done:
    assert done.code == 0, done.code
print("yaml" in sys.modules)
"""
    done = subprocess.run([sys.executable, "-c", check], cwd=tmp_path / "installed", capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["False"], "the policy came from its composition, not from YAML"
