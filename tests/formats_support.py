"""Helpers for the format parser tests: a file that counts (and bounds) what is read, and the corpus path."""

from __future__ import annotations

import io
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
"""Real public files (llama.cpp vocab GGUFs ...) when the shared corpus is checked out next to the repo."""


class CountingFile(io.FileIO):
    """An unbuffered file like ``RootFS.open_regular`` returns, that counts bytes read and refuses whole-file reads."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(path, "rb")
        self.bytes_read = 0
        self.largest_read = 0

    def read(self, size: int | None = -1) -> bytes:
        assert size is not None and size >= 0, "a parser asked to read the whole file"
        data = super().read(size)
        assert data is not None
        self.bytes_read += len(data)
        self.largest_read = max(self.largest_read, len(data))
        return data

    def readall(self) -> bytes:
        raise AssertionError("a parser asked to read the whole file")


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# A protobuf wire-format encoder, small enough to check by eye, for hand-built ONNX and Core ML messages.


def varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field_varint(number: int, value: int) -> bytes:
    return varint(number << 3) + varint(value)


def field_bytes(number: int, payload: bytes | str) -> bytes:
    raw = payload.encode() if isinstance(payload, str) else payload
    return varint(number << 3 | 2) + varint(len(raw)) + raw
