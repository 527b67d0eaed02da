"""Legacy PyTorch checkpoints: ``torch.save`` before 1.6 wrote a bare pickle, recognised by its first bytes.

Nothing is unpickled: a pickle opens with the PROTO opcode, and a legacy checkpoint's first object is
the pickled magic number torch wrote before anything else, so comparing bytes is enough. Pickles that
are not checkpoints are not models here.
"""

from __future__ import annotations

from typing import BinaryIO

from scanner.formats.magic import Magic

LEGACY_TORCH_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"
"""``torch.save`` before 1.6 wrote this pickled magic number (0x1950a86a20f9469cfc6c) first."""


def _is_pickle(head: bytes) -> bool:
    # PROTO opcode and protocol 2 to 5; protocols 0 and 1 have no opcode to recognise.
    return len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5


PICKLE_MAGIC = Magic("pickle", _is_pickle)


def is_legacy_torch(f: BinaryIO) -> bool:
    """Whether ``f`` (at its start) begins with the legacy ``torch.save`` magic number; reads 14 bytes."""
    return f.read(len(LEGACY_TORCH_MAGIC)) == LEGACY_TORCH_MAGIC
