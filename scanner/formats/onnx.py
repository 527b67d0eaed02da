"""ONNX model header: the ``ModelProto`` fields around the graph, with the graph itself stepped over.

Producer, opsets, ``doc_string`` and ``metadata_props`` are where exporters record what a model is
and where it came from. They sit before and *after* the graph (field 7), which holds the weights and
can be gigabytes, so we read the wire format ourselves and seek past the graph by its length.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO

from scanner.formats.cursor import Cursor
from scanner.formats.errors import FormatError
from scanner.formats.protobuf import Field, ProtoReader, as_int64, string_map_entry

_MIB = 1 << 20
MAX_DOC_STRING = 64 * 1024
"""Longer doc strings are cut here: they are free text, kept for matching, not for completeness."""
GRAPH_NAME_SCAN_FIELDS = 4096
"""The graph's name follows its nodes; we look this many graph fields for it before giving up."""
GRAPH_NAME_SCAN_BYTES = 1 * _MIB


@dataclass(frozen=True)
class OnnxHeader:
    """What an ONNX ``ModelProto`` says about itself outside its graph."""

    ir_version: int | None
    producer_name: str
    """The exporter (``pytorch``, ``tf2onnx``, ``onnx.quantize`` ...)."""
    producer_version: str
    domain: str
    model_version: int | None
    doc_string: str
    """At most ``MAX_DOC_STRING`` bytes of it."""
    metadata_props: dict[str, str]
    opset_imports: dict[str, int]
    """Opset version by operator domain; ``""`` is the default ``ai.onnx`` domain."""
    graph_name: str | None
    """The graph's name when it appears within the first fields of the graph."""
    bytes_read: int


def read_onnx(
    f: BinaryIO, size: int, max_field: int = 16 * _MIB, *, max_read: int = 64 * _MIB, max_fields: int = 50_000
) -> OnnxHeader:
    """Parse the top-level fields of the ONNX model ``f`` (``size`` bytes), skipping the graph.

    ``max_field`` caps each string read (longer ones are refused, except the doc string, which is
    cut); ``max_read`` caps all bytes read and ``max_fields`` all fields visited. Raises
    ``FormatError`` for malformed protobuf or a file with neither an IR version nor a graph.
    """
    cursor = Cursor(f, size, max_read=max_read)
    reader = ProtoReader(cursor, max_fields=max_fields)
    ir_version: int | None = None
    model_version: int | None = None
    strings = {2: "", 3: "", 4: "", 6: ""}
    metadata: dict[str, str] = {}
    opsets: dict[str, int] = {}
    graph_name: str | None = None
    saw_graph = False
    for field in reader.fields(size):
        if field.number == 1:
            ir_version = as_int64(reader.scalar(field))
        elif field.number == 5:
            model_version = as_int64(reader.scalar(field))
        elif field.number == 6:
            strings[6] = reader.text(field, MAX_DOC_STRING, truncate=True)
        elif field.number in strings:
            strings[field.number] = reader.text(field, max_field)
        elif field.number == 7:
            saw_graph = True
            graph_name = _graph_name(reader, field) or graph_name
        elif field.number == 8:
            domain, version = _opset(reader, field, max_field)
            opsets[domain] = version
        elif field.number == 14:
            key, value = string_map_entry(reader, field, max_field)
            metadata[key] = value
    if ir_version is None and not saw_graph:
        raise FormatError("not an ONNX model: no ir_version and no graph")
    return OnnxHeader(
        ir_version=ir_version,
        producer_name=strings[2],
        producer_version=strings[3],
        domain=strings[4],
        model_version=model_version,
        doc_string=strings[6],
        metadata_props=metadata,
        opset_imports=opsets,
        graph_name=graph_name,
        bytes_read=cursor.bytes_read,
    )


def _graph_name(reader: ProtoReader, graph: Field) -> str | None:
    """The ``GraphProto.name`` if it comes early; the caller's loop then seeks past the whole graph."""
    limit = graph.start + GRAPH_NAME_SCAN_BYTES
    for seen, sub in enumerate(reader.message(graph)):
        if sub.number == 2:
            return reader.text(sub, 64 * 1024, truncate=True)
        if seen >= GRAPH_NAME_SCAN_FIELDS or sub.start > limit:
            return None
    return None


def _opset(reader: ProtoReader, field: Field, cap: int) -> tuple[str, int]:
    domain, version = "", 0
    for sub in reader.message(field):
        if sub.number == 1:
            domain = reader.text(sub, cap)
        elif sub.number == 2:
            version = as_int64(reader.scalar(sub))
    return domain, version
