"""HDF5, Keras v3 archives, TFLite flatbuffers and Core ML models: identification and their few header names."""

from __future__ import annotations

import contextlib
import json
import re
import struct
import tempfile
import zipfile
from pathlib import Path

import pytest
from formats_support import CountingFile, field_bytes, field_varint, varint, write
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanner.collectors.models.weights import sniff
from scanner.formats.errors import FormatError
from scanner.formats.other import (
    HDF5_MAGIC,
    TFLITE_MAGIC,
    Hdf5Header,
    KerasArchive,
    MlModelHeader,
    TfliteHeader,
    identify_hdf5,
    identify_mlmodel,
    identify_tflite,
    read_keras_zip,
)
from scanner.fsview import RootFS

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _open(path: Path) -> tuple[CountingFile, int]:
    return CountingFile(path), path.stat().st_size


# --- HDF5 -------------------------------------------------------------------------------------------------------


def test_hdf5_at_the_start_with_keras_attributes(tmp_path: Path) -> None:
    path = write(
        tmp_path / "model.h5", HDF5_SIGNATURE + b"\x00" + b"\0" * 200 + b"keras_version\x003.6.0" + b"\0" * 100
    )
    assert sniff(path.read_bytes()[:16]) is HDF5_MAGIC
    with RootFS(None).open_regular(str(path)) as f:
        header = identify_hdf5(f, path.stat().st_size)
    assert header == Hdf5Header(0, 0, True, header.bytes_read)


def test_hdf5_after_a_user_block_in_a_sparse_file(tmp_path: Path) -> None:
    path = tmp_path / "big.h5"
    with path.open("wb") as f:
        f.write(b"user block text")
        f.seek(2048)
        f.write(HDF5_SIGNATURE + b"\x02" + b"\0" * 64)
        f.truncate(5 * 2**30)
    f2, size = _open(path)
    with f2:
        header = identify_hdf5(f2, size)
    assert (header.superblock_offset, header.superblock_version, header.mentions_keras) == (2048, 2, False)
    assert header.bytes_read == f2.bytes_read < 256 * 1024


def test_not_hdf5(tmp_path: Path) -> None:
    path = tmp_path / "x.h5"
    with path.open("wb") as f:
        f.truncate(3 * 2**30)
    f2, size = _open(path)
    with f2, pytest.raises(FormatError, match="no superblock signature"):
        identify_hdf5(f2, size)
    assert f2.bytes_read < 512 * 1024


# --- Keras v3 ---------------------------------------------------------------------------------------------------

KERAS_CONFIG = {
    "module": "keras",
    "class_name": "Sequential",
    "config": {
        "name": "sequential",
        "layers": [
            {"module": "keras.layers", "class_name": "InputLayer", "config": {"batch_shape": [None, 8]}},
            {"module": "keras.layers", "class_name": "Dense", "config": {"units": 4}},
            {"module": "moonshot_kernels.layers", "class_name": "KimiAttention", "registered_name": "Kimi>Attn"},
        ],
    },
    "registered_name": None,
}


def keras_file(
    path: Path, config: bytes | None = None, compression: int = zipfile.ZIP_DEFLATED, metadata: bool = True
) -> Path:
    with zipfile.ZipFile(path, "w", compression=compression) as z:
        if metadata:
            z.writestr("metadata.json", json.dumps({"keras_version": "3.6.0", "date_saved": "2026-01-01@00:00:00"}))
        if config is not None or compression == zipfile.ZIP_DEFLATED:
            z.writestr("config.json", config if config is not None else json.dumps(KERAS_CONFIG))
        z.writestr("model.weights.h5", HDF5_SIGNATURE + b"\0" * 100)
    return path


def parse_keras(path: Path, **options: int) -> KerasArchive:
    with RootFS(None).open_regular(str(path)) as f:
        return read_keras_zip(f, path.stat().st_size, **options)


