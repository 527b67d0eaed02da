"""GGUF (llama.cpp) header: the key-value metadata block, read under caps, tensor data never touched.

The metadata names the model, its architecture, its tokenizer and often its base models; the token
list is how a renamed model is recognised. We implement the format (v1-v3, either byte order) with
``struct`` so that a hostile count or length is refused against the file size before anything is
allocated, and so that arrays nobody asked for are stepped over without decoding them.
"""

from __future__ import annotations

import struct
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO

from scanner.formats.cursor import SPAN_STRIDE, Cursor, describe_size
from scanner.formats.errors import FormatError
from scanner.formats.magic import Magic

VOCABULARY = "tokenizer.ggml.tokens"
TOKEN_TYPES = "tokenizer.ggml.token_type"
DEFAULT_KEEP: frozenset[str] = frozenset({TOKEN_TYPES, "general.tags", "general.languages"})
"""Arrays worth materialising by default: the token types (which tokens are special) and the tags. The
vocabulary itself is walked without decoding: only its special tokens are read back (``special_tokens``),
a few hundred strings instead of 100,000 or more (a third of the time of a whole-machine scan went to
decoding vocabularies)."""

MAX_KEY_LENGTH = 65535
"""The GGUF specification limits keys to 2^16 - 1 bytes."""

WALK_BUDGET_FACTOR = 2
"""String items, nested arrays and kept items of a file together may number this many times
``max_array_items``: that bounds a crafted file to a few tenths of a second and tens of MB, while the
largest real vocabularies (262k tokens, plus their types and merges) use well under half of it."""

NESTED_ARRAY_COST = 8
"""A nested array costs about as much to step over as this many strings (a call per array, not a loop step)."""

SPECIAL_TOKEN_TYPES = frozenset({3, 4})
"""``tokenizer.ggml.token_type`` values for control and user-defined tokens."""

MAX_SPECIAL_TOKENS = 5000

_MIB = 1 << 20
_STRING = 8
_ARRAY = 9
_TYPE_NAMES = (
    "uint8",
    "int8",
    "uint16",
    "int16",
    "uint32",
    "int32",
    "float32",
    "bool",
    "string",
    "array",
    "uint64",
    "int64",
    "float64",
)
# struct codes of the fixed-size value types, by type id
_FIXED_CODES = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
_FIXED_SIZES = {type_id: struct.calcsize("<" + code) for type_id, code in _FIXED_CODES.items()}
_MAX_NESTING = 2
_GGUF = b"GGUF"
# Legacy llama.cpp / whisper.cpp files start with a uint32 magic written in the machine's byte order.
# On the little-endian machines that wrote nearly all of them, 0x67676d6c ('ggml') is on disk as b"lmgg".
_GGML_LITTLE_ENDIAN = frozenset({b"lmgg", b"fmgg", b"tjgg"})
# The same magics written big-endian read as ASCII words that could also begin a text file, so they
# only count when binary data (a NUL byte in the version / vocabulary-size field) follows.
_GGML_BIG_ENDIAN = frozenset({b"ggml", b"ggmf", b"ggjt"})


def _is_ggml(head: bytes) -> bool:
    magic = head[:4]
    return magic in _GGML_LITTLE_ENDIAN or (magic in _GGML_BIG_ENDIAN and b"\x00" in head[4:8])


GGUF_MAGIC = Magic("gguf", lambda head: head.startswith(_GGUF), certain=True)
"""The four ASCII bytes every GGUF file starts with: distinctive enough that a broken header behind them is
reported, whatever the file is called."""
GGML_MAGIC = Magic("ggml", _is_ggml)
"""The GGML / GGMF / GGJT files GGUF replaced: recognised by their magic, their header is not read."""


