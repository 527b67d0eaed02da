"""One weight file: what its header says, read under byte caps, found by content rather than name.

The first 16 bytes pick the parser (``scanner.formats.sniff``); the name only breaks ties (a zip
is a PyTorch checkpoint in a ``.pt``, a Keras model in a ``.keras``). Nothing is unpickled or
executed. A Python ``.pth`` path-configuration file, a zip of something else, or a ``.bin`` that
is firmware is simply not a model (``None``); a file that claims to be a model format but has a
broken header raises ``FormatError``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from scanner.collectors.models.cards import CHAT_TEMPLATE_CAP
from scanner.formats import FormatError, sniff
from scanner.formats.gguf import GGUFHeader, read_gguf, special_tokens
from scanner.formats.onnx import read_onnx
from scanner.formats.other import identify_hdf5, identify_mlmodel, read_keras_zip
from scanner.formats.pytorch_zip import read_torch_zip
from scanner.formats.safetensors import read_safetensors
from scanner.names import hf_repo_id
from scanner.records import Clue, ClueKind

CACHE_KIND = "weight-facts-1"
"""File-cache kind for ``WeightFacts``; bump when parsing changes what a header yields."""
WEIGHT_SUFFIXES = frozenset(
    {".gguf", ".ggml", ".bin", ".safetensors", ".pt", ".pth", ".ckpt", ".onnx", ".tflite", ".h5", ".keras", ".mlmodel"}
)
_CLAIMED = {".gguf": "gguf", ".safetensors": "safetensors", ".onnx": "onnx"}
"""Suffixes that claim a model format: a broken header there is reported, not ignored."""
_LEGACY_TORCH_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"
"""``torch.save`` before 1.6 wrote this pickled magic number (0x1950a86a20f9469cfc6c) first."""
_TORCH_SUFFIXES = frozenset({".bin", ".pt", ".pth", ".ckpt"})
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


def read_weight_file(handle: BinaryIO, size: int, name: str, path: str) -> WeightFacts | None:
    """Identify and read one file (``path`` is as seen inside the root, for clues).

    A broken header raises ``FormatError`` only when the file claims to be a model — by a model
    suffix (``.gguf``, ``.safetensors``, ``.onnx``) or a GGUF magic; a ``.bin`` or ``.h5`` that merely
    looks like one at first is simply not a model.
    """
    head = handle.read(16)
    kind = sniff(head)
    suffix = os.path.splitext(name)[1].lower()
    handle.seek(0)
    try:
        return _read(handle, size, head, kind, suffix, path)
    except FormatError:
        if suffix in _CLAIMED or kind == "gguf":
            raise
        return None


def _read(handle: BinaryIO, size: int, head: bytes, kind: str | None, suffix: str, path: str) -> WeightFacts | None:
    if kind == "gguf":
        return _gguf(read_gguf(handle, size), size, path)
    if kind == "safetensors":
        header = read_safetensors(handle, size)
        facts = WeightFacts("safetensors", size, header.bytes_read)
        for key in ("name", "modelspec.title", "model_name"):
            if header.metadata.get(key):
                facts.clues.append(Clue("name", header.metadata[key], f"__metadata__.{key}", path))
        return facts
    if kind == "zip" and suffix == ".keras":
        return WeightFacts("keras", size, read_keras_zip(handle, size).bytes_read)
    if kind == "zip":
        torch = read_torch_zip(handle, size)
        return WeightFacts("pytorch-zip", size, torch.bytes_read) if torch.is_pytorch else None
    if kind == "pickle" and suffix in _TORCH_SUFFIXES:
        # Only a legacy torch.save file starts with its magic number; other pickles are not models here.
        is_torch = handle.read(len(_LEGACY_TORCH_MAGIC)) == _LEGACY_TORCH_MAGIC
        return WeightFacts("pytorch-pickle", size, len(_LEGACY_TORCH_MAGIC)) if is_torch else None
    if kind == "hdf5":
        hdf5 = identify_hdf5(handle, size)
        return WeightFacts("keras-hdf5", size, hdf5.bytes_read) if hdf5.mentions_keras else None
    if kind in ("ggml", "tflite"):
        return WeightFacts(str(kind), size, len(head))
    if suffix == ".onnx":
        onnx = read_onnx(handle, size)
        facts = WeightFacts("onnx", size, onnx.bytes_read)
        for key, value in onnx.metadata_props.items():
            if "name" in key.lower() and value:
                facts.clues.append(Clue("name", value, f"metadata_props.{key}", path))
        if onnx.graph_name:
            facts.clues.append(Clue("name", onnx.graph_name, "graph.name", path))
        return facts
    if suffix == ".mlmodel":
        return WeightFacts("coreml", size, identify_mlmodel(handle, size).bytes_read)
    pointer = _LFS_POINTER.match(handle.read(200)) if size < 1024 else None
    if pointer:
        facts = WeightFacts("git-lfs-pointer", int(pointer.group(2)), 200)
        facts.clues.append(Clue("digest", pointer.group(1).decode(), "oid sha256", path))
        return facts
    if suffix in _CLAIMED:
        raise FormatError(f"not a {_CLAIMED[suffix]} file (its first bytes are {head[:8]!r})")
    return None  # e.g. a site-packages .pth path-configuration file, firmware in a .bin


def _text(metadata: dict[str, object], key: str) -> str | None:
    value = metadata.get(key)
    return value.strip() if isinstance(value, str) and value.strip() else None


def _gguf(header: GGUFHeader, size: int, path: str) -> WeightFacts:
    meta = header.metadata
    facts = WeightFacts("gguf", size, header.bytes_read, version=_text(meta, "general.version"))
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
