"""The bundled policies as the wheel's build composed them: the same policy, and never a stale or damaged one."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any

import pytest

from scanner.policy import compiled
from scanner.policy.loader import bundled_dir, bundled_names, load_policy, load_policy_sources


def _typed(value: Any) -> Any:
    """Every value with its type, ``where`` fields included (they compare equal whatever they hold)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = tuple((f.name, _typed(getattr(value, f.name))) for f in dataclasses.fields(value))
        return type(value).__name__, fields
    if isinstance(value, tuple):
        return ("tuple", *(_typed(item) for item in value))
    if isinstance(value, dict):
        return "dict", tuple((key, _typed(item)) for key, item in value.items())
    return type(value).__name__, value


def _shipped(tmp_path: Path, name: str) -> Path:
    """A copy of the bundled policies with ``name`` composed beside them, as the build ships it."""
    bundled = tmp_path / "bundled"
    shutil.copytree(bundled_dir(), bundled)
    policy, sources = load_policy_sources([name])
    files = [(bundled / path.name, data) for path, data in sources.files]
    (bundled / f"{name}{compiled.SUFFIX}").write_bytes(compiled.composition(policy, files, bundled))
    return bundled


@pytest.mark.parametrize("name", bundled_names())
def test_a_composed_bundled_policy_is_the_policy_its_yaml_says(name: str, tmp_path: Path) -> None:
    bundled = _shipped(tmp_path, name)
    assert _typed(compiled.load(name, bundled)) == _typed(load_policy_sources([name])[0])


def test_a_composition_is_used_only_while_its_files_are_unchanged(tmp_path: Path) -> None:
    bundled = _shipped(tmp_path, "default")
    assert compiled.load("default", bundled) is not None
    (bundled / "default.yaml").write_bytes((bundled / "default.yaml").read_bytes() + b"\n# edited in place\n")
    assert compiled.load("default", bundled) is None
    (bundled / "default.yaml").unlink()
    assert compiled.load("default", bundled) is None


@pytest.mark.parametrize(
    "damage",
    [
        b"",
        b"{",
        b"[]",
        b'{"files": [], "policy": {}}',
        b'{"files": 7}',
        b'{"files": [["../default.yaml", "0"]], "policy": {}}',
        b'{"files": [["default.yaml", "0"]], "policy": {"files": 1}}',
    ],
)
def test_a_damaged_composition_is_read_from_yaml(damage: bytes, tmp_path: Path) -> None:
    bundled = _shipped(tmp_path, "default")
    (bundled / f"default{compiled.SUFFIX}").write_bytes(damage)
    assert compiled.load("default", bundled) is None


def test_a_composition_naming_a_file_outside_the_bundled_policies_is_not_used(tmp_path: Path) -> None:
    bundled = _shipped(tmp_path, "default")
    outside = tmp_path / "default.yaml"
    outside.write_bytes((bundled / "default.yaml").read_bytes())
    policy, _ = load_policy_sources(["default"])
    entry = compiled.composition(policy, [(outside, outside.read_bytes())], tmp_path).replace(
        b'"default.yaml"', b'"../default.yaml"'
    )
    (bundled / f"default{compiled.SUFFIX}").write_bytes(entry)
    assert compiled.load("default", bundled) is None


def test_a_checkout_reads_yaml_and_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCANNER_CACHE_DIR", str(tmp_path / "cache"))
    assert not list(bundled_dir().glob(f"*{compiled.SUFFIX}")), "a source checkout ships no composition"
    assert _typed(load_policy()) == _typed(load_policy_sources()[0])
    assert not (tmp_path / "cache").exists()
