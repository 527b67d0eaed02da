"""Smaller formats: HDF5 and Keras v3 archives, TFLite flatbuffers and Core ML protobuf models.

For these the scanner mostly needs to know *what* a file is and the few names its header carries
(Keras class and module names, a TFLite description, Core ML author and licence). Each reader is a
handful of bounded reads; the zip and protobuf plumbing is shared with ``pytorch_zip`` and ``protobuf``.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from typing import BinaryIO

from scanner.formats.cursor import Cursor
from scanner.formats.errors import FormatError
from scanner.formats.magic import Magic
from scanner.formats.protobuf import Field, ProtoReader, string_map_entry
from scanner.formats.pytorch_zip import ZipEntry, read_central_directory, read_member

_KIB = 1 << 10
_MIB = 1 << 20
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_HDF5_HINT_BYTES = 64 * _KIB
_KERAS_HINTS = (b"keras_version", b"model_config")
MAX_NAMES = 256
"""Distinct Keras class / module names kept, and TFLite metadata names (at most 64) read."""
_MAX_JSON_NODES = 200_000
_TFLITE_MAX_METADATA = 64
_TFLITE_MAX_STRING = 64 * _KIB
_TFLITE_IDENTIFIER = b"TFL3"

HDF5_MAGIC = Magic("hdf5", lambda head: head.startswith(_HDF5_SIGNATURE))
"""An HDF5 superblock at byte 0 (files with a user block before it are not sniffed)."""
TFLITE_MAGIC = Magic("tflite", lambda head: head[4:8] == _TFLITE_IDENTIFIER)
"""The flatbuffer file identifier, after the root table offset."""


@dataclass(frozen=True)
class Hdf5Header:
    """An HDF5 file (Keras ``.h5`` weights among others), located by its superblock signature."""

    superblock_offset: int
    """0, or 512, 1024 ... when the file starts with a user block."""
    superblock_version: int
    mentions_keras: bool
    """The first 64 KiB name ``keras_version`` or ``model_config``: most likely a Keras model."""
    bytes_read: int


def identify_hdf5(f: BinaryIO, size: int) -> Hdf5Header:
    """Find the HDF5 superblock (at 0 or a power of two from 512 on) and peek for Keras attribute names."""
    cursor = Cursor(f, size, chunk=4 * _KIB)
    offset = 0
    while offset + len(_HDF5_SIGNATURE) + 1 <= size:
        cursor.seek(offset)
        if cursor.read(len(_HDF5_SIGNATURE)) == _HDF5_SIGNATURE:
            version = cursor.read(1)[0]
            hint = cursor.read(min(_HDF5_HINT_BYTES, size - cursor.tell()))
            return Hdf5Header(offset, version, any(word in hint for word in _KERAS_HINTS), cursor.bytes_read)
        offset = 512 if offset == 0 else offset * 2
    raise FormatError("not an HDF5 file: no superblock signature at byte 0 or at any power of two from 512")


@dataclass(frozen=True)
class KerasArchive:
    """A Keras v3 ``.keras`` zip: its model configuration names, read from ``config.json``."""

    class_name: str | None
    """The top-level class (``Sequential``, ``Functional`` or a custom model class)."""
    modules: tuple[str, ...]
    """Distinct ``module`` values in the configuration, sorted; a custom module here means custom code."""
    class_names: tuple[str, ...]
    """Distinct ``class_name`` values in the configuration, sorted."""
    keras_version: str | None
    """From ``metadata.json``."""
    config_read: bool
    """False when ``config.json`` was too large to read (more than 1 MiB compressed)."""
    members: tuple[str, ...]
    bytes_read: int


def read_keras_zip(f: BinaryIO, size: int, *, max_member: int = 1 * _MIB, max_json: int = 8 * _MIB) -> KerasArchive:
    """Read ``config.json`` and ``metadata.json`` of a ``.keras`` archive, through its central directory.

    Members larger than ``max_member`` compressed are not read; ``max_json`` caps decompression.
    Raises ``FormatError`` when the zip is malformed or has no ``config.json``.
    """
    directory = read_central_directory(f, size, max_entries=10_000, max_central_dir=4 * _MIB)
    by_name = {entry.name: entry for entry in directory.entries}
    config_entry = by_name.get("config.json")
    if config_entry is None:
        raise FormatError("not a Keras archive: no config.json member")
    bytes_read = directory.bytes_read
    class_name: str | None = None
    modules: set[str] = set()
    class_names: set[str] = set()
    config_read = config_entry.compressed_size <= max_member
    if config_read:
        config, used = _member_json(f, size, config_entry, max_member, max_json)
        bytes_read += used
        if isinstance(config, dict) and isinstance(config.get("class_name"), str):
            class_name = config["class_name"]
        _collect_names(config, modules, class_names)
    keras_version: str | None = None
    metadata_entry = by_name.get("metadata.json")
    if metadata_entry is not None and metadata_entry.compressed_size <= max_member:
        metadata, used = _member_json(f, size, metadata_entry, max_member, max_json)
        bytes_read += used
        if isinstance(metadata, dict) and isinstance(metadata.get("keras_version"), str):
            keras_version = metadata["keras_version"]
    return KerasArchive(
        class_name=class_name,
        modules=tuple(sorted(modules)),
        class_names=tuple(sorted(class_names)),
        keras_version=keras_version,
        config_read=config_read,
        members=tuple(entry.name for entry in directory.entries),
        bytes_read=bytes_read,
    )


def _member_json(f: BinaryIO, size: int, entry: ZipEntry, max_member: int, max_json: int) -> tuple[object, int]:
    data, used = read_member(f, size, entry, max_compressed=max_member, max_uncompressed=max_json)
    try:
        return json.loads(data.decode("utf-8")), used
    except UnicodeDecodeError:
        raise FormatError(f"{entry.name} is not UTF-8") from None
    except RecursionError:
        raise FormatError(f"{entry.name} is nested too deeply") from None
    except ValueError as e:
        raise FormatError(f"{entry.name} is not valid JSON: {str(e)[:200]}") from None


def _collect_names(document: object, modules: set[str], class_names: set[str]) -> None:
    """Gather ``module`` and ``class_name`` strings at any depth, without recursion and with a node cap."""
    stack = [document]
    visited = 0
    while stack and visited < _MAX_JSON_NODES:
        node = stack.pop()
        visited += 1
        if isinstance(node, dict):
            for key, names in (("module", modules), ("class_name", class_names)):
                value = node.get(key)
                if isinstance(value, str) and len(names) < MAX_NAMES:
                    names.add(value[:200])
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


@dataclass(frozen=True)
class TfliteHeader:
    """A TensorFlow Lite flatbuffer and what its root ``Model`` table says."""

    version: int | None
    """Schema version (3 for every current file)."""
    description: str | None
    """Converter note (``MLIR Converted.``, ``TOCO Converted.``), at most 64 KiB."""
    metadata_names: tuple[str, ...]
    """Names of the ``metadata`` entries (``min_runtime_version``, ``TFLITE_METADATA`` ...)."""
    bytes_read: int


def identify_tflite(f: BinaryIO, size: int) -> TfliteHeader:
    """Check the ``TFL3`` identifier and read version, description and metadata names from the root table.

    Every flatbuffer offset is checked against the file size before it is followed.
    """
    cursor = Cursor(f, size, chunk=4 * _KIB, max_read=1 * _MIB)
    if size < 8:
        raise FormatError("not a TFLite file: too short")
    root, identifier = struct.unpack("<I4s", cursor.read(8))
    if identifier != _TFLITE_IDENTIFIER:
        raise FormatError("not a TFLite file: no TFL3 identifier at byte 4")
    flat = _Flatbuffer(cursor)
    table = flat.table(root, "the root table")
    version_at = flat.field(table, 0)
    version = flat.u32(version_at) if version_at is not None else None
    description_at = flat.field(table, 3)
    description = flat.string(description_at) if description_at is not None else None
    names: list[str] = []
    metadata_at = flat.field(table, 6)
    if metadata_at is not None:
        vector = flat.follow(metadata_at, "the metadata vector")
        count = flat.u32(vector)
        for index in range(min(count, _TFLITE_MAX_METADATA)):
            item = flat.table(vector + 4 + 4 * index, f"metadata entry {index}", relative=True)
            name_at = flat.field(item, 0)
            if name_at is not None:
                names.append(flat.string(name_at))
    return TfliteHeader(version, description, tuple(names), cursor.bytes_read)


class _Flatbuffer:
    """Bounds-checked flatbuffer navigation: every offset is followed only after checking the file holds it."""

    def __init__(self, cursor: Cursor) -> None:
        self.cursor = cursor

    def _unpack(self, fmt: str, pos: int) -> int:
        layout = struct.Struct(fmt)
        if pos < 0 or pos + layout.size > self.cursor.size:
            raise FormatError(f"a flatbuffer offset points to byte {pos}, outside the file")
        self.cursor.seek(pos)
        value: int = self.cursor.unpack(layout)[0]
        return value

    def u32(self, pos: int) -> int:
        return self._unpack("<I", pos)

    def follow(self, pos: int, what: str) -> int:
        """The target of the ``uoffset`` stored at ``pos``."""
        target = pos + self.u32(pos)
        if target >= self.cursor.size:
            raise FormatError(f"{what} offset points beyond the end of the file")
        return target

    def table(self, pos: int, what: str, *, relative: bool = False) -> int:
        """A table's position: ``pos`` itself, or (``relative``) the target of the offset stored at ``pos``."""
        table = self.follow(pos, what) if relative else pos
        if table + 4 > self.cursor.size:
            raise FormatError(f"{what} lies beyond the end of the file")
        return table

    def field(self, table: int, slot: int) -> int | None:
        """Where field ``slot`` of ``table`` is stored, or ``None`` when the table omits it."""
        vtable = table - self._unpack("<i", table)
        vtable_size = self._unpack("<H", vtable)
        if 4 + 2 * slot + 2 > vtable_size:
            return None
        offset = self._unpack("<H", vtable + 4 + 2 * slot)
        return table + offset if offset else None

    def string(self, pos: int) -> str:
        start = self.follow(pos, "a string")
        length = self.u32(start)
        if start + 4 + length > self.cursor.size:
            raise FormatError(f"a string of {length} bytes at byte {start} runs past the end of the file")
        self.cursor.seek(start + 4)
        return self.cursor.read(min(length, _TFLITE_MAX_STRING)).decode("utf-8", "replace")


