"""Weight files: the table of formats every stage reads, and the reader that follows it.

Each row of ``WEIGHT_FORMATS`` is one format: the endings that name it, the signature its first
bytes show (``scanner.formats.magic``, by its id), whether a broken header under its name is reported, whether
an extension-less file of it counts, whether one file is a model of its own, and the parser that
yields its facts. The walk's interest, the reader, the grouping into models and the CLI all read it,
so a format is added by adding a row. Content decides before the name: a zip is a PyTorch
checkpoint in a ``.pt`` and a Keras model in a ``.keras``. Nothing is unpickled or executed. A
Python ``.pth`` path-configuration file, a zip of something else, or a ``.bin`` that is firmware is
simply not a model (``None``); a file that claims to be a model format but has a broken header
raises ``FormatError``.

The parsers (``scanner.formats``) are imported when the first file is read: most machines hold no model
file, and importing them was 8 ms of every run's start-up.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any, BinaryIO

from scanner.collectors.models.cards import CHAT_TEMPLATE_CAP
from scanner.formats.errors import FormatError
from scanner.formats.magic import HEAD_BYTES, Magic
from scanner.names import hf_repo_id
from scanner.records import Clue, ClueKind

CACHE_KIND = "weight-facts-2"
"""File-cache kind for ``WeightFacts``; bump when parsing changes what a header yields, or what is kept of
it (2: entries with a masked key in them, which earlier builds kept, are no longer trusted)."""
LFS_POINTER = "git-lfs-pointer"
"""The format of a Git LFS pointer left where a weight file of any format should be."""
_LFS_POINTER = re.compile(rb"^version https://git-lfs\.github\.com/spec/v1\s+oid sha256:([0-9a-f]{64})\s+size (\d+)")


@dataclass
class WeightFacts:
    """What one weight file says about itself."""

    format: str
    size: int
    bytes_read: int
    clues: list[Clue] = field(default_factory=list)
    special_tokens: tuple[str, ...] = ()
    chat_template: str | None = None
    version: str | None = None

    def to_cache(self) -> dict[str, Any]:
        """For the file cache: every clue comes from this file, so its path is not kept (a renamed
        file keeps its inode and its facts)."""
        return {
            "format": self.format,
            "size": self.size,
            "bytes_read": self.bytes_read,
            "clues": [[c.kind, c.value, c.field, c.relation] for c in self.clues],
            "special_tokens": list(self.special_tokens),
            "chat_template": self.chat_template,
            "version": self.version,
        }

    @classmethod
    def from_cache(cls, data: dict[str, Any], path: str) -> WeightFacts:
        clues = [Clue(kind, value, field, path, relation) for kind, value, field, relation in data["clues"]]
        return cls(
            data["format"],
            data["size"],
            data["bytes_read"],
            clues,
            tuple(data["special_tokens"]),
            data["chat_template"],
            data["version"],
        )


Parser = Callable[[str, BinaryIO, int, str], WeightFacts | None]
"""Reads one file of a format: ``(format id, handle at 0, size, path inside the root)`` -> its facts, or
``None`` when the file is not a model after all; raises ``FormatError`` for a broken header."""


@dataclass(frozen=True)
class WeightFormat:
    """One weight format, as every stage sees it."""

    id: str
    """What reports call it (``ModelFile.format``, ``ModelRecord.format``); kept in the file cache."""
    suffixes: tuple[str, ...]
    """Endings that name it, lower case: the walk hands these files over, ``policy digests`` lists them."""
    parse: Parser
    magic: str | None = None
    """The id of the signature (``Magic.id``) that selects this row whatever the file is called; ``None``:
    chosen by suffix alone."""
    named: bool = False
    """The signature counts only under one of ``suffixes`` (a zip is a Keras model only in a ``.keras``)."""
    claims: bool = False
    """A file named with one of ``suffixes`` whose header does not read is reported, not ignored."""
    extensionless: bool = False
    """A file without an extension (an Ollama blob, a renamed download) of this format is a model file."""
    standalone: bool = False
    """One file is one model (its shards joined); files of other formats make a model with their folder."""


def _text(metadata: dict[str, object], key: str) -> str | None:
    value = metadata.get(key)
    return value.strip() if isinstance(value, str) and value.strip() else None


def _gguf(fmt: str, handle: BinaryIO, size: int, path: str) -> WeightFacts:
    from scanner.formats.gguf import read_gguf, special_tokens

    header = read_gguf(handle, size)
    meta = header.metadata
    facts = WeightFacts(fmt, size, header.bytes_read, version=_text(meta, "general.version"))
    clues = facts.clues
    for key in ("general.name", "general.basename"):
        if _text(meta, key):
            clues.append(Clue("name", _text(meta, key) or "", key, path))
    organization, basename = _text(meta, "general.organization"), _text(meta, "general.basename")
    if organization and basename:
        clues.append(Clue("name", f"{organization}/{basename}", "general.organization + general.basename", path))
    for key in ("general.repo_url", "general.url", "general.source.repo_url", "general.source.url"):
        repo = hf_repo_id(_text(meta, key) or "")
        if repo and key.startswith("general.source"):  # the model this file was converted from
            clues.append(Clue("base-model", repo, key, path, "quantized"))
        elif repo:
            clues.append(Clue("name", repo, key, path))
    groups: tuple[tuple[str, ClueKind], ...] = (("base_model", "base-model"), ("dataset", "dataset"))
    for group, kind in groups:
        count = meta.get(f"general.{group}.count")
        for index in range(min(count, 64) if isinstance(count, int) else 0):
            prefix = f"general.{group}.{index}"
            repo = hf_repo_id(_text(meta, f"{prefix}.repo_url") or "")
            name = _text(meta, f"{prefix}.name")
            org = _text(meta, f"{prefix}.organization")
            written = repo or (f"{org}/{name}" if org and name else name)
            if written:
                clues.append(Clue(kind, written, f"{prefix}.{'repo_url' if repo else 'name'}", path))
    pre = _text(meta, "tokenizer.ggml.pre")
    if pre:
        clues.append(Clue("gguf-pre", pre, "tokenizer.ggml.pre", path))
    architecture = _text(meta, "general.architecture")
    if architecture:
        clues.append(Clue("architecture", architecture, "general.architecture", path))
    facts.special_tokens = special_tokens(header)
    template = meta.get("tokenizer.chat_template")
    facts.chat_template = template[:CHAT_TEMPLATE_CAP] if isinstance(template, str) else None
    return facts


def _signature_only(fmt: str, handle: BinaryIO, size: int, path: str) -> WeightFacts:
    """The signature is the whole story: the header names no model we could use."""
    return WeightFacts(fmt, size, len(handle.read(HEAD_BYTES)))


def _keras(fmt: str, handle: BinaryIO, size: int, path: str) -> WeightFacts:
    from scanner.formats.other import read_keras_zip

    return WeightFacts(fmt, size, read_keras_zip(handle, size).bytes_read)


def _torch_zip(fmt: str, handle: BinaryIO, size: int, path: str) -> WeightFacts | None:
    from scanner.formats.pytorch_zip import read_torch_zip

    torch = read_torch_zip(handle, size)
    return WeightFacts(fmt, size, torch.bytes_read) if torch.is_pytorch else None


def _keras_hdf5(fmt: str, handle: BinaryIO, size: int, path: str) -> WeightFacts | None:
    from scanner.formats.other import identify_hdf5

    hdf5 = identify_hdf5(handle, size)
    return WeightFacts(fmt, size, hdf5.bytes_read) if hdf5.mentions_keras else None


def _safetensors(fmt: str, handle: BinaryIO, size: int, path: str) -> WeightFacts:
    from scanner.formats.safetensors import read_safetensors

    header = read_safetensors(handle, size)
    facts = WeightFacts(fmt, size, header.bytes_read)
    for key in ("name", "modelspec.title", "model_name"):
        if header.metadata.get(key):
            facts.clues.append(Clue("name", header.metadata[key], f"__metadata__.{key}", path))
    return facts


def _torch_pickle(fmt: str, handle: BinaryIO, size: int, path: str) -> WeightFacts | None:
    from scanner.formats.torch_pickle import LEGACY_TORCH_MAGIC, is_legacy_torch

    # Only a legacy torch.save file starts with its magic number; other pickles are not models here.
    return WeightFacts(fmt, size, len(LEGACY_TORCH_MAGIC)) if is_legacy_torch(handle) else None


def _onnx(fmt: str, handle: BinaryIO, size: int, path: str) -> WeightFacts:
    from scanner.formats.onnx import read_onnx

    onnx = read_onnx(handle, size)
    facts = WeightFacts(fmt, size, onnx.bytes_read)
    for key, value in onnx.metadata_props.items():
        if "name" in key.lower() and value:
            facts.clues.append(Clue("name", value, f"metadata_props.{key}", path))
    if onnx.graph_name:
        facts.clues.append(Clue("name", onnx.graph_name, "graph.name", path))
    return facts


def _coreml(fmt: str, handle: BinaryIO, size: int, path: str) -> WeightFacts:
    from scanner.formats.other import identify_mlmodel

    return WeightFacts(fmt, size, identify_mlmodel(handle, size).bytes_read)


WEIGHT_FORMATS: tuple[WeightFormat, ...] = (
    # Order matters twice: signatures are tried in the order rows first name them (a GGUF magic before
    # anything, a safetensors length before a pickle's PROTO byte that can look the same), and rows that
    # share a signature in row order (a .keras zip before any other zip). Rows without a signature are
    # tried last, as listed: they take only what no signature claimed.
    WeightFormat("gguf", (".gguf",), _gguf, "gguf", claims=True, extensionless=True, standalone=True),
    WeightFormat("ggml", (".ggml",), _signature_only, "ggml", extensionless=True, standalone=True),
    WeightFormat("keras", (".keras",), _keras, "zip", named=True),
    # torch.save's zip is a PyTorch checkpoint whatever the file is called, so it needs no ending of
    # its own; the PyTorch endings are the pickle row's, whose signature counts only under them.
    WeightFormat("pytorch-zip", (), _torch_zip, "zip"),
    WeightFormat("keras-hdf5", (".h5",), _keras_hdf5, "hdf5"),
    WeightFormat("tflite", (".tflite",), _signature_only, "tflite"),
    WeightFormat("safetensors", (".safetensors",), _safetensors, "safetensors", claims=True, extensionless=True),
    WeightFormat("pytorch-pickle", (".bin", ".pt", ".pth", ".ckpt"), _torch_pickle, "pickle", named=True),
    WeightFormat("onnx", (".onnx",), _onnx, claims=True),
    WeightFormat("coreml", (".mlmodel",), _coreml),
)
WEIGHT_FORMAT_BY_ID = {row.id: row for row in WEIGHT_FORMATS}
WEIGHT_FORMAT_BY_SUFFIX = {suffix: row for row in WEIGHT_FORMATS for suffix in row.suffixes}
WEIGHT_SUFFIXES = frozenset(WEIGHT_FORMAT_BY_SUFFIX)
"""Every ending that names a weight format: what the walk hands the model collector."""
_MAGIC_IDS = tuple(dict.fromkeys(row.magic for row in WEIGHT_FORMATS if row.magic is not None))
_ROWS_BY_MAGIC = {magic: tuple(row for row in WEIGHT_FORMATS if row.magic == magic) for magic in _MAGIC_IDS}


@cache
def signatures() -> tuple[Magic, ...]:
    """The signatures the rows name, in the order they are tried: each declared by its parser's module."""
    from scanner.formats.gguf import GGML_MAGIC, GGUF_MAGIC
    from scanner.formats.other import HDF5_MAGIC, TFLITE_MAGIC
    from scanner.formats.pytorch_zip import ZIP_MAGIC
    from scanner.formats.safetensors import SAFETENSORS_MAGIC
    from scanner.formats.torch_pickle import PICKLE_MAGIC

    declared = (GGUF_MAGIC, GGML_MAGIC, ZIP_MAGIC, HDF5_MAGIC, TFLITE_MAGIC, SAFETENSORS_MAGIC, PICKLE_MAGIC)
    by_id = {magic.id: magic for magic in declared}
    return tuple(by_id[magic] for magic in _MAGIC_IDS)


