"""The weight-format table: exhaustive, consistent, and read the same way by every stage.

Like pip-audit's check that every output format has a formatter: a format added to the table without
a parser, an ending, a sample file or a place in the CLI fails here, not in a user's scan.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections import Counter
from pathlib import Path

import pytest
from modelkit import WEIGHT_SAMPLES

import scanner.formats
from scanner.cli.policy import WEIGHT_FILE_ENDINGS
from scanner.collectors.interface import CollectOptions
from scanner.collectors.models.collector import ModelCollector
from scanner.collectors.models.grouping import group_models
from scanner.collectors.models.inventory import Inventory
from scanner.collectors.models.weights import (
    WEIGHT_FORMATS,
    WEIGHT_SUFFIXES,
    WeightFormat,
    read_weight_file,
    signatures,
    sniff,
)
from scanner.formats.magic import HEAD_BYTES, Magic
from scanner.fsview import RootFS
from scanner.visitors import Entry

ROWS = {row.id: row for row in WEIGHT_FORMATS}


def _declared_magics() -> set[Magic]:
    """Every signature a parser module in ``scanner.formats`` declares."""
    found = set()
    for info in pkgutil.iter_modules(scanner.formats.__path__):
        module = importlib.import_module(f"scanner.formats.{info.name}")
        found |= {value for value in vars(module).values() if isinstance(value, Magic)}
    return found


def _name(row: WeightFormat, stem: str = "model") -> str:
    """A file name the walk hands over for this row: its own ending, or (found by content under any
    name) the first weight ending there is."""
    return stem + (row.suffixes[0] if row.suffixes else sorted(WEIGHT_SUFFIXES)[0])


def test_ids_are_unique_and_every_row_has_a_parser_and_a_way_to_be_found() -> None:
    assert [i for i, n in Counter(row.id for row in WEIGHT_FORMATS).items() if n > 1] == []
    for row in WEIGHT_FORMATS:
        assert callable(row.parse), row.id
        # an ending of its own, or a signature that finds it under any name
        assert row.suffixes or (row.magic is not None and not row.named), row.id
        assert not row.named or (row.magic is not None and row.suffixes), f"{row.id}: named needs both"
        assert all(s.startswith(".") and s == s.lower() for s in row.suffixes), row.id


def test_an_ending_names_one_format() -> None:
    endings = Counter(suffix for row in WEIGHT_FORMATS for suffix in row.suffixes)
    assert [suffix for suffix, count in endings.items() if count > 1] == []


def test_every_signature_the_sniffer_can_return_selects_a_row() -> None:
    rows_by_magic = {row.magic for row in WEIGHT_FORMATS if row.magic is not None}
    assert {magic.id for magic in signatures()} == rows_by_magic
    assert _declared_magics() == set(signatures()), "a parser module declares a signature no row uses"
    assert len({magic.id for magic in signatures()}) == len(signatures())


def test_the_cli_and_the_walk_use_the_tables_endings() -> None:
    assert set(WEIGHT_FILE_ENDINGS) == WEIGHT_SUFFIXES
    assert ModelCollector.interest.file_suffixes >= WEIGHT_SUFFIXES


def test_every_row_has_a_sample_file() -> None:
    assert set(WEIGHT_SAMPLES) == set(ROWS)


@pytest.mark.parametrize("row", WEIGHT_FORMATS, ids=lambda row: row.id)
def test_every_row_reads_its_sample_under_each_of_its_endings(tmp_path: Path, row: WeightFormat) -> None:
    for name in [f"model{suffix}" for suffix in row.suffixes] or [_name(row)]:
        path = WEIGHT_SAMPLES[row.id](tmp_path / name)
        if row.magic is not None:
            sniffed = sniff(path.read_bytes()[:HEAD_BYTES])
            assert sniffed is not None and sniffed.id == row.magic
        with RootFS(None).open_regular(str(path)) as handle:
            facts = read_weight_file(handle, path.stat().st_size, name, f"/{name}")
        assert facts is not None and facts.format == row.id, name
        assert facts.bytes_read > 0


@pytest.mark.parametrize("row", WEIGHT_FORMATS, ids=lambda row: row.id)
def test_an_extensionless_file_counts_only_for_rows_that_say_so(tmp_path: Path, row: WeightFormat) -> None:
    path = WEIGHT_SAMPLES[row.id](tmp_path / "blob")
    inventory = Inventory(RootFS(None), CollectOptions())
    inventory.read_weight(Entry(str(path), str(path), "blob", False, tmp_path.name), nameless=True, min_size=0)
    assert (str(path) in inventory.weights) == row.extensionless


@pytest.mark.parametrize("row", WEIGHT_FORMATS, ids=lambda row: row.id)
def test_standalone_files_are_models_of_their_own_others_group_by_folder(tmp_path: Path, row: WeightFormat) -> None:
    inventory = Inventory(RootFS(None), CollectOptions())
    for stem in ("a", "b"):
        path = WEIGHT_SAMPLES[row.id](tmp_path / _name(row, stem))
        inventory.add(Entry(str(path), str(path), path.name, False, tmp_path.name))
    assert len(inventory.weights) == 2
    assert len(group_models(inventory)) == (2 if row.standalone else 1)


@pytest.mark.parametrize("row", [row for row in WEIGHT_FORMATS if row.suffixes], ids=lambda row: row.id)
def test_a_broken_header_is_reported_only_under_an_ending_that_claims_the_format(
    tmp_path: Path, row: WeightFormat
) -> None:
    for suffix in row.suffixes:
        path = tmp_path / f"broken{suffix}"
        path.write_bytes(b"\x01not a model at all\n" * 4)
        inventory = Inventory(RootFS(None), CollectOptions())
        inventory.add(Entry(str(path), str(path), path.name, False, tmp_path.name))
        assert bool(inventory.skipped) == row.claims, suffix
        assert (str(path) in inventory.weights) == row.claims, suffix
