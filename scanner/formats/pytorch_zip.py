"""Zip archives (PyTorch checkpoints, Keras v3 files) read through their central directory only.

``torch.save`` writes a zip whose members sit under one folder (``archive/data.pkl``,
``archive/data/0`` ...). Listing members tells a PyTorch checkpoint apart from any other zip without
touching member data, and never unpickling: we find the End Of Central Directory record ourselves
(ZIP64 included), check every offset and count against the file size, and read only the directory.
``read_member`` is the one bounded way to read a small member (a Keras ``config.json``).
"""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass
from typing import BinaryIO

from scanner.formats.cursor import Cursor, describe_size
from scanner.formats.errors import FormatError
from scanner.formats.magic import Magic

_MIB = 1 << 20
_EOCD = struct.Struct("<4sHHHHIIH")
_EOCD_SIGNATURE = b"PK\x05\x06"
_ZIP64_LOCATOR = struct.Struct("<4sIQI")
_ZIP64_LOCATOR_SIGNATURE = b"PK\x06\x07"
_ZIP64_EOCD = struct.Struct("<4sQHHIIQQQQ")
_ZIP64_EOCD_SIGNATURE = b"PK\x06\x06"
_ENTRY = struct.Struct("<4sHHHHHHIIIHHHHHII")
_ENTRY_SIGNATURE = b"PK\x01\x02"
_LOCAL = struct.Struct("<4sHHHHHIIIHH")
_LOCAL_SIGNATURE = b"PK\x03\x04"
_MAX_COMMENT = 65535
_UTF8_NAMES = 0x800
_ENCRYPTED = 0x1
_STORED, _DEFLATED = 0, 8
_TORCH_PICKLE = re.compile(r"([^/]+)/data\.pkl")

ZIP_MAGIC = Magic("zip", lambda head: head.startswith(_LOCAL_SIGNATURE))
"""A zip's first local header: PyTorch checkpoints and Keras v3 archives alike (an empty zip has none)."""


@dataclass(frozen=True)
class ZipEntry:
    """One member as the central directory describes it."""

    name: str
    """Member path inside the archive."""
    method: int
    """Compression method (0 stored, 8 deflate)."""
    flags: int
    """General-purpose flags (bit 0: encrypted)."""
    compressed_size: int
    uncompressed_size: int
    local_header_offset: int
    """Where the member's local header starts: only ``read_member`` goes there."""


@dataclass(frozen=True)
class CentralDirectory:
    """The member listing of a zip archive."""

    entries: tuple[ZipEntry, ...]
    """Members in directory order, at most ``max_entries`` of them."""
    entry_count: int
    """Members the archive declares (may exceed ``len(entries)``)."""
    bytes_read: int


@dataclass(frozen=True)
class TorchZip:
    """What a zip's listing says about whether (and how) it is a PyTorch checkpoint."""

    entries: tuple[str, ...]
    """Member names, at most ``max_entries``."""
    entry_count: int
    """Members the archive declares."""
    is_pytorch: bool
    """A ``<folder>/data.pkl`` member is present: the layout ``torch.save`` writes."""
    archive_name: str | None
    """That folder (``archive`` for recent torch, the file's stem for older versions)."""
    has_pickle: bool
    """Some member is a pickle (``.pkl``): loading it with plain ``torch.load`` can run code."""
    bytes_read: int