def sniff(head: bytes) -> Magic | None:
    """The signature a file's first ``HEAD_BYTES`` bytes carry, or ``None``."""
    for magic in signatures():
        if magic.matches(head):
            return magic
    return None


def weight_format(magic: Magic | None, suffix: str) -> WeightFormat | None:
    """The row that reads a file: the first with the file's signature (under one of the row's endings
    if it is ``named``), else the signature-less row the file's ending names."""
    for row in _ROWS_BY_MAGIC.get(magic.id, ()) if magic is not None else ():
        if not row.named or suffix in row.suffixes:
            return row
    by_name = WEIGHT_FORMAT_BY_SUFFIX.get(suffix)
    return by_name if by_name is not None and by_name.magic is None else None


def read_weight_file(handle: BinaryIO, size: int, name: str, path: str) -> WeightFacts | None:
    """Identify and read one file (``path`` is as seen inside the root, for clues).

    A broken header raises ``FormatError`` only when the file claims to be a model — by the ending of
    a ``claims`` row or a ``certain`` signature; a ``.bin`` or ``.h5`` that merely looks like one at
    first is simply not a model.
    """
    head = handle.read(HEAD_BYTES)
    handle.seek(0)
    suffix = os.path.splitext(name)[1].lower()
    magic = sniff(head)
    row = weight_format(magic, suffix)
    named = WEIGHT_FORMAT_BY_SUFFIX.get(suffix)
    claimed = named if named is not None and named.claims else None
    try:
        if row is not None:
            return row.parse(row.id, handle, size, path)
        pointer = _lfs_pointer(handle, size, path)
        if pointer is None and claimed is not None:
            raise FormatError(f"not a {claimed.id} file (not a recognised header)")
        return pointer  # or None: e.g. a site-packages .pth path-configuration file, firmware in a .bin
    except FormatError:
        if claimed is not None or (magic is not None and magic.certain):
            raise
        return None


def _lfs_pointer(handle: BinaryIO, size: int, path: str) -> WeightFacts | None:
    """A Git LFS pointer checked in where the weights should be: it still names their digest."""
    pointer = _LFS_POINTER.match(handle.read(200)) if size < 1024 else None
    if pointer is None:
        return None
    facts = WeightFacts(LFS_POINTER, int(pointer.group(2)), 200)
    facts.clues.append(Clue("digest", pointer.group(1).decode(), "oid sha256", path))
    return facts
