"""ONNX headers: the protobuf wire reader, real models from onnx.helper, a sparse multi-GB graph, hostile bytes."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import pytest
from conftest import require_module
from formats_support import CountingFile, field_bytes, field_varint, varint, write
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanner.formats.errors import FormatError
from scanner.formats.onnx import MAX_DOC_STRING, OnnxHeader, read_onnx
from scanner.fsview import RootFS


def model_proto(graph: bytes = b"", *, after_graph: bytes = b"") -> bytes:
    """A ModelProto in the field order protobuf serialises it: header fields, graph, opsets, metadata."""
    head = (
        field_varint(1, 9)
        + field_bytes(2, "pytorch")
        + field_bytes(3, "2.5.1")
        + field_bytes(4, "ai.deepseek")
        + field_varint(5, -1)
        + field_bytes(6, "Distilled from DeepSeek-R1.")
    )
    opsets = field_bytes(8, field_bytes(1, "") + field_varint(2, 17)) + field_bytes(
        8, field_bytes(1, "com.microsoft") + field_varint(2, 1)
    )
    metadata = field_bytes(14, field_bytes(1, "base_model") + field_bytes(2, "deepseek-ai/DeepSeek-R1")) + field_bytes(
        14, field_bytes(1, "license") + field_bytes(2, "mit")
    )
    return head + field_bytes(7, graph) + opsets + metadata + after_graph


def parse(path: Path, **options: int) -> OnnxHeader:
    with RootFS(None).open_regular(str(path)) as f:
        return read_onnx(f, path.stat().st_size, **options)


def parse_counting(path: Path, **options: int) -> tuple[OnnxHeader | FormatError, CountingFile]:
    with CountingFile(path) as f:
        try:
            return read_onnx(f, path.stat().st_size, **options), f
        except FormatError as e:
            return e, f


def test_a_hand_encoded_model_proto(tmp_path: Path) -> None:
    graph = field_bytes(1, field_bytes(4, "MatMul")) * 3 + field_bytes(2, "main_graph") + field_bytes(5, b"\0" * 1000)
    header = parse(write(tmp_path / "m.onnx", model_proto(graph)))
    assert header.ir_version == 9
    assert header.producer_name == "pytorch"
    assert header.producer_version == "2.5.1"
    assert header.domain == "ai.deepseek"
    assert header.model_version == -1
    assert header.doc_string == "Distilled from DeepSeek-R1."
    assert header.graph_name == "main_graph"
    assert header.opset_imports == {"": 17, "com.microsoft": 1}
    assert header.metadata_props == {"base_model": "deepseek-ai/DeepSeek-R1", "license": "mit"}


def test_unknown_fields_of_every_wire_type_are_skipped(tmp_path: Path) -> None:
    unknown = (
        field_varint(30, 5) + varint(31 << 3 | 1) + b"\0" * 8 + varint(32 << 3 | 5) + b"\0" * 4 + field_bytes(33, b"x")
    )
    header = parse(write(tmp_path / "m.onnx", unknown + model_proto(field_bytes(2, "g"), after_graph=unknown)))
    assert header.graph_name == "g"
    assert header.metadata_props["license"] == "mit"


def test_a_sparse_multi_gb_graph_is_stepped_over(tmp_path: Path) -> None:
    hole = 3 * 2**30  # an initializer's raw_data, never written: a hole in the file
    initializer_head = varint(5 << 3 | 2) + varint(hole)
    graph_head = field_bytes(2, "big_graph") + initializer_head
    graph_length = len(graph_head) + hole
    head = field_varint(1, 8) + field_bytes(2, "onnx-export") + varint(7 << 3 | 2) + varint(graph_length)
    tail = field_bytes(8, field_bytes(1, "") + field_varint(2, 18)) + field_bytes(
        14, field_bytes(1, "source") + field_bytes(2, "Kimi-K2")
    )
    path = tmp_path / "huge.onnx"
    with path.open("wb") as f:
        f.write(head + graph_head)
        f.seek(len(head) + graph_length)
        f.write(tail)
    result, f = parse_counting(path)
    assert isinstance(result, OnnxHeader), result
    assert result.graph_name == "big_graph"
    assert result.opset_imports == {"": 18}
    assert result.metadata_props == {"source": "Kimi-K2"}
    assert result.bytes_read == f.bytes_read < 256 * 1024


def test_long_doc_strings_are_cut_not_refused(tmp_path: Path) -> None:
    data = field_varint(1, 8) + field_bytes(6, "é" * MAX_DOC_STRING) + field_bytes(7, b"")
    header = parse(write(tmp_path / "m.onnx", data))
    assert len(header.doc_string.encode()) == MAX_DOC_STRING


HOSTILE = {
    "varint longer than ten bytes": (b"\x08" + b"\xff" * 11 + b"\x01", "malformed varint"),
    "varint cut by the end of the file": (b"\x08\xff\xff", "ends in the middle of a varint"),
    "length beyond the file": (varint(2 << 3 | 2) + varint(2**62) + b"abc", "exceeds the file size"),
    "group wire type": (varint(9 << 3 | 3) + b"\0" * 8, "protobuf group"),
    "end group wire type": (varint(9 << 3 | 4) + b"\0" * 8, "protobuf group"),
    "invalid wire type": (varint(9 << 3 | 7) + b"\0" * 8, "invalid wire type 7"),
    "field number zero": (b"\x00\x00", "field number 0"),
    "fixed64 cut short": (varint(9 << 3 | 1) + b"\0" * 3, "truncated"),
    "ir_version of the wrong type": (field_bytes(1, b"x"), "should be a varint"),
    "sub-message overrunning its parent": (
        field_varint(1, 8) + field_bytes(8, varint(1 << 3 | 2) + varint(50) + b"ab") + b"\0" * 60,
        "exceeds its enclosing message",
    ),
    "not onnx at all": (field_bytes(2, "just a string"), "not an ONNX model"),
    "empty file": (b"", "not an ONNX model"),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_protobuf_fails_fast_with_a_reason(tmp_path: Path, name: str) -> None:
    data, reason = HOSTILE[name]
    result, f = parse_counting(write(tmp_path / "hostile.onnx", data))
    assert isinstance(result, FormatError), result
    assert re.search(reason, str(result)), str(result)
    assert f.bytes_read <= len(data)


def test_caps_on_strings_reads_and_fields(tmp_path: Path) -> None:
    path = write(tmp_path / "m.onnx", model_proto(field_bytes(2, "g")))
    with pytest.raises(FormatError, match="field 2 is 7 bytes, more than the 4 bytes cap"):
        parse(path, max_field=4)
    many = field_varint(1, 8) + field_varint(40, 1) * 1000
    with pytest.raises(FormatError, match="more than 100 protobuf fields"):
        parse(write(tmp_path / "many.onnx", many), max_fields=100)
    with pytest.raises(FormatError, match="read cap"):
        parse(write(tmp_path / "big.onnx", field_varint(1, 8) + field_bytes(2, "x" * 5000)), max_read=1024)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=300))
def test_random_bytes_only_ever_raise_format_error(tmp_path: Path, body: bytes) -> None:
    result, _ = parse_counting(write(tmp_path / "fuzz.onnx", body))
    assert isinstance(result, (OnnxHeader, FormatError))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_corrupted_models_only_ever_raise_format_error(tmp_path: Path, data: st.DataObject) -> None:
    original = bytearray(model_proto(field_bytes(1, b"\x12\x03abc") + field_bytes(2, "g")))
    for _ in range(data.draw(st.integers(1, 6))):
        original[data.draw(st.integers(0, len(original) - 1))] = data.draw(st.integers(0, 255))
    result, _ = parse_counting(write(tmp_path / "fuzz.onnx", bytes(original)))
    assert isinstance(result, (OnnxHeader, FormatError))


def test_a_real_model_from_onnx_helper_agrees_with_onnx(tmp_path: Path) -> None:
    onnx = require_module("onnx")
    numpy = require_module("numpy")
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(numpy.zeros((64, 64), dtype=numpy.float32), name="W")
    node = helper.make_node("MatMul", ["X", "W"], ["Y"])
    graph = helper.make_graph(
        [node],
        "distilled_qwen",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 64])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1, 64])],
        initializer=[weight],
    )
    model = helper.make_model(
        graph,
        producer_name="optimum",
        producer_version="1.23",
        doc_string="int8 export",
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)],
    )
    model.model_version = 3
    helper.set_model_props(model, {"base_model": "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B", "quant": "int8"})
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    header = parse(path)
    loaded = onnx.load(str(path))
    assert header.ir_version == loaded.ir_version
    assert header.producer_name == loaded.producer_name == "optimum"
    assert header.producer_version == loaded.producer_version
    assert header.doc_string == loaded.doc_string
    assert header.model_version == loaded.model_version == 3
    assert header.graph_name == loaded.graph.name == "distilled_qwen"
    assert header.opset_imports == {o.domain: o.version for o in loaded.opset_import}
    assert header.metadata_props == {p.key: p.value for p in loaded.metadata_props}
    assert header.bytes_read <= path.stat().st_size


def test_fixed_width_fields_are_little_endian(tmp_path: Path) -> None:
    data = field_varint(1, 8) + varint(20 << 3 | 5) + struct.pack("<I", 7) + field_bytes(7, b"")
    assert parse(write(tmp_path / "m.onnx", data)).ir_version == 8