def read_central_directory(
    f: BinaryIO, size: int, *, max_entries: int = 100_000, max_central_dir: int = 64 * _MIB
) -> CentralDirectory:
    """List a zip's members from its central directory, never reading member data.

    Raises ``FormatError`` when there is no End Of Central Directory record, when the directory
    lies outside the file or is larger than ``max_central_dir``, or when its entries are malformed.
    """
    # The quick look at the last bytes, the 64 KiB search, the ZIP64 locator and up to two ZIP64 records.
    end_records = 2 * (_EOCD.size + _ZIP64_LOCATOR.size + 2 * _ZIP64_EOCD.size) + _MAX_COMMENT
    cursor = Cursor(f, size, max_read=end_records + max_central_dir)
    eocd_pos, entry_count, cd_size, cd_offset = _find_end_record(cursor, size)
    if cd_offset + cd_size > eocd_pos:
        raise FormatError(
            f"the central directory offset {cd_offset} (+{cd_size} bytes) lies beyond its end record at byte {eocd_pos}"
        )
    if cd_size > max_central_dir:
        raise FormatError(
            f"the central directory is {cd_size} bytes, more than the {describe_size(max_central_dir)} cap"
        )
    if entry_count * _ENTRY.size > cd_size:
        raise FormatError(
            f"the archive claims {entry_count} entries but its central directory of {cd_size} bytes "
            f"can hold at most {cd_size // _ENTRY.size}"
        )
    # Data prepended to the archive (a self-extractor stub) shifts every offset; zipfile allows it too.
    cd_start = eocd_pos - cd_size
    shift = cd_start - cd_offset
    cursor.seek(cd_start)  # usually inside the tail already read: no second read
    data = cursor.read(cd_size)
    entries: list[ZipEntry] = []
    pos = 0
    for index in range(min(entry_count, max_entries)):
        if pos + _ENTRY.size > len(data):
            raise FormatError(f"central directory entry {index} runs past the end of the directory")
        (sig, _, _, flags, method, _, _, _, csize, usize, name_len, extra_len, comment_len, _, _, _, offset) = (
            _ENTRY.unpack_from(data, pos)
        )
        if sig != _ENTRY_SIGNATURE:
            raise FormatError(f"central directory entry {index} has a bad signature")
        name_start = pos + _ENTRY.size
        extra_start = name_start + name_len
        end = extra_start + extra_len + comment_len
        if end > len(data):
            raise FormatError(f"central directory entry {index} runs past the end of the directory")
        raw_name = data[name_start:extra_start]
        name = raw_name.decode("utf-8", "replace") if flags & _UTF8_NAMES else raw_name.decode("cp437")
        usize, csize, offset = _zip64_sizes(data[extra_start : extra_start + extra_len], usize, csize, offset)
        entries.append(ZipEntry(name, method, flags, csize, usize, offset + shift))
        pos = end
    return CentralDirectory(tuple(entries), entry_count, cursor.bytes_read)


def _find_end_record(cursor: Cursor, size: int) -> tuple[int, int, int, int]:
    """``(where the central directory must end, entry count, its size, its offset)`` from the (ZIP64) EOCD."""
    if size < _EOCD.size:
        raise FormatError(f"not a zip archive: {size} bytes is too short for an end of central directory record")
    # Most archives have no comment: try the last bytes first (with room for the ZIP64 records just before
    # them), and only search the last 64 KiB when that fails.
    tail_start = max(0, size - _EOCD.size - _ZIP64_LOCATOR.size - _ZIP64_EOCD.size)
    cursor.seek(tail_start)
    tail = cursor.read(size - tail_start)
    at = len(tail) - _EOCD.size
    if tail[at : at + 4] != _EOCD_SIGNATURE or _EOCD.unpack_from(tail, at)[-1] != 0:
        tail_start = max(0, size - _EOCD.size - _MAX_COMMENT)
        cursor.seek(tail_start)
        tail = cursor.read(size - tail_start)
        at = _search_end_record(tail)
    _, disk, cd_disk, _, entry_count, cd_size, cd_offset, _ = _EOCD.unpack_from(tail, at)
    eocd_pos = tail_start + at
    locator_pos = eocd_pos - _ZIP64_LOCATOR.size
    if locator_pos >= 0:
        cursor.seek(locator_pos)
        sig, _, z64_offset, _ = cursor.unpack(_ZIP64_LOCATOR)
        if sig == _ZIP64_LOCATOR_SIGNATURE:
            return _zip64_end_record(cursor, locator_pos, z64_offset)
    if disk != 0 or cd_disk != 0:
        raise FormatError("multi-disk (split) zip archives are not supported")
    return eocd_pos, entry_count, cd_size, cd_offset


def _search_end_record(tail: bytes) -> int:
    """The last end-record signature in ``tail`` whose comment fits in what follows it."""
    at = len(tail) - _EOCD.size
    while True:
        at = tail.rfind(_EOCD_SIGNATURE, 0, at + len(_EOCD_SIGNATURE))
        if at < 0:
            raise FormatError("not a zip archive: no end of central directory record in the last 64 KiB")
        if at + _EOCD.size + _EOCD.unpack_from(tail, at)[-1] <= len(tail):
            return at
        at -= 1