@dataclass(frozen=True)
class GGUFHeader:
    """What a GGUF file says about itself before its tensors."""

    version: int
    """Format version, 1 to 3."""
    byte_order: str
    """``"little"`` for almost every file; ``"big"`` for files converted for big-endian machines (s390x)."""
    tensor_count: int
    """Number of tensors the header announces (their descriptions are not read)."""
    metadata: dict[str, object]
    """Scalar and string values by key (``general.name``, ``tokenizer.ggml.pre`` ...)."""
    arrays: dict[str, tuple[object, ...]]
    """The arrays that were asked for (``keep_arrays``), materialised; strings decoded with errors replaced."""
    array_lengths: dict[str, int]
    """Item count of every array, kept or skipped (``tokenizer.ggml.merges`` -> 151387 ...)."""
    bytes_read: int
    """Bytes actually read from the file."""
    special_tokens: tuple[str, ...] = ()
    """Control and user-defined tokens, in vocabulary order (at most ``MAX_SPECIAL_TOKENS``)."""


@dataclass
class _Walk:
    """Per-file state shared by the value readers: layouts for the file's byte order and the work budget."""

    cursor: Cursor
    order: str
    count: struct.Struct
    max_string: int
    max_array_items: int
    items_left: int  # string items, nested arrays and kept items still allowed (WALK_BUDGET_FACTOR)
    scalars: dict[int, struct.Struct]
    type_id: struct.Struct


def read_gguf(
    f: BinaryIO,
    size: int,
    *,
    keep_arrays: frozenset[str] = DEFAULT_KEEP,
    max_kv_bytes: int = 64 * _MIB,
    max_string: int = 1 * _MIB,
    max_array_items: int = 1_000_000,
    max_kv_count: int = 65_536,
) -> GGUFHeader:
    """Parse the GGUF header and key-value block of ``f`` (``size`` bytes long).

    ``max_kv_bytes`` caps the span of the key-value block in the file (skipped arrays included);
    ``max_string`` caps each string; ``max_array_items`` caps each array that must be walked item by
    item or materialised (string arrays, nested arrays, kept arrays), and ``WALK_BUDGET_FACTOR`` times
    it caps all such items together, so a crafted file cannot make us loop for seconds or fill memory.
    ``max_kv_count`` caps the number of keys (real files have tens to hundreds).
    Fixed-size arrays that are not kept are skipped by seeking, whatever their length. Raises
    ``FormatError`` for anything malformed, ``OSError`` when the file cannot be read.
    """
    cursor = Cursor(f, size, limit=24)  # the fixed header; widened to the key-value block below
    magic = cursor.read(4) if size >= 4 else b""
    if magic != _GGUF:
        raise FormatError("not a GGUF file: it does not start with the bytes 'GGUF'")
    (raw_version,) = cursor.unpack(struct.Struct("<I"))
    (swapped_version,) = struct.unpack(">I", struct.pack("<I", raw_version))
    if 1 <= raw_version <= 3:
        order, version = "<", raw_version
    elif 1 <= swapped_version <= 3:
        order, version = ">", swapped_version
    else:
        raise FormatError(f"unsupported GGUF version {raw_version} (this reader knows versions 1 to 3)")
    count = struct.Struct(order + ("I" if version == 1 else "Q"))
    tensor_count = cursor.unpack(count)[0]
    kv_count = cursor.unpack(count)[0]
    kv_start = cursor.tell()

    # Smallest possible key-value entry: key length, a 1-byte key, the type id, a 1-byte value.
    min_kv = count.size + 1 + 4 + 1
    if kv_count * min_kv > size - kv_start:
        raise FormatError(f"GGUF header claims {kv_count} metadata entries, more than a file of {size} bytes can hold")
    if kv_count > max_kv_count:
        raise FormatError(f"GGUF header claims {kv_count} metadata entries, more than the cap of {max_kv_count}")
    # Smallest possible tensor description: name length, n_dims, type, offset.
    min_tensor = count.size + 4 + 4 + 8
    if tensor_count * min_tensor > size - kv_start:
        raise FormatError(f"GGUF header claims {tensor_count} tensors, more than a file of {size} bytes can hold")

    cursor.set_limit(
        kv_start + max_kv_bytes, f"the GGUF metadata block is larger than the {describe_size(max_kv_bytes)} cap"
    )
    walk = _Walk(
        cursor,
        order,
        count,
        max_string,
        max_array_items,
        WALK_BUDGET_FACTOR * max_array_items,
        {type_id: struct.Struct(order + code) for type_id, code in _FIXED_CODES.items()},
        struct.Struct(order + "I"),
    )
    metadata: dict[str, object] = {}
    arrays: dict[str, tuple[object, ...]] = {}
    array_lengths: dict[str, int] = {}
    spans: array[int] = array("q")  # where every SPAN_STRIDE-th vocabulary token lies (the offset of its length)
    vocabulary_end = 0
    for index in range(kv_count):
        key = ""
        try:
            key = _read_string(walk, MAX_KEY_LENGTH, "key")
            if key in metadata or key in array_lengths:
                raise FormatError("the key appears twice")
            (value_type,) = cursor.unpack(walk.type_id)
            if value_type == _ARRAY:
                noted = spans if key == VOCABULARY and key not in keep_arrays else None
                items, length = _read_array(walk, keep=key in keep_arrays, depth=1, spans=noted)
                array_lengths[key] = length
                if noted is not None:
                    vocabulary_end = cursor.tell()
                if items is not None:
                    arrays[key] = items
            else:
                metadata[key] = _read_scalar(walk, value_type)
        except FormatError as e:
            name = f" ({key})" if key else ""
            raise FormatError(f"GGUF key {index}{name}: {e}") from None
    types = arrays.get(TOKEN_TYPES, ())
    specials: tuple[str, ...]
    if VOCABULARY in arrays:
        vocabulary = arrays[VOCABULARY]
        specials = tuple(t for i in _special(types, len(vocabulary)) if isinstance(t := vocabulary[i], str))
    else:
        walked = array_lengths.get(VOCABULARY, 0) if spans else 0  # a vocabulary of strings, not of numbers
        specials = _read_back(walk, spans, vocabulary_end, _special(types, walked))
    return GGUFHeader(
        version=version,
        byte_order="big" if order == ">" else "little",
        tensor_count=tensor_count,
        metadata=metadata,
        arrays=arrays,
        array_lengths=array_lengths,
        bytes_read=cursor.bytes_read,
        special_tokens=specials,
    )


