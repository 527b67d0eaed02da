"""Bounded, safe header parsers for model weight files, and the magic-byte sniffer that picks one.

Each parser reads only a file's header (GGUF key-value block, safetensors JSON header, zip central
directory, ONNX/Core ML top-level protobuf fields, TFLite root table) under explicit byte caps, never
executes or unpickles anything, and reports ``bytes_read`` so benchmarks can check that a 50 GB file
costs kilobytes. A malformed or hostile header raises ``FormatError`` with the reason in plain words;
I/O failures stay ``OSError`` so the caller can describe them the same way as for any other file.
"""

from __future__ import annotations

import struct


class FormatError(Exception):
    """A file whose header is malformed, hostile or beyond our caps; the message says why, in plain words."""


_MIB = 1 << 20
_SAFETENSORS_MAX_HEADER = 100 * _MIB
# Legacy llama.cpp / whisper.cpp files start with a uint32 magic written in the machine's byte order.
# On the little-endian machines that wrote nearly all of them, 0x67676d6c ('ggml') is on disk as b"lmgg".
_GGML_LITTLE_ENDIAN = frozenset({b"lmgg", b"fmgg", b"tjgg"})
# The same magics written big-endian read as ASCII words that could also begin a text file, so they
# only count when binary data (a NUL byte in the version / vocabulary-size field) follows.
_GGML_BIG_ENDIAN = frozenset({b"ggml", b"ggmf", b"ggjt"})


def sniff(head: bytes) -> str | None:
    """The format a file's first 16 bytes announce, or ``None``.

    Lets the walker route a file to the right parser by content rather than by a name that may lie
    (a ``.bin`` can be GGML, a PyTorch zip or a pickle). Returns one of ``"gguf"``, ``"ggml"``,
    ``"zip"``, ``"hdf5"``, ``"tflite"``, ``"safetensors"``, ``"pickle"``.
    """
    if head.startswith(b"GGUF"):
        return "gguf"
    magic = head[:4]
    if magic in _GGML_LITTLE_ENDIAN or (magic in _GGML_BIG_ENDIAN and b"\x00" in head[4:8]):
        return "ggml"
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return "hdf5"
    if head[4:8] == b"TFL3":
        return "tflite"
    if len(head) >= 9:
        (header_length,) = struct.unpack_from("<Q", head)
        if 2 <= header_length <= _SAFETENSORS_MAX_HEADER and head[8] == ord("{"):
            return "safetensors"
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return "pickle"
    return None


__all__ = ["FormatError", "sniff"]