def test_a_keras_archive_names_its_classes_and_modules(tmp_path: Path) -> None:
    archive = parse_keras(keras_file(tmp_path / "model.keras"))
    assert archive.class_name == "Sequential"
    assert archive.keras_version == "3.6.0"
    assert archive.modules == ("keras", "keras.layers", "moonshot_kernels.layers")
    assert archive.class_names == ("Dense", "InputLayer", "KimiAttention", "Sequential")
    assert archive.config_read
    assert set(archive.members) == {"metadata.json", "config.json", "model.weights.h5"}


def test_stored_members_are_read_too(tmp_path: Path) -> None:
    path = keras_file(tmp_path / "m.keras", json.dumps(KERAS_CONFIG).encode(), compression=zipfile.ZIP_STORED)
    assert parse_keras(path).class_name == "Sequential"


def test_a_config_over_the_member_cap_is_listed_but_not_read(tmp_path: Path) -> None:
    archive = parse_keras(keras_file(tmp_path / "m.keras"), max_member=16)
    assert not archive.config_read
    assert archive.class_name is None
    assert "config.json" in archive.members


@pytest.mark.parametrize(
    ("config", "compression", "reason"),
    [
        (b'{"pad": "' + b" " * (9 * 2**20) + b'"}', zipfile.ZIP_DEFLATED, "decompresses to more than the 8 MiB cap"),
        (b"[" * 100_000 + b"]" * 100_000, zipfile.ZIP_DEFLATED, "nested too deeply|not valid JSON"),
        (b"{not json", zipfile.ZIP_DEFLATED, "not valid JSON"),
        (b'{"a": "\xff"}', zipfile.ZIP_DEFLATED, "not UTF-8"),
        (b"{}", zipfile.ZIP_BZIP2, "compression method 12"),
    ],
)
def test_hostile_configs_fail_with_a_reason(tmp_path: Path, config: bytes, compression: int, reason: str) -> None:
    path = keras_file(tmp_path / "m.keras", config, compression=compression)
    f, size = _open(path)
    with f, pytest.raises(FormatError) as raised:
        read_keras_zip(f, size)
    assert re.search(reason, str(raised.value)), str(raised.value)
    assert f.bytes_read <= 3 * size  # the directory, then each of the two JSON members once


def test_a_zip_without_config_is_not_keras(tmp_path: Path) -> None:
    path = tmp_path / "x.keras"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("other.json", "{}")
    with pytest.raises(FormatError, match="no config\\.json"):
        parse_keras(path)


def test_a_member_whose_local_header_is_missing(tmp_path: Path) -> None:
    data = bytearray(keras_file(tmp_path / "m.keras").read_bytes())
    at = data.find(b"PK\x03\x04", 1)  # the second member: config.json
    data[at : at + 4] = b"XXXX"
    with pytest.raises(FormatError, match="no local header"):
        parse_keras(write(tmp_path / "broken.keras", bytes(data)))


# --- TFLite -----------------------------------------------------------------------------------------------------


def _align(buf: bytearray) -> None:
    buf += b"\0" * (-len(buf) % 4)


