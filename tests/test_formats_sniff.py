"""Magic-byte sniffing: each signature from its real first bytes, and near misses that must not match."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scanner.collectors.models.weights import signatures, sniff


def sniffed(head: bytes) -> str | None:
    magic = sniff(head)
    return magic.id if magic is not None else None


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"GGUF\x03\x00\x00\x00" + b"\0" * 8, "gguf"),
        # llama.cpp / whisper.cpp wrote the uint32 magic little-endian: 0x67676d6c is b"lmgg" on disk.
        (struct.pack("<II", 0x67676D6C, 32000) + b"\0" * 8, "ggml"),
        (struct.pack("<II", 0x67676D66, 1) + b"\0" * 8, "ggml"),
        (struct.pack("<II", 0x67676A74, 3) + b"\0" * 8, "ggml"),
        (struct.pack(">II", 0x67676A74, 3) + b"\0" * 8, "ggml"),  # written on a big-endian machine
        (b"PK\x03\x04\x14\x00\x00\x00", "zip"),
        (b"\x89HDF\r\n\x1a\n\x00\x00\x00\x00", "hdf5"),
        (b"\x1c\x00\x00\x00TFL3\x14\x00\x20\x00", "tflite"),
        (struct.pack("<Q", 120) + b'{"__metadata__"', "safetensors"),
        (struct.pack("<Q", 2) + b"{}", "safetensors"),
        (b"\x80\x02\x8a\nl\xfc\x9cF\xf9 j\xa8", "pickle"),
        (b"\x80\x05\x95", "pickle"),
    ],
)
def test_formats_are_recognised_from_their_first_bytes(head: bytes, expected: str) -> None:
    assert sniffed(head) == expected


@pytest.mark.parametrize(
    "head",
    [
        b"",
        b"GGU",
        b"ggml is a tensor library\n",  # text, not a big-endian magic
        b"PK\x05\x06",  # an empty zip has no member to sniff
        struct.pack("<Q", 1) + b"{",  # too short a header length
        struct.pack("<Q", 100 * 2**20 + 1) + b"{",  # beyond the 100 MiB cap
        struct.pack("<Q", 120) + b"[",  # not a JSON object
        b"\x80\x01",  # pickle protocol 1 has no PROTO opcode
        b"\x80\x06",
        b"\x80",
        b"#!/usr/bin/env python\n",
    ],
)
def test_near_misses_are_not_recognised(head: bytes) -> None:
    assert sniffed(head) is None


@given(st.binary(max_size=16))
def test_sniff_never_raises(head: bytes) -> None:
    assert sniff(head) in {None, *signatures()}