def _special(types: tuple[object, ...], count: int) -> list[int]:
    """The indexes below ``count`` whose token type is control or user-defined, in order, at most
    ``MAX_SPECIAL_TOKENS``: found by the tuple's own search in C (a vocabulary's 100,000 or more types hold a
    few hundred such), not by a Python loop over all of them."""
    found: list[int] = []
    for kind in SPECIAL_TOKEN_TYPES:
        at, of_kind = -1, 0
        while of_kind < MAX_SPECIAL_TOKENS:
            try:
                at = types.index(kind, at + 1, count)
            except ValueError:
                break
            found.append(at)
            of_kind += 1
    return sorted(found)[:MAX_SPECIAL_TOKENS]


def _read_back(walk: _Walk, spans: array[int], end: int, indexes: Sequence[int]) -> tuple[str, ...]:
    """The vocabulary tokens at ``indexes`` (in order), read again from where the walk noted every
    ``SPAN_STRIDE``-th one: each stretch of tokens holding one of them read once (inside the key-value block's
    cap, already checked by the walk), the rest stepped over in memory."""
    width, unpack = walk.count.size, walk.count.unpack_from
    tokens: list[str] = []
    block, data = -1, b""
    for index in indexes:
        if index // SPAN_STRIDE != block:
            block = index // SPAN_STRIDE
            start = spans[block]
            stop = spans[block + 1] if block + 1 < len(spans) else end
            data = walk.cursor.read_at(start, stop - start)
        at = 0
        for _ in range(index % SPAN_STRIDE + 1):
            if at + width > len(data) or at + width + unpack(data, at)[0] > len(data):
                raise FormatError("the file changed while it was read: its vocabulary no longer lies where it did")
            start, at = at + width, at + width + unpack(data, at)[0]
        tokens.append(data[start:at].decode("utf-8", "replace"))
    return tuple(tokens)