def _zip64_end_record(cursor: Cursor, locator_pos: int, z64_offset: int) -> tuple[int, int, int, int]:
    if z64_offset + _ZIP64_EOCD.size > locator_pos:
        raise FormatError(f"the ZIP64 end record offset {z64_offset} lies beyond its locator at byte {locator_pos}")
    # With data prepended the stated offset is short by the prefix; the record sits just before the locator.
    for candidate in (z64_offset, locator_pos - _ZIP64_EOCD.size):
        cursor.seek(candidate)
        (sig, _, _, _, disk, cd_disk, _, entry_count, cd_size, cd_offset) = cursor.unpack(_ZIP64_EOCD)
        if sig == _ZIP64_EOCD_SIGNATURE:
            if disk != 0 or cd_disk != 0:
                raise FormatError("multi-disk (split) zip archives are not supported")
            return candidate, entry_count, cd_size, cd_offset
    raise FormatError("the ZIP64 end of central directory record is missing or damaged")


def _zip64_sizes(extra: bytes, usize: int, csize: int, offset: int) -> tuple[int, int, int]:
    """Replace 0xFFFFFFFF placeholders with the 64-bit values of the ZIP64 extra field."""
    if 0xFFFFFFFF not in (usize, csize, offset):
        return usize, csize, offset
    pos = 0
    while pos + 4 <= len(extra):
        tag, length = struct.unpack_from("<HH", extra, pos)
        body = extra[pos + 4 : pos + 4 + length]
        pos += 4 + length
        if tag != 0x0001:
            continue
        values = [usize, csize, offset]
        at = 0
        for i, value in enumerate(values):
            if value == 0xFFFFFFFF:
                if at + 8 > len(body):
                    raise FormatError("a ZIP64 extra field is too short for the sizes it replaces")
                (values[i],) = struct.unpack_from("<Q", body, at)
                at += 8
        return values[0], values[1], values[2]
    raise FormatError("an entry needs a ZIP64 extra field but has none")


def read_member(
    f: BinaryIO, size: int, entry: ZipEntry, *, max_compressed: int = 1 * _MIB, max_uncompressed: int = 8 * _MIB
) -> tuple[bytes, int]:
    """``(content, bytes read)`` of one small member, stored or deflated, under both caps.

    For configuration members only; refuses encrypted members and other compression methods.
    """
    if entry.flags & _ENCRYPTED:
        raise FormatError(f"member {entry.name!r} is encrypted")
    if entry.compressed_size > max_compressed:
        raise FormatError(
            f"member {entry.name!r} is {entry.compressed_size} bytes compressed, more than the "
            f"{describe_size(max_compressed)} cap"
        )
    if entry.method not in (_STORED, _DEFLATED):
        raise FormatError(f"member {entry.name!r} uses compression method {entry.method}, which is not supported")
    cursor = Cursor(f, size, max_read=_LOCAL.size + 2 * 65535 + max_compressed)
    cursor.seek(entry.local_header_offset)
    sig, _, _, _, _, _, _, _, _, name_len, extra_len = cursor.unpack(_LOCAL)
    if sig != _LOCAL_SIGNATURE:
        raise FormatError(f"member {entry.name!r} has no local header where the directory says")
    cursor.skip(name_len + extra_len)
    data = cursor.read(entry.compressed_size)
    if entry.method == _STORED:
        if len(data) > max_uncompressed:
            raise FormatError(f"member {entry.name!r} is larger than the {describe_size(max_uncompressed)} cap")
        return data, cursor.bytes_read
    inflater = zlib.decompressobj(-15)
    try:
        content = inflater.decompress(data, max_uncompressed)
    except zlib.error as e:
        raise FormatError(f"member {entry.name!r} does not decompress: {e}") from None
    if inflater.unconsumed_tail:
        raise FormatError(f"member {entry.name!r} decompresses to more than the {describe_size(max_uncompressed)} cap")
    return content, cursor.bytes_read


def read_torch_zip(f: BinaryIO, size: int, max_entries: int = 100_000, max_central_dir: int = 64 * _MIB) -> TorchZip:
    """List a zip and say whether it has the layout ``torch.save`` writes; never reads member data."""
    directory = read_central_directory(f, size, max_entries=max_entries, max_central_dir=max_central_dir)
    names = tuple(entry.name for entry in directory.entries)
    archive_name = None
    for name in names:
        match = _TORCH_PICKLE.fullmatch(name)
        if match:
            archive_name = match.group(1)
            break
    return TorchZip(
        entries=names,
        entry_count=directory.entry_count,
        is_pytorch=archive_name is not None,
        archive_name=archive_name,
        has_pickle=any(name.endswith((".pkl", ".pickle")) for name in names),
        bytes_read=directory.bytes_read,
    )
