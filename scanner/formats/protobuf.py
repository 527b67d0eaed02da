"""A streaming protobuf wire-format reader, for the top-level fields of ONNX and Core ML models.

Both formats put a small header (producer, versions, metadata) and one huge sub-message (the graph,
the network) in a single protobuf message. Decoding it with a protobuf library means reading the
whole file; reading the wire format ourselves lets us step over the huge field by its length and
check every varint and length against the file before trusting it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from scanner.formats.cursor import Cursor, describe_size
from scanner.formats.errors import FormatError

VARINT, I64, LEN, I32 = 0, 1, 2, 5
_MAX_VARINT_BYTES = 10


@dataclass(frozen=True)
class Field:
    """One field's key and, for scalars, its value; for ``LEN`` fields, where its payload lies."""

    number: int
    wire_type: int
    value: int
    """The varint or fixed value; for ``LEN`` fields, the payload length."""
    start: int
    """File offset of the payload (the cursor stands there when the field is yielded)."""

    @property
    def end(self) -> int:
        """File offset just past the payload."""
        return self.start + self.value if self.wire_type == LEN else self.start


def as_int64(value: int) -> int:
    """A varint read as ``int64``/``int32`` (negative numbers are ten-byte two's complement)."""
    return value - (1 << 64) if value >= 1 << 63 else value


class ProtoReader:
    """Iterates the fields of a message, skipping whatever the caller does not consume."""

    def __init__(self, cursor: Cursor, *, max_fields: int = 50_000) -> None:
        self.cursor = cursor
        self._fields_left = max_fields
        self._max_fields = max_fields

    def varint(self) -> int:
        """One base-128 varint; more than ten bytes is malformed, whatever the payload."""
        buf, off = self.cursor.window(_MAX_VARINT_BYTES)
        result = 0
        for i in range(min(_MAX_VARINT_BYTES, len(buf) - off)):
            byte = buf[off + i]
            result |= (byte & 0x7F) << (7 * i)
            if byte < 0x80:
                self.cursor.advance(i + 1)
                return result & 0xFFFFFFFFFFFFFFFF
        if len(buf) - off < _MAX_VARINT_BYTES:
            raise FormatError(f"the data ends in the middle of a varint at byte {self.cursor.tell()}")
        raise FormatError(f"malformed varint at byte {self.cursor.tell()}: longer than {_MAX_VARINT_BYTES} bytes")

    def fields(self, end: int) -> Iterator[Field]:
        """The fields from the cursor to ``end``; after each, the cursor moves past its payload.

        A length that runs past ``end``, a group (wire types 3 and 4, long deprecated), an unknown
        wire type or field number 0 raise ``FormatError``, as does exceeding ``max_fields`` in all.
        """
        cursor = self.cursor
        while cursor.tell() < end:
            at = cursor.tell()
            key = self.varint()
            number, wire_type = key >> 3, key & 7
            if number == 0:
                raise FormatError(f"protobuf field number 0 at byte {at} is invalid")
            if wire_type == VARINT:
                value = self.varint()
            elif wire_type == I64:
                value = int.from_bytes(cursor.read(8), "little")
            elif wire_type == I32:
                value = int.from_bytes(cursor.read(4), "little")
            elif wire_type == LEN:
                value = self.varint()
                if value > end - cursor.tell():
                    where = "the file size" if cursor.tell() + value > cursor.size else "its enclosing message"
                    raise FormatError(f"field {number} at byte {at} has length {value}, which exceeds {where}")
            elif wire_type in (3, 4):
                raise FormatError(f"field {number} at byte {at} is a protobuf group, which is not supported")
            else:
                raise FormatError(f"field {number} at byte {at} has invalid wire type {wire_type}")
            if cursor.tell() > end:
                raise FormatError(f"field {number} at byte {at} runs past the end of its message")
            self._fields_left -= 1
            if self._fields_left < 0:
                raise FormatError(f"the file has more than {self._max_fields} protobuf fields to visit")
            field = Field(number, wire_type, value, cursor.tell())
            yield field
            if cursor.tell() > field.end:
                raise FormatError(f"field {number} at byte {at} was read past its end")
            cursor.seek(field.end)
        if cursor.tell() != end:
            raise FormatError(f"the last field runs past the end of its message at byte {end}")

    def text(self, field: Field, cap: int, *, truncate: bool = False) -> str:
        """A string field, decoded as UTF-8 with errors replaced.

        Longer than ``cap``: the first ``cap`` bytes when ``truncate``, else ``FormatError``.
        """
        if field.wire_type != LEN:
            raise FormatError(f"field {field.number} should be a string but has wire type {field.wire_type}")
        length = field.value
        if length > cap:
            if not truncate:
                raise FormatError(f"field {field.number} is {length} bytes, more than the {describe_size(cap)} cap")
            length = cap
        return self.cursor.read(length).decode("utf-8", "replace")

    def scalar(self, field: Field) -> int:
        """A varint field's value, refusing a field of another wire type."""
        if field.wire_type != VARINT:
            raise FormatError(f"field {field.number} should be a varint but has wire type {field.wire_type}")
        return field.value

    def message(self, field: Field) -> Iterator[Field]:
        """The fields of an embedded message field."""
        if field.wire_type != LEN:
            raise FormatError(f"field {field.number} should be a message but has wire type {field.wire_type}")
        return self.fields(field.end)


def string_map_entry(reader: ProtoReader, field: Field, cap: int) -> tuple[str, str]:
    """``(key, value)`` of a ``map<string, string>`` entry or ``StringStringEntryProto`` (fields 1 and 2)."""
    key = value = ""
    for sub in reader.message(field):
        if sub.number == 1:
            key = reader.text(sub, cap)
        elif sub.number == 2:
            value = reader.text(sub, cap)
    return key, value
