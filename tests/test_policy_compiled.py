"""The bundled policies kept as JSON between runs: the same policy, and never a stale or damaged one."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from scanner.places import default_cache_dir
from scanner.policy import compiled
from scanner.policy.loader import bundled_dir, bundled_names, load_policy, load_policy_sources

VALID = (Path(__file__).parent / "../policies/default.yaml").resolve()


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


def _entries() -> list[Path]:
    return sorted((default_cache_dir() / compiled.FOLDER).glob("*.json"))


@pytest.mark.parametrize("name", bundled_names())
def test_a_bundled_policy_read_again_is_the_same_policy(name: str) -> None:
    read = load_policy_sources([name])[0]
    first = load_policy([name])  # composed from YAML, and kept
    assert len(_entries()) == 1
    again = load_policy([name])  # from the entry
    assert again is not first
    assert _typed(again) == _typed(first) == _typed(read)


def test_an_entry_is_trusted_only_while_its_files_are_unchanged(tmp_path: Path) -> None:
    policy = load_policy()
    source = tmp_path / "policy.yaml"
    source.write_bytes(VALID.read_bytes())
    entry = tmp_path / "entry.json"
    compiled.keep(entry, policy, [(source, source.read_bytes())])
    assert _typed(compiled.load(entry, tmp_path)) == _typed(policy)
    source.write_bytes(VALID.read_bytes() + b"\n# changed\n")
    assert compiled.load(entry, tmp_path) is None
    source.unlink()
    assert compiled.load(entry, tmp_path) is None


def test_an_entry_naming_a_file_outside_the_bundled_policies_is_not_trusted(tmp_path: Path) -> None:
    bundled, elsewhere = tmp_path / "bundled", tmp_path / "elsewhere"
    bundled.mkdir()
    elsewhere.mkdir()
    source = elsewhere / "policy.yaml"
    source.write_bytes(VALID.read_bytes())
    entry = tmp_path / "entry.json"
    compiled.keep(entry, load_policy(), [(source, source.read_bytes())])
    assert compiled.load(entry, elsewhere) is not None
    assert compiled.load(entry, bundled) is None  # its own digest matches, but it is not a bundled file
    compiled.keep(entry, load_policy(), [(bundled / ".." / "elsewhere" / "policy.yaml", source.read_bytes())])
    assert compiled.load(entry, bundled) is None


@pytest.mark.parametrize("damage", [b"", b"{", b"[]", b'{"files": [], "policy": {"files": 1}}', b'{"files": 7}'])
def test_a_damaged_entry_is_read_from_yaml_again_and_replaced(damage: bytes) -> None:
    expected = _typed(load_policy())
    (entry,) = _entries()
    entry.write_bytes(damage)
    assert _typed(load_policy()) == expected
    assert entry.read_bytes() != damage


def test_an_entry_of_other_code_or_another_installation_is_another_entry() -> None:
    names = ["default"]
    assert compiled.entry_path(names, bundled_dir()) != compiled.entry_path(names, bundled_dir() / "elsewhere")
    assert compiled.entry_path(names, bundled_dir()) != compiled.entry_path(["bundled:default"], bundled_dir())


def test_a_cache_folder_that_cannot_be_written_costs_nothing_but_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_bytes(b"")  # no folder can be made in it, even by root
    monkeypatch.setenv("SCANNER_CACHE_DIR", str(blocked))
    assert _typed(load_policy()) == _typed(load_policy_sources()[0])
    assert blocked.read_bytes() == b""


def test_a_policy_file_named_on_the_command_line_is_never_kept(tmp_path: Path) -> None:
    given = tmp_path / "site.yaml"
    given.write_text("schema_version: 1\nid: site\nversion: '1'\ntitle: Site\ninclude: [default]\n", encoding="utf-8")
    assert load_policy([str(given)]).files[-1].id == "site"
    assert _entries() == []