@dataclass(frozen=True)
class MlModelHeader:
    """A Core ML ``.mlmodel`` (protobuf ``Model``): its version, metadata and model type."""

    specification_version: int
    short_description: str
    version_string: str
    author: str
    license: str
    user_defined: dict[str, str]
    """``Metadata.userDefined`` (``com.github.apple.coremltools.source`` ...)."""
    model_type: str | None
    """The ``Model.Type`` oneof member (``mlProgram``, ``neuralNetwork`` ...), or ``field N`` when unknown."""
    bytes_read: int


_MLMODEL_TYPES = {
    200: "pipelineClassifier",
    201: "pipelineRegressor",
    202: "pipeline",
    300: "glmRegressor",
    301: "supportVectorRegressor",
    302: "treeEnsembleRegressor",
    303: "neuralNetworkRegressor",
    304: "bayesianProbitRegressor",
    400: "glmClassifier",
    401: "supportVectorClassifier",
    402: "treeEnsembleClassifier",
    403: "neuralNetworkClassifier",
    404: "kNearestNeighborsClassifier",
    500: "neuralNetwork",
    501: "itemSimilarityRecommender",
    502: "mlProgram",
    555: "customModel",
    556: "linkedModel",
    560: "classConfidenceThresholding",
    2000: "textClassifier",
    2001: "wordTagger",
    2002: "visionFeaturePrint",
    2003: "soundAnalysisPreprocessing",
    2004: "gazetteer",
    2005: "wordEmbedding",
    2006: "audioFeaturePrint",
    3000: "serializedModel",
}
_MLMODEL_MAX_SPEC_VERSION = 1000
_METADATA_STRINGS = {1: "short_description", 2: "version_string", 3: "author", 4: "license"}