def tflite_file(
    path: Path,
    *,
    version: int = 3,
    description: str | None = "MLIR Converted.",
    names: tuple[str, ...] = (),
    hole: int = 0,
) -> Path:
    """A minimal TFLite flatbuffer: root Model table with version, description and metadata entries.

    Laid out front to back (every uoffset points forward, as the format requires); ``hole`` bytes of
    nothing sit between the root table and everything it points to.
    """
    head = bytearray(struct.pack("<I4s", 0, b"TFL3"))
    vtable = len(head)
    head += struct.pack("<HH7H", 18, 16, 4, 0, 0, 8 if description is not None else 0, 0, 0, 12 if names else 0)
    _align(head)
    table = len(head)
    struct.pack_into("<I", head, 0, table)
    head += struct.pack("<iIII", table - vtable, version, 0, 0)
    base = len(head) + hole
    tail = bytearray()
    if description is not None:
        struct.pack_into("<I", head, table + 8, base + len(tail) - (table + 8))
        raw = description.encode()
        tail += struct.pack("<I", len(raw)) + raw + b"\0"
        _align(tail)
    if names:
        vector = base + len(tail)
        struct.pack_into("<I", head, table + 12, vector - (table + 12))
        tail += struct.pack("<I", len(names)) + b"\0" * 4 * len(names)
        meta_vtable = base + len(tail)
        tail += struct.pack("<HHHH", 8, 12, 4, 8)
        for index, name in enumerate(names):
            meta = base + len(tail)
            slot = vector + 4 + 4 * index
            struct.pack_into("<I", tail, slot - base, meta - slot)
            tail += struct.pack("<iII", meta - meta_vtable, 8, index)  # name: 8 bytes on, just past the table
            raw = name.encode()
            tail += struct.pack("<I", len(raw)) + raw + b"\0"
            _align(tail)
    with path.open("wb") as f:
        f.write(head)
        f.seek(base)
        f.write(tail)
    return path


def parse_tflite(path: Path) -> TfliteHeader:
    with RootFS(None).open_regular(str(path)) as f:
        return identify_tflite(f, path.stat().st_size)


def test_a_tflite_root_table_is_read(tmp_path: Path) -> None:
    path = tflite_file(tmp_path / "m.tflite", names=("min_runtime_version", "TFLITE_METADATA"))
    assert sniff(path.read_bytes()[:16]) is TFLITE_MAGIC
    header = parse_tflite(path)
    assert header.version == 3
    assert header.description == "MLIR Converted."
    assert header.metadata_names == ("min_runtime_version", "TFLITE_METADATA")


def test_optional_tflite_fields_may_be_absent(tmp_path: Path) -> None:
    header = parse_tflite(tflite_file(tmp_path / "m.tflite", description=None))
    assert header == TfliteHeader(3, None, (), header.bytes_read)


def test_a_sparse_3_gb_tflite_costs_a_few_reads(tmp_path: Path) -> None:
    path = tflite_file(tmp_path / "big.tflite", names=("min_runtime_version",), hole=3 * 2**30)
    f, size = _open(path)
    with f:
        header = identify_tflite(f, size)
    assert header.description == "MLIR Converted."
    assert header.metadata_names == ("min_runtime_version",)
    assert header.bytes_read == f.bytes_read < 64 * 1024


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (struct.pack("<I4s", 10**9, b"TFL3") + b"\0" * 16, "root table lies beyond the end of the file"),
        (struct.pack("<I4s", 8, b"TFL3") + struct.pack("<i", 2**30) + b"\0" * 16, "outside the file"),
        (struct.pack("<I4s", 8, b"TFL4") + b"\0" * 16, "no TFL3 identifier"),
        (b"TFL3", "too short"),
    ],
)
def test_hostile_flatbuffers_fail_with_a_reason(tmp_path: Path, data: bytes, reason: str) -> None:
    f, size = _open(write(tmp_path / "h.tflite", data))
    with f, pytest.raises(FormatError, match=reason):
        identify_tflite(f, size)


def test_a_huge_description_length_is_refused(tmp_path: Path) -> None:
    data = bytearray(tflite_file(tmp_path / "m.tflite").read_bytes())
    at = data.find(b"MLIR") - 4
    struct.pack_into("<I", data, at, 2**31)
    with pytest.raises(FormatError, match="runs past the end of the file"):
        parse_tflite(write(tmp_path / "h.tflite", bytes(data)))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_corrupted_flatbuffers_only_ever_raise_format_error(tmp_path: Path, data: st.DataObject) -> None:
    original = bytearray(_TFLITE_SEED)
    for _ in range(data.draw(st.integers(1, 6))):
        original[data.draw(st.integers(0, len(original) - 1))] = data.draw(st.integers(0, 255))
    f, size = _open(write(tmp_path / "fuzz.tflite", bytes(original)))
    with f, contextlib.suppress(FormatError):
        identify_tflite(f, size)


