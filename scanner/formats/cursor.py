"""The one way format parsers read a file: buffered, seekable, and bounded twice over.

The file objects handed to parsers are unbuffered (``RootFS.open_regular``), so a parser reading a
150k-entry token list field by field would make hundreds of thousands of system calls. ``Cursor``
reads ahead in chunks, but never past ``limit`` (the end of the structure being parsed, e.g. the GGUF
key-value block cap) and never more than ``max_read`` bytes in all, and it checks every request
against the file size first, so a hostile length fails with a precise reason before any allocation.
"""

from __future__ import annotations

import struct
from array import array
from typing import Any, BinaryIO

from scanner.formats.errors import FormatError

CHUNK = 64 * 1024
"""Read-ahead size: big enough to make syscalls rare, small enough that over-reading costs nothing."""
SPAN_STRIDE = 16
"""``length_prefixed`` notes where one string in this many lies: a few are read back by stepping from there."""


def describe_size(n: int) -> str:
    """``64 MiB`` rather than ``67108864 bytes`` in messages about caps."""
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift} {unit}"
    return f"{n} bytes"


class Cursor:
    """A read position over ``f`` whose reads are checked against the file size, a limit and a budget."""

    def __init__(
        self,
        f: BinaryIO,
        size: int,
        *,
        limit: int | None = None,
        max_read: int | None = None,
        chunk: int = CHUNK,
    ) -> None:
        self._f = f
        self.size = size
        """The file size the caller saw; nothing at or beyond it is ever requested."""
        self.limit = size if limit is None else min(limit, size)
        """No byte at or beyond this offset is read: the cap on the structure being parsed."""
        self._limit_reason = ""
        self._max_read = max_read
        self._chunk = chunk
        self._buf = b""
        self._base = 0  # file offset of self._buf[0]
        self._off = 0
        self.bytes_read = 0
        """Bytes actually read from the file so far (read-ahead included)."""

    def set_limit(self, limit: int, reason: str) -> None:
        """Cap reads at ``limit`` from now on (once a header says where its block starts), with the reason to give."""
        self.limit = min(limit, self.size)
        self._limit_reason = reason

    def tell(self) -> int:
        """The current file offset."""
        return self._base + self._off

    def check_end(self, end: int) -> None:
        """Fail unless bytes up to ``end`` (exclusive) lie inside the file and inside the limit."""
        if end > self.size:
            raise FormatError(f"the file is truncated: data up to byte {end} is needed but it ends at byte {self.size}")
        if end > self.limit:
            raise FormatError(
                self._limit_reason or f"the header runs past byte {self.limit}, the end of the part we read"
            )

    def seek(self, pos: int) -> None:
        """Move to ``pos`` without reading; keeps the buffer when ``pos`` falls inside it."""
        if pos < 0:
            raise FormatError(f"offset {pos} is negative")
        self.check_end(pos)
        if self._base <= pos <= self._base + len(self._buf):
            self._off = pos - self._base
        else:
            self._buf, self._base, self._off = b"", pos, 0

    def skip(self, n: int) -> None:
        """Move forward ``n`` bytes without reading them (a seek when they are not buffered)."""
        self.seek(self.tell() + n)

    def ensure(self, n: int) -> None:
        """Make ``n`` bytes from the current position available in the buffer, reading ahead a chunk."""
        avail = len(self._buf) - self._off
        if avail >= n:
            return
        pos = self.tell()
        self.check_end(pos + n)
        want = min(max(n, self._chunk), self.limit - pos)
        if self._max_read is not None:
            budget = self._max_read - self.bytes_read
            if n - avail > budget:
                raise FormatError(f"the header needs more than the {describe_size(self._max_read)} read cap")
            want = min(want, avail + budget)
        data = self._read_at(pos + avail, want - avail)
        self._buf = self._buf[self._off :] + data
        self._base, self._off = pos, 0

    def _read_at(self, pos: int, n: int) -> bytes:
        self._f.seek(pos)
        parts: list[bytes] = []
        got = 0
        while got < n:
            part = self._f.read(n - got)
            if not part:
                raise FormatError(f"the file ended at byte {pos + got}, before its size of {self.size} bytes")
            parts.append(part)
            got += len(part)
        self.bytes_read += got
        return b"".join(parts)

    def read_at(self, pos: int, n: int) -> bytes:
        """``n`` bytes at ``pos`` (inside the file and the limit), read exactly, without read-ahead or moving:
        for a few short strings read back after a walk."""
        self.check_end(pos + n)
        if self._base <= pos and pos + n <= self._base + len(self._buf):
            return self._buf[pos - self._base : pos - self._base + n]
        return self._read_at(pos, n) if n else b""

    def read(self, n: int) -> bytes:
        """The next ``n`` bytes."""
        self.ensure(n)
        start = self._off
        self._off += n
        return self._buf[start : start + n]

    def unpack(self, layout: struct.Struct) -> tuple[Any, ...]:
        """The next ``layout.size`` bytes unpacked."""
        self.ensure(layout.size)
        values = layout.unpack_from(self._buf, self._off)
        self._off += layout.size
        return values

    def window(self, n: int) -> tuple[bytes, int]:
        """Up to ``n`` buffered bytes from here (fewer near the limit) as ``(buffer, offset)``; call ``advance``."""
        self.ensure(min(n, self.limit - self.tell()))
        return self._buf, self._off

    def advance(self, n: int) -> None:
        """Consume ``n`` bytes already made available by ``window``."""
        self._off += n

    def length_prefixed(
        self, count: int, length: struct.Struct, max_length: int, *, keep: bool, spans: array[int] | None = None
    ) -> list[str]:
        """Walk ``count`` length-prefixed strings; decode them (UTF-8, errors replaced) when ``keep``, or
        only note where every ``SPAN_STRIDE``-th one lies (the file offset of its length, appended to
        ``spans``) to read a few of them back later.

        A vocabulary and its merges are hundreds of thousands of strings: they are stepped over by a loop
        of one addition each over the read-ahead buffer (``_run``), and each string's length is checked
        against the caps only where it could break them (at the buffer's end, or when the buffer is longer
        than ``max_length``).
        """
        out: list[str] = []
        kept, noted = (out, None) if keep else (None, spans)  # decoded, or noted: never both
        index = 0
        while index < count:
            index = self._run(index, count, length, max_length, kept, noted)
            if index < count:  # the next string runs past the buffer, or may be longer than the cap
                self._one(index, length, max_length, kept, noted)
                index += 1
        return out

    def _run(
        self,
        index: int,
        count: int,
        length: struct.Struct,
        max_length: int,
        out: list[str] | None,
        spans: array[int] | None,
    ) -> int:
        """Step over the strings from ``index`` that lie wholly in the buffer; the index of the first that does not."""
        buf, off = self._buf, self._off
        size = len(buf)
        if max_length < size:
            return index  # a string in the buffer could be longer than the cap: each is checked by ``_one``
        width = length.size
        last = size - width  # a length written at or before this offset is in the buffer
        unpack = length.unpack_from
        start = off
        done = index
        if out is not None:
            append = out.append
            for done in range(index, count):  # noqa: B007 (where it stopped is read after the loop)
                if off > last:
                    break
                start = off
                off += width + unpack(buf, off)[0]
                append(buf[start + width : off].decode("utf-8", "replace"))
            else:
                done = count
        elif spans is not None:
            note, base = spans.append, self._base
            for done in range(index, count):
                if off > last:
                    break
                start = off
                if not done % SPAN_STRIDE:
                    note(base + off)
                off += width + unpack(buf, off)[0]
            else:
                done = count
        else:
            for done in range(index, count):  # noqa: B007 (where it stopped is read after the loop)
                if off > last:
                    break
                start = off
                off += width + unpack(buf, off)[0]
            else:
                done = count
        if off > size:  # the last string stepped over runs past the buffer: it is done again by ``_one``
            done -= 1
            off = start
            if out is not None:
                out.pop()
            if spans is not None and not done % SPAN_STRIDE:
                spans.pop()
        self._off = off
        return done

    def _one(
        self, index: int, length: struct.Struct, max_length: int, out: list[str] | None, spans: array[int] | None
    ) -> None:
        """One string, read ahead for as far as it needs and checked against the caps and the file size."""
        width = length.size
        self.ensure(width)
        (n,) = length.unpack_from(self._buf, self._off)
        if n > max_length:
            at = self.tell() + width
            where = "the file size" if at + n > self.size else f"the {describe_size(max_length)} string cap"
            raise FormatError(f"string {index} of the array has length {n}, which exceeds {where}")
        if spans is not None and not index % SPAN_STRIDE:
            spans.append(self.tell())
        self.ensure(width + n)
        start = self._off + width
        if out is not None:
            out.append(self._buf[start : start + n].decode("utf-8", "replace"))
        self._off = start + n
