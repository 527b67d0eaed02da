"""safetensors headers: files written by the reference library, a 50 GB sparse file, hostile JSON."""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path

import numpy as np
import pytest
from formats_support import CountingFile, write
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors import safe_open
from safetensors.numpy import save_file

from scanner.collectors.models.weights import sniff
from scanner.formats.errors import FormatError
from scanner.formats.safetensors import MAX_PARAMETERS, SAFETENSORS_MAGIC, SafetensorsHeader, read_safetensors
from scanner.fsview import RootFS


def parse(path: Path, **options: int) -> SafetensorsHeader:
    with RootFS(None).open_regular(str(path)) as f:
        return read_safetensors(f, path.stat().st_size, **options)


def parse_counting(path: Path) -> tuple[SafetensorsHeader | FormatError, CountingFile]:
    with CountingFile(path) as f:
        try:
            return read_safetensors(f, path.stat().st_size), f
        except FormatError as e:
            return e, f


def raw_file(path: Path, header: object, data: bytes = b"", *, text: str | None = None) -> Path:
    body = (text if text is not None else json.dumps(header)).encode("utf-8", "surrogatepass")
    return write(path, struct.pack("<Q", len(body)) + body + data)


def test_files_written_by_the_reference_library(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    tensors = {
        "model.embed_tokens.weight": np.zeros((16, 8), dtype=np.float16),
        "model.layers.0.mlp.up_proj.weight": np.zeros((8, 8), dtype=np.float32),
        "model.layers.0.mlp.down_proj.weight": np.zeros((8, 8), dtype=np.float32),
        "lm_head.bias": np.zeros((3,), dtype=np.int64),
    }
    metadata = {"format": "pt", "base_model": "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B"}
    save_file(tensors, str(path), metadata=metadata)
    assert sniff(path.read_bytes()[:16]) is SAFETENSORS_MAGIC
    header = parse(path)
    with safe_open(str(path), "np") as reference:
        assert header.metadata == reference.metadata() == metadata
    assert header.tensor_count == 4
    assert header.dtypes == {"F16": 1, "F32": 2, "I64": 1}
    assert header.parameter_count == 16 * 8 + 2 * 64 + 3
    assert header.total_tensor_bytes == 16 * 8 * 2 + 2 * 64 * 4 + 3 * 8
    assert header.bytes_read == 8 + struct.unpack("<Q", path.read_bytes()[:8])[0]


def test_a_file_without_metadata_has_an_empty_block(tmp_path: Path) -> None:
    path = tmp_path / "plain.safetensors"
    save_file({"w": np.ones((2, 2), dtype=np.float32)}, str(path))
    header = parse(path)
    assert header.metadata == {}
    assert header.tensor_count == 1


def test_a_50_gb_sparse_file_costs_only_its_header(tmp_path: Path) -> None:
    elements = 25 * 2**30  # BF16: 50 GiB of data
    header = {
        "__metadata__": {"format": "pt"},
        "model.embed_tokens.weight": {"dtype": "BF16", "shape": [elements], "data_offsets": [0, 2 * elements]},
    }
    body = json.dumps(header).encode()
    body += b" " * (-len(body) % 8)  # the format pads the header with spaces to 8 bytes
    path = tmp_path / "huge.safetensors"
    with path.open("wb") as f:
        f.write(struct.pack("<Q", len(body)) + body)
        f.truncate(8 + len(body) + 2 * elements)
    result, f = parse_counting(path)
    assert isinstance(result, SafetensorsHeader)
    assert result.parameter_count == elements
    assert result.total_tensor_bytes == 2 * elements
    assert result.bytes_read == f.bytes_read == 8 + len(body)


def _tensor(dtype: str = "F32", shape: object = (2,), offsets: object = (0, 8)) -> dict[str, object]:
    return {"dtype": dtype, "shape": list(shape) if isinstance(shape, tuple) else shape, "data_offsets": offsets}


HOSTILE: dict[str, tuple[object, str | None, bytes, str]] = {
    "not an object": ([1, 2], None, b"", "not a JSON object"),
    "not JSON": (None, "{not json", b"", "not valid JSON"),
    "deep nesting": (None, '{"a":' + "[" * 100_000 + "]" * 100_000 + "}", b"", "nested too deeply|not valid JSON"),
    "duplicate keys": (None, '{"w": 1, "w": 2}', b"", "repeats the key 'w'"),
    "metadata not strings": ({"__metadata__": {"format": 1}}, None, b"", "value for 'format' is not a string"),
    "metadata not an object": ({"__metadata__": ["x"]}, None, b"", "__metadata__ is not a JSON object"),
    "tensor not an object": ({"w": "x"}, None, b"", "tensor 'w' is not a JSON object"),
    "no dtype": ({"w": {"shape": [1], "data_offsets": [0, 4]}}, None, b"\0" * 4, "has no dtype"),
    "negative shape": ({"w": _tensor(shape=(-1,))}, None, b"\0" * 8, "no valid shape"),
    "bool in shape": ({"w": _tensor(shape=[True])}, None, b"\0" * 8, "no valid shape"),
    "too many dimensions": ({"w": _tensor(shape=(1,) * 65)}, None, b"\0" * 8, "no valid shape"),
    "offsets reversed": ({"w": _tensor(offsets=[8, 0])}, None, b"\0" * 8, "begin after they end"),
    "offsets not two": ({"w": _tensor(offsets=[0])}, None, b"\0" * 8, "no valid data_offsets"),
    "offsets beyond the file": ({"w": _tensor(offsets=[0, 2**60])}, None, b"\0" * 8, "holds only 8 bytes of data"),
    "offsets disagree with shape": ({"w": _tensor(shape=(3,))}, None, b"\0" * 8, "holds 8 bytes but its F32 shape"),
    "giant number": (None, '{"w": {"dtype": "F32", "shape": [' + "9" * 10_000 + "]}}", b"", "not valid JSON"),
    "invalid utf-8": (None, None, b"", "not valid UTF-8"),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_headers_fail_with_a_reason(tmp_path: Path, name: str) -> None:
    header, text, data, reason = HOSTILE[name]
    path = tmp_path / "hostile.safetensors"
    if name == "invalid utf-8":
        write(path, struct.pack("<Q", 4) + b'{"\xff"')
    else:
        raw_file(path, header, data, text=text)
    result, f = parse_counting(path)
    assert isinstance(result, FormatError), result
    assert re.search(reason, str(result)), str(result)
    assert f.bytes_read <= path.stat().st_size


@pytest.mark.parametrize(
    ("prefix", "reason"),
    [
        (struct.pack("<Q", 2**63) + b"{}", "exceeds the file size"),
        (struct.pack("<Q", 1) + b"{", "too short"),
        (b"\x01\x02", "too short for the header length"),
    ],
)
def test_bad_header_lengths_are_refused_before_reading(tmp_path: Path, prefix: bytes, reason: str) -> None:
    result, f = parse_counting(write(tmp_path / "bad.safetensors", prefix))
    assert isinstance(result, FormatError)
    assert reason in str(result)
    assert f.bytes_read <= 8


def test_the_header_cap_is_enforced(tmp_path: Path) -> None:
    path = raw_file(tmp_path / "m.safetensors", {"__metadata__": {"x": "y" * 5000}})
    with pytest.raises(FormatError, match="exceeds the 4 KiB cap"):
        parse(path, max_header=4096)


def test_headers_with_millions_of_values_are_refused_before_parsing(tmp_path: Path) -> None:
    text = '{"w": {"dtype": "F32", "shape": [' + "0," * 2_000_001 + '0], "data_offsets": [0, 0]}}'
    path = raw_file(tmp_path / "m.safetensors", None, text=text)
    with pytest.raises(FormatError, match="JSON items, more than the cap of 600000"):
        parse(path)


def test_parameter_counts_are_clamped(tmp_path: Path) -> None:
    shape = [2**40] * 4
    path = raw_file(tmp_path / "m.safetensors", {"a": _tensor("F4", shape, [0, 0]), "b": _tensor("F4", shape, [0, 0])})
    assert parse(path).parameter_count == MAX_PARAMETERS


def test_lone_surrogates_in_metadata_become_replacement_characters(tmp_path: Path) -> None:
    path = raw_file(tmp_path / "m.safetensors", None, text='{"__metadata__": {"name": "a\\ud800b"}}')
    assert parse(path).metadata["name"].encode("utf-8")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.binary(max_size=300) | st.text(alphabet='{}[]":,0123456789-. abdefnlrstu_', max_size=300).map(str.encode)
)
def test_random_headers_only_ever_raise_format_error(tmp_path: Path, body: bytes) -> None:
    path = write(tmp_path / "fuzz.safetensors", struct.pack("<Q", len(body)) + body + b"\0" * 64)
    result, _ = parse_counting(path)
    assert isinstance(result, (SafetensorsHeader, FormatError))
