"""Zip central directories: torch.save's layout, ZIP64, sparse multi-GB archives, hostile end records, .pth text."""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path

import pytest
from formats_support import CountingFile, write
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanner.collectors.models.weights import sniff
from scanner.formats.errors import FormatError
from scanner.formats.pytorch_zip import (
    ZIP_MAGIC,
    TorchZip,
    read_central_directory,
    read_torch_zip,
)
from scanner.fsview import RootFS

# Protocol-2 pickle bytes of an empty dict: only ever listed, never loaded.
PICKLE = b"\x80\x02}q\x00."


def torch_zip(path: Path, folder: str = "archive", storages: int = 2) -> Path:
    """The member layout torch.save writes (torch >= 1.6), stored without compression like torch does."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr(f"{folder}/data.pkl", PICKLE)
        z.writestr(f"{folder}/byteorder", "little")
        for i in range(storages):
            z.writestr(f"{folder}/data/{i}", b"\0" * 64)
        z.writestr(f"{folder}/version", "3\n")
        z.writestr(f"{folder}/.data/serialization_id", "1234567890123456789012345678901234567890")
    return path


def parse(path: Path, **options: int) -> TorchZip:
    with RootFS(None).open_regular(str(path)) as f:
        return read_torch_zip(f, path.stat().st_size, **options)


def parse_counting(path: Path, **options: int) -> tuple[TorchZip | FormatError, CountingFile]:
    with CountingFile(path) as f:
        try:
            return read_torch_zip(f, path.stat().st_size, **options), f
        except FormatError as e:
            return e, f


def _eocd(count: int, cd_size: int, cd_offset: int, comment: bytes = b"") -> bytes:
    return struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, count, count, cd_size, cd_offset, len(comment)) + comment


def _end_record(data: bytes) -> tuple[int, int, int, int]:
    """``(position, count, cd size, cd offset)`` of the plain EOCD zipfile wrote (no comment)."""
    pos = len(data) - 22
    _, _, _, _, count, cd_size, cd_offset, _ = struct.unpack_from("<4sHHHHIIH", data, pos)
    return pos, count, cd_size, cd_offset


def test_a_torch_checkpoint_is_recognised_from_its_listing(tmp_path: Path) -> None:
    path = torch_zip(tmp_path / "model.pt")
    assert sniff(path.read_bytes()[:16]) is ZIP_MAGIC
    result = parse(path)
    assert result.is_pytorch
    assert result.archive_name == "archive"
    assert result.has_pickle
    assert result.entries == (
        "archive/data.pkl",
        "archive/byteorder",
        "archive/data/0",
        "archive/data/1",
        "archive/version",
        "archive/.data/serialization_id",
    )
    assert result.entry_count == 6


def test_older_torch_names_the_folder_after_the_file(tmp_path: Path) -> None:
    result = parse(torch_zip(tmp_path / "old.pth", folder="resnet50-0676ba61"))
    assert result.is_pytorch
    assert result.archive_name == "resnet50-0676ba61"


def test_other_zips_are_not_pytorch(tmp_path: Path) -> None:
    path = tmp_path / "bundle.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("README.md", "hello")
        z.writestr("nested/deeper/data.pkl", PICKLE)
        z.writestr("名前.txt", "utf-8 name")
    result = parse(path)
    assert not result.is_pytorch
    assert result.has_pickle
    assert "名前.txt" in result.entries


def test_listings_are_capped_but_the_count_is_kept(tmp_path: Path) -> None:
    result = parse(torch_zip(tmp_path / "model.pt", storages=10), max_entries=3)
    assert len(result.entries) == 3
    assert result.entry_count == 14
    assert result.is_pytorch  # data.pkl is written first


def test_comments_and_prepended_data_are_handled(tmp_path: Path) -> None:
    path = tmp_path / "commented.pt"
    with zipfile.ZipFile(path, "w") as z:
        z.comment = b"PK\x05\x06 a comment that looks like an end record" + b"x" * 1000
        z.writestr("archive/data.pkl", PICKLE)
    assert parse(path).is_pytorch
    stubbed = write(tmp_path / "stubbed.pt", b"#!/bin/sh\nexit 0\n" + torch_zip(tmp_path / "inner.pt").read_bytes())
    with RootFS(None).open_regular(str(stubbed)) as f:
        directory = read_central_directory(f, stubbed.stat().st_size)
    assert directory.entries[0].name == "archive/data.pkl"
    with zipfile.ZipFile(stubbed) as z:
        assert directory.entries[0].local_header_offset == z.getinfo("archive/data.pkl").header_offset


def test_zip64_end_records_are_followed(tmp_path: Path) -> None:
    data = torch_zip(tmp_path / "plain.pt").read_bytes()
    pos, count, cd_size, cd_offset = _end_record(data)
    zip64 = struct.pack("<4sQHHIIQQQQ", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, cd_size, cd_offset)
    locator = struct.pack("<4sIQI", b"PK\x06\x07", 0, pos, 1)
    eocd = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    path = write(tmp_path / "zip64.pt", data[:pos] + zip64 + locator + eocd)
    with zipfile.ZipFile(path) as z:
        expected = tuple(z.namelist())
    result = parse(path)
    assert result.entries == expected
    assert result.is_pytorch


def _sparse_zip64(path: Path, data_size: int) -> Path:
    """A stored member of ``data_size`` bytes (a hole: never written), described with ZIP64 extra fields."""
    name = b"archive/data/0"
    local = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 45, 0, 0, 0, 0, 0, 0xFFFFFFFF, 0xFFFFFFFF, len(name), 20)
    local += name + struct.pack("<HHQQ", 1, 16, data_size, data_size)
    first = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 0, 0, 0, 0, 6, 6, 16, 0) + b"archive/data.pkl" + PICKLE
    member_offset = len(first)
    cd = struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, 0, 0, 0, 0, 6, 6, 16, 0, 0, 0, 0, 0, 0)
    cd += b"archive/data.pkl"
    extra = struct.pack("<HHQQQ", 1, 24, data_size, data_size, member_offset)
    cd += struct.pack(
        "<4sHHHHHHIIIHHHHHII",
        b"PK\x01\x02",
        45,
        45,
        0,
        0,
        0,
        0,
        0,
        0xFFFFFFFF,
        0xFFFFFFFF,
        len(name),
        len(extra),
        0,
        0,
        0,
        0,
        0xFFFFFFFF,
    )
    cd += name + extra
    cd_offset = member_offset + len(local) + data_size
    zip64_pos = cd_offset + len(cd)
    tail = struct.pack("<4sQHHIIQQQQ", b"PK\x06\x06", 44, 45, 45, 0, 0, 2, 2, len(cd), cd_offset)
    tail += struct.pack("<4sIQI", b"PK\x06\x07", 0, zip64_pos, 1)
    tail += struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    with path.open("wb") as f:
        f.write(first + local)
        f.seek(cd_offset)
        f.write(cd + tail)
    return path


def test_a_sparse_multi_gb_zip64_archive_costs_only_its_directory(tmp_path: Path) -> None:
    size = 6 * 2**30
    path = _sparse_zip64(tmp_path / "huge.pt", size)
    result, f = parse_counting(path)
    assert isinstance(result, TorchZip), result
    assert result.entries == ("archive/data.pkl", "archive/data/0")
    assert result.is_pytorch
    assert result.bytes_read == f.bytes_read < 256 * 1024
    with CountingFile(path) as g:
        entry = read_central_directory(g, path.stat().st_size).entries[1]
    assert entry.uncompressed_size == entry.compressed_size == size


HOSTILE = {
    "no end record": (b"PK\x03\x04" + b"\0" * 200, "no end of central directory record"),
    "too short": (b"PK\x05\x06", "too short"),
    "huge entry count": (b"\0" * 100 + _eocd(0xFFFE, 46, 54), "claims 65534 entries"),
    "directory offset beyond the file": (b"\0" * 100 + _eocd(1, 46, 2**31), "lies beyond its end record"),
    "directory size beyond the file": (b"\0" * 100 + _eocd(1, 2**31, 0), "lies beyond its end record"),
    "bad entry signature": (b"\0" * 46 + _eocd(1, 46, 0), "bad signature"),
    "entry name past the directory": (
        struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, 0, 0, 0, 0, 0, 0, 500, 0, 0, 0, 0, 0, 0)
        + _eocd(1, 46, 0),
        "runs past the end of the directory",
    ),
    "zip64 locator pointing past itself": (
        b"\0" * 100 + struct.pack("<4sIQI", b"PK\x06\x07", 0, 2**62, 1) + _eocd(0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF),
        "ZIP64 end record offset",
    ),
    "zip64 record missing": (
        b"\0" * 100 + struct.pack("<4sIQI", b"PK\x06\x07", 0, 10, 1) + _eocd(0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF),
        "ZIP64 end of central directory record is missing",
    ),
    "split archive": (
        struct.pack("<4sHHHHIIH", b"PK\x05\x06", 1, 0, 0, 0, 0, 0, 0),
        "multi-disk",
    ),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_end_records_fail_fast_with_a_reason(tmp_path: Path, name: str) -> None:
    data, reason = HOSTILE[name]
    result, f = parse_counting(write(tmp_path / "hostile.pt", data))
    assert isinstance(result, FormatError), result
    assert reason in str(result), str(result)
    assert f.bytes_read <= len(data) + 98  # the last 98 bytes are tried first, then the last 64 KiB


def test_a_directory_over_the_cap_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="more than the 100 bytes cap"):
        parse(torch_zip(tmp_path / "model.pt"), max_central_dir=100)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_corrupted_archives_only_ever_raise_format_error(tmp_path: Path, data: st.DataObject) -> None:
    original = bytearray(_SEED)
    for _ in range(data.draw(st.integers(1, 6))):
        # Aim at the directory and end record, where the parser looks.
        original[data.draw(st.integers(len(original) - 500, len(original) - 1))] = data.draw(st.integers(0, 255))
    path = write(tmp_path / "fuzz.pt", bytes(original))
    result, _ = parse_counting(path)
    assert isinstance(result, (TorchZip, FormatError))


def _seed() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("archive/data.pkl", PICKLE)
        z.writestr("archive/data/0", b"\0" * 600)
        z.writestr("archive/version", "3\n")
    return buffer.getvalue()


_SEED = _seed()