def identify_mlmodel(f: BinaryIO, size: int, *, max_field: int = 1 * _MIB, max_read: int = 16 * _MIB) -> MlModelHeader:
    """Parse a Core ML model's specification version, ``description.metadata`` and model type.

    The model body (field 200 and up, the weights) is stepped over by its length. Raises
    ``FormatError`` for malformed protobuf or a file without a plausible ``specificationVersion``.
    """
    cursor = Cursor(f, size, max_read=max_read)
    reader = ProtoReader(cursor)
    spec_version: int | None = None
    texts = dict.fromkeys(_METADATA_STRINGS.values(), "")
    user_defined: dict[str, str] = {}
    model_type: str | None = None
    for field in reader.fields(size):
        if field.number == 1:
            spec_version = reader.scalar(field)
        elif field.number == 2:
            _description(reader, field, max_field, texts, user_defined)
        elif field.number >= 200 and model_type is None:
            model_type = _MLMODEL_TYPES.get(field.number, f"field {field.number}")
    if spec_version is None or not 1 <= spec_version <= _MLMODEL_MAX_SPEC_VERSION:
        raise FormatError("not a Core ML model: no plausible specificationVersion")
    return MlModelHeader(
        specification_version=spec_version,
        short_description=texts["short_description"],
        version_string=texts["version_string"],
        author=texts["author"],
        license=texts["license"],
        user_defined=user_defined,
        model_type=model_type,
        bytes_read=cursor.bytes_read,
    )


def _description(
    reader: ProtoReader, field: Field, cap: int, texts: dict[str, str], user_defined: dict[str, str]
) -> None:
    for sub in reader.message(field):
        if sub.number != 100:  # inputs, outputs and feature names are not needed
            continue
        for item in reader.message(sub):
            name = _METADATA_STRINGS.get(item.number)
            if name is not None:
                texts[name] = reader.text(item, cap)
            elif item.number == 100:
                key, value = string_map_entry(reader, item, cap)
                user_defined[key] = value
