"""Signatures in a file's first bytes, declared by each parser module beside the reader they select.

A file is routed by what it is rather than what it is called (a ``.bin`` can be GGML, a PyTorch zip
or a pickle); the weight-format table says which formats a signature selects and in what order the
signatures are tried.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

HEAD_BYTES = 16
"""How much of a file a signature sees: enough for every magic, one small read per file."""


@dataclass(frozen=True)
class Magic:
    """The first bytes that announce a kind of file."""

    id: str
    """Short name of the signature (``gguf``, ``zip``); one signature may serve several formats."""
    matches: Callable[[bytes], bool]
    """Whether a file's first ``HEAD_BYTES`` bytes carry the signature; never raises, whatever the bytes."""
    certain: bool = False
    """So distinctive that a broken header behind it is reported whatever the file is called (``GGUF``);
    other signatures can occur by chance in a file that is no model at all."""