def _type_name(value_type: int) -> str:
    if 0 <= value_type < len(_TYPE_NAMES):
        return _TYPE_NAMES[value_type]
    raise FormatError(f"unknown value type {value_type}")


def _check_length(walk: _Walk, length: int, cap: int, what: str) -> None:
    if length > walk.cursor.size - walk.cursor.tell():
        raise FormatError(f"{what} length {length} exceeds the file size")
    if length > cap:
        raise FormatError(f"{what} length {length} exceeds the {describe_size(cap)} cap")


def _read_string(walk: _Walk, cap: int, what: str = "string") -> str:
    (length,) = walk.cursor.unpack(walk.count)
    _check_length(walk, length, cap, what)
    return walk.cursor.read(length).decode("utf-8", "replace")


def _read_scalar(walk: _Walk, value_type: int) -> object:
    if value_type == _STRING:
        return _read_string(walk, walk.max_string)
    layout = walk.scalars.get(value_type)
    if layout is None:
        _type_name(value_type)  # raises for unknown ids
        raise FormatError(f"value type {value_type} is not a scalar")
    (value,) = walk.cursor.unpack(layout)
    return value


def _read_array(
    walk: _Walk, *, keep: bool, depth: int, spans: array[int] | None = None
) -> tuple[tuple[object, ...] | None, int]:
    """``(items or None when skipped, item count)``; the cursor ends just past the array."""
    cursor = walk.cursor
    (item_type,) = cursor.unpack(walk.type_id)
    (length,) = cursor.unpack(walk.count)
    _type_name(item_type)
    room = cursor.size - cursor.tell()
    item_size = _FIXED_SIZES.get(item_type)
    if item_size is not None:
        if length * item_size > room:
            raise FormatError(f"array of {length} {_type_name(item_type)} items exceeds the file size")
        if not keep:
            cursor.skip(length * item_size)
            return None, length
        _check_items(walk, length, cost=1)  # bounds memory: a kept item is a Python object
        data = cursor.read(length * item_size)
        return struct.unpack(f"{walk.order}{length}{_FIXED_CODES[item_type]}", data), length
    # Strings and nested arrays must be walked item by item: check the count first.
    smallest = walk.count.size if item_type == _STRING else 4 + walk.count.size
    if length * smallest > room:
        raise FormatError(f"array of {length} {_type_name(item_type)} items exceeds the file size")
    _check_items(walk, length, cost=1 if item_type == _STRING else NESTED_ARRAY_COST)
    if item_type == _STRING:
        strings = cursor.length_prefixed(length, walk.count, walk.max_string, keep=keep, spans=spans)
        return (tuple(strings) if keep else None), length
    if depth >= _MAX_NESTING:
        raise FormatError(f"arrays are nested deeper than {_MAX_NESTING} levels")
    inner: list[object] = []
    for _ in range(length):
        items, _inner_length = _read_array(walk, keep=keep, depth=depth + 1)
        if keep:
            inner.append(items)
    return (tuple(inner) if keep else None), length


def _check_items(walk: _Walk, length: int, *, cost: int) -> None:
    if length > walk.max_array_items:
        raise FormatError(f"array of {length} items exceeds the cap of {walk.max_array_items} items")
    if cost:
        walk.items_left -= length * cost
        if walk.items_left < 0:
            raise FormatError(
                f"the arrays hold more strings, nested arrays and kept items in all than the budget of "
                f"{WALK_BUDGET_FACTOR * walk.max_array_items} items allows (a nested array counts {NESTED_ARRAY_COST})"
            )


def special_tokens(header: GGUFHeader) -> tuple[str, ...]:
    """Control and user-defined tokens (DeepSeek's full-width begin-of-sentence marker ...): a family's fingerprint.

    Needs ``tokenizer.ggml.token_type`` to have been kept; at most ``MAX_SPECIAL_TOKENS`` tokens, in
    vocabulary order.
    """
    return header.special_tokens
