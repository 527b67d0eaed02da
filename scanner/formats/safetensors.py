"""safetensors header: the JSON table of tensors at the front of the file, never the tensor data.

The header gives the ``__metadata__`` block (``format``, sometimes base-model notes), the dtypes and
shapes (parameter count, quantisation) and where the data ends, which says whether the file is whole.
The header length is checked against the file size and a cap before anything is read, and the JSON
is parsed with guards against deep nesting, duplicate keys and giant numbers.
"""

from __future__ import annotations

import json
import struct
from collections import Counter
from dataclasses import dataclass
from typing import BinaryIO

from scanner.formats.cursor import Cursor, describe_size
from scanner.formats.errors import FormatError
from scanner.formats.magic import Magic
from scanner.printable import encodable

_MIB = 1 << 20
_LENGTH = struct.Struct("<Q")
MAX_HEADER = 100 * _MIB
"""The JSON header cap (the reference implementation refuses more than 100 MB too)."""
MAX_PARAMETERS = 1 << 62
"""Parameter counts are clamped here: a hostile shape could otherwise build an integer of any size."""
MAX_DIMENSIONS = 64
MAX_JSON_ITEMS = 600_000
"""Commas allowed in the header. The byte cap alone lets through 50 million tiny values (seconds of parsing,
gigabytes of objects); real headers use about six commas per tensor, so this still allows ~100k tensors in one
file (sharded models hold a few thousand per file), parsed in about half a second at most."""
# Bytes per element of the dtypes whose size is a whole number of bytes; used to check each tensor's
# byte range against its shape. Sub-byte and unknown dtypes are counted but not checked.
DTYPE_SIZES = {
    "BOOL": 1,
    "U8": 1,
    "I8": 1,
    "F8_E5M2": 1,
    "F8_E4M3": 1,
    "F8_E8M0": 1,
    "U16": 2,
    "I16": 2,
    "F16": 2,
    "BF16": 2,
    "U32": 4,
    "I32": 4,
    "F32": 4,
    "U64": 8,
    "I64": 8,
    "F64": 8,
    "C64": 8,
}


@dataclass(frozen=True)
class SafetensorsHeader:
    """What a safetensors file says about itself in its JSON header."""

    metadata: dict[str, str]
    """The ``__metadata__`` block (string to string, as the format requires)."""
    tensor_count: int
    """Number of tensors described."""
    dtypes: dict[str, int]
    """Tensor count per dtype (``{"BF16": 290, "F32": 1}``)."""
    total_tensor_bytes: int
    """End of the last tensor's data: the size of the data section the header describes."""
    parameter_count: int
    """Sum over tensors of the product of the shape, clamped at ``MAX_PARAMETERS``."""
    bytes_read: int
    """Bytes actually read from the file (8 + the header length)."""


def read_safetensors(f: BinaryIO, size: int, max_header: int = MAX_HEADER) -> SafetensorsHeader:
    """Parse the JSON header of a safetensors file ``f`` of ``size`` bytes.

    ``max_header`` caps the JSON header.
    Raises ``FormatError`` when the header is malformed or describes data the file does not hold.
    """
    cursor = Cursor(f, size, max_read=8 + max_header, chunk=8)  # read exactly the length, then the header
    if size < 8:
        raise FormatError(f"not a safetensors file: {size} bytes is too short for the header length")
    (length,) = cursor.unpack(_LENGTH)
    if length > size - 8:
        raise FormatError(f"header length {length} exceeds the file size ({size} bytes)")
    if length > max_header:
        raise FormatError(f"header length {length} exceeds the {describe_size(max_header)} cap")
    if length < 2:
        raise FormatError(f"header length {length} is too short to hold a JSON object")
    raw = cursor.read(length)
    commas = raw.count(b",")
    if commas > MAX_JSON_ITEMS:
        raise FormatError(f"the header holds {commas} JSON items, more than the cap of {MAX_JSON_ITEMS}")
    document = _parse_json(raw)
    if not isinstance(document, dict):
        raise FormatError("the header is not a JSON object")
    metadata: dict[str, str] = {}
    dtypes: Counter[str] = Counter()
    data_size = size - 8 - length
    total_bytes = 0
    parameters = 0
    for name, entry in document.items():
        if name == "__metadata__":
            metadata = _metadata(entry)
            continue
        dtype, count, end = _tensor(name, entry, data_size)
        dtypes[dtype] += 1
        parameters = min(parameters + count, MAX_PARAMETERS)
        total_bytes = max(total_bytes, end)
    return SafetensorsHeader(
        metadata=metadata,
        tensor_count=sum(dtypes.values()),
        dtypes=dict(dtypes),
        total_tensor_bytes=total_bytes,
        parameter_count=parameters,
        bytes_read=cursor.bytes_read,
    )