def _tflite_seed() -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        return tflite_file(Path(folder) / "seed.tflite", names=("a", "b")).read_bytes()


_TFLITE_SEED = _tflite_seed()


# --- Core ML ----------------------------------------------------------------------------------------------------


def mlmodel(spec_version: int | None = 6, body_field: int = 502, body: bytes = b"\x0a\x00") -> bytes:
    feature = field_bytes(1, "input_ids") + field_bytes(2, "token ids")
    metadata = (
        field_bytes(1, "Chat model")
        + field_bytes(2, "1.0")
        + field_bytes(3, "Moonshot AI")
        + field_bytes(4, "MIT")
        + field_bytes(100, field_bytes(1, "com.github.apple.coremltools.source") + field_bytes(2, "torch==2.4.0"))
        + field_bytes(100, field_bytes(1, "base_model") + field_bytes(2, "moonshotai/Kimi-K2-Instruct"))
    )
    description = field_bytes(1, feature) + field_bytes(10, feature) + field_bytes(100, metadata)
    version = field_varint(1, spec_version) if spec_version is not None else b""
    return version + field_bytes(2, description) + field_varint(10, 0) + field_bytes(body_field, body)


def test_a_core_ml_model_header(tmp_path: Path) -> None:
    path = write(tmp_path / "m.mlmodel", mlmodel())
    with RootFS(None).open_regular(str(path)) as f:
        header = identify_mlmodel(f, path.stat().st_size)
    assert header == MlModelHeader(
        specification_version=6,
        short_description="Chat model",
        version_string="1.0",
        author="Moonshot AI",
        license="MIT",
        user_defined={
            "com.github.apple.coremltools.source": "torch==2.4.0",
            "base_model": "moonshotai/Kimi-K2-Instruct",
        },
        model_type="mlProgram",
        bytes_read=header.bytes_read,
    )


def test_a_sparse_multi_gb_neural_network_is_stepped_over(tmp_path: Path) -> None:
    hole = 3 * 2**30
    head = mlmodel(body_field=500, body=b"")[:-1] + varint(hole)  # neuralNetwork field claiming `hole` bytes
    path = tmp_path / "big.mlmodel"
    with path.open("wb") as f:
        f.write(head)
        f.truncate(len(head) + hole)
    f2, size = _open(path)
    with f2:
        header = identify_mlmodel(f2, size)
    assert header.model_type == "neuralNetwork"
    assert header.author == "Moonshot AI"
    assert header.bytes_read == f2.bytes_read < 256 * 1024


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (mlmodel(spec_version=None), "no plausible specificationVersion"),
        (mlmodel(spec_version=5000), "no plausible specificationVersion"),
        (field_varint(1, 6) + varint(2 << 3 | 2) + varint(2**40), "exceeds the file size"),
        (b"\x08" + b"\xff" * 12, "malformed varint"),
        (b"", "no plausible specificationVersion"),
    ],
)
def test_hostile_core_ml_fails_with_a_reason(tmp_path: Path, data: bytes, reason: str) -> None:
    f, size = _open(write(tmp_path / "h.mlmodel", data))
    with f, pytest.raises(FormatError, match=reason):
        identify_mlmodel(f, size)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_corrupted_core_ml_only_ever_raises_format_error(tmp_path: Path, data: st.DataObject) -> None:
    original = bytearray(mlmodel())
    for _ in range(data.draw(st.integers(1, 6))):
        original[data.draw(st.integers(0, len(original) - 1))] = data.draw(st.integers(0, 255))
    f, size = _open(write(tmp_path / "fuzz.mlmodel", bytes(original)))
    with f, contextlib.suppress(FormatError):
        identify_mlmodel(f, size)
