"""gzip for the reports the collector reads and the parts it stores: python-isal's igzip (the ``server``
extra) where it is installed, the standard ``zlib`` otherwise. Both write and read the same gzip
format, so a database written with one is read with the other.

Measured on this machine for a report of 400 packages (README.md, "Load test"): storing its inventory
(280 KiB of JSON) took zlib 0.60 ms at level 3 for 18.0 KiB, igzip 0.08 ms at level 1 for 16.9 KiB;
inflating the report as sent took 0.21 ms with zlib, 0.08 ms with igzip. Together a fifth of the
collector's CPU a report, on the same two cores as the database."""

from __future__ import annotations

import importlib
import zlib
from types import ModuleType
from typing import Any


def _codec_and_level() -> tuple[ModuleType, int]:
    try:
        return importlib.import_module("isal.isal_zlib"), 1
    except ImportError:  # an install without the server extra's accelerator: the same results, slower
        return zlib, 3  # 0.6 ms and 18.0 KiB for the inventory of 400 packages; level 6: 2.3 ms, 16.4 KiB


_codec, _LEVEL = _codec_and_level()
ACCELERATED = _codec is not zlib
ERRORS: tuple[type[Exception], ...] = (zlib.error, _codec.error) if ACCELERATED else (zlib.error,)
_GZIP = 31
_GZIP_OR_ZLIB = 47  # 32 + 15: the header says which


def compress(data: bytes) -> bytes:
    """``data`` as gzip (no name, no time: equal data, equal bytes with one codec)."""
    return bytes(_codec.compress(data, _LEVEL, wbits=_GZIP))


def inflate(data: bytes) -> bytes:
    """What ``compress`` stored, whole (the collector's own data, not a sender's). The codec reads the
    gzip header itself: 5.1 µs for a report's document with zlib, where ``gzip.decompress`` (whose header
    is read in Python) took 6.4 µs; the fleet summary inflates two per host."""
    return bytes(_codec.decompress(data, wbits=_GZIP))


def inflater() -> Any:
    """A decompressor of gzip or zlib data, with zlib's ``decompressobj`` interface (``max_length``,
    ``unconsumed_tail``, ``eof``), for a sender's data inflated up to a cap; its errors are ``ERRORS``."""
    return _codec.decompressobj(wbits=_GZIP_OR_ZLIB)