def _is_safetensors(head: bytes) -> bool:
    """A plausible header length, then the ``{`` that opens the JSON header."""
    if len(head) < _LENGTH.size + 1:
        return False
    (length,) = _LENGTH.unpack_from(head)
    return 2 <= length <= MAX_HEADER and head[_LENGTH.size] == ord("{")


SAFETENSORS_MAGIC = Magic("safetensors", _is_safetensors)


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise FormatError(f"the header repeats the key {encodable(key[:200])!r}")
            seen.add(key)
    return result


def _parse_json(raw: bytes) -> object:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise FormatError(f"the header is not valid UTF-8 (byte {e.start})") from None
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates)
    except RecursionError:
        raise FormatError("the header JSON is nested too deeply") from None
    except ValueError as e:  # JSONDecodeError, and int() refusing a number of thousands of digits
        raise FormatError(f"the header is not valid JSON: {str(e)[:200]}") from None


def _metadata(entry: object) -> dict[str, str]:
    if not isinstance(entry, dict):
        raise FormatError("__metadata__ is not a JSON object")
    clean: dict[str, str] = {}
    for key, value in entry.items():
        if not isinstance(value, str):
            raise FormatError(f"__metadata__ value for {encodable(key[:200])!r} is not a string")
        clean[encodable(key)] = encodable(value)
    return clean


def _is_int(value: object) -> bool:
    return type(value) is int  # bool is a subclass of int but never a valid size


def _tensor(name: str, entry: object, data_size: int) -> tuple[str, int, int]:
    """``(dtype, element count clamped, end offset)`` of one tensor entry, validated."""
    label = f"tensor {encodable(name[:200])!r}"
    if not isinstance(entry, dict):
        raise FormatError(f"{label} is not a JSON object")
    dtype = entry.get("dtype")
    shape = entry.get("shape")
    offsets = entry.get("data_offsets")
    if not isinstance(dtype, str) or not dtype:
        raise FormatError(f"{label} has no dtype string")
    if not isinstance(shape, list) or len(shape) > MAX_DIMENSIONS or not all(_is_int(d) and d >= 0 for d in shape):
        raise FormatError(f"{label} has no valid shape (a list of at most {MAX_DIMENSIONS} non-negative integers)")
    if not isinstance(offsets, list) or len(offsets) != 2 or not all(_is_int(o) and o >= 0 for o in offsets):
        raise FormatError(f"{label} has no valid data_offsets (two non-negative integers)")
    begin, end = offsets
    if begin > end:
        raise FormatError(f"{label} data_offsets begin after they end ({begin} > {end})")
    if end > data_size:
        raise FormatError(
            f"{label} data ends at byte {end} of the data section, but the file holds only {data_size} bytes of data"
        )
    count = 1
    for dim in shape:
        count = min(count * dim, MAX_PARAMETERS)
    width = DTYPE_SIZES.get(dtype)
    if width is not None and count < MAX_PARAMETERS and count * width != end - begin:
        raise FormatError(f"{label} holds {end - begin} bytes but its {dtype} shape {shape} needs {count * width}")
    return dtype, count, end
