"""Builders for real model files and stores in test trees (written with the formats' own writers)."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import struct
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

import gguf
import numpy as np
from formats_support import field_bytes, field_varint
from safetensors.numpy import save_file

DEEPSEEK_SPECIALS = ["<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜User｜>", "<｜Assistant｜>"]


def write_gguf(
    path: Path,
    *,
    arch: str = "llama",
    name: str | None = None,
    basename: str | None = None,
    organization: str | None = None,
    pre: str | None = None,
    tokens: Sequence[str] = ("<s>", "</s>", "hello", "world"),
    special: Sequence[str] = ("<s>", "</s>"),
    base_models: Sequence[dict[str, str]] = (),
    datasets: Sequence[str] = (),
    chat_template: str | None = None,
) -> Path:
    """A small but real GGUF file: header, tokenizer and one tensor."""
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(str(path), arch=arch)
    if name:
        writer.add_name(name)
    if basename:
        writer.add_basename(basename)
    if organization:
        writer.add_organization(organization)
    if base_models:
        writer.add_base_model_count(len(base_models))
        for index, base in enumerate(base_models):
            if "name" in base:
                writer.add_base_model_name(index, base["name"])
            if "organization" in base:
                writer.add_base_model_organization(index, base["organization"])
            if "repo_url" in base:
                writer.add_base_model_repo_url(index, base["repo_url"])
    if datasets:
        writer.add_dataset_count(len(datasets))
        for index, dataset in enumerate(datasets):
            writer.add_dataset_name(index, dataset)
    writer.add_tokenizer_model("gpt2")
    if pre:
        writer.add_tokenizer_pre(pre)
    writer.add_token_list(list(tokens))
    writer.add_token_types([3 if t in special else 1 for t in tokens])
    if chat_template:
        writer.add_chat_template(chat_template)
    writer.add_tensor("token_embd.weight", np.zeros((4, 4), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def write_safetensors(path: Path, metadata: dict[str, str] | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({"model.embed_tokens.weight": np.zeros((8, 4), dtype=np.float16)}, str(path), metadata=metadata)
    return path


def write_json(path: Path, data: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False))
    return path


def qwen2_config(name_or_path: str = "") -> dict[str, object]:
    return {
        "_name_or_path": name_or_path,
        "architectures": ["Qwen2ForCausalLM"],
        "model_type": "qwen2",
        "vocab_size": 151936,
        "hidden_size": 3584,
        "num_hidden_layers": 28,
        "torch_dtype": "bfloat16",
    }


def tokenizer_config(specials: Sequence[str], chat_template: str = "{{ messages }}") -> dict[str, object]:
    return {
        "bos_token": specials[0] if specials else None,
        "added_tokens_decoder": {str(151643 + i): {"content": t, "special": True} for i, t in enumerate(specials)},
        "chat_template": chat_template,
    }


def model_card(base_model: str | list[str] | None = None, relation: str | None = None, title: str = "") -> str:
    lines = ["---", "license: apache-2.0"]
    if base_model:
        bases = [base_model] if isinstance(base_model, str) else base_model
        lines += ["base_model:", *(f"- {b}" for b in bases)]
    if relation:
        lines.append(f"base_model_relation: {relation}")
    lines += ["---", ""]
    if title:
        lines.append(f"# {title}")
    return "\n".join(lines) + "\nSome words.\n"


def hf_cache_repo(hub: Path, repo_id: str, files: dict[str, bytes], revision: str = "a" * 40) -> Path:
    """A real huggingface_hub cache layout: blobs named by sha256, snapshot files as relative symlinks."""
    repo = hub / f"models--{repo_id.replace('/', '--')}"
    (repo / "blobs").mkdir(parents=True, exist_ok=True)
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(revision)
    snapshot = repo / "snapshots" / revision
    snapshot.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        digest = hashlib.sha256(data).hexdigest()
        (repo / "blobs" / digest).write_bytes(data)
        (snapshot / name).symlink_to(os.path.join("..", "..", "blobs", digest))
    return repo


def ollama_store(models: Path, blobs: dict[str, bytes], manifests: dict[str, dict[str, str]]) -> dict[str, str]:
    """An Ollama models folder. ``blobs``: name -> bytes; ``manifests``: 'model:tag' -> {media kind: blob name}."""
    digests = {}
    (models / "blobs").mkdir(parents=True, exist_ok=True)
    for name, data in blobs.items():
        digest = hashlib.sha256(data).hexdigest()
        (models / "blobs" / f"sha256-{digest}").write_bytes(data)
        digests[name] = digest
    for model_tag, layers in manifests.items():
        model, tag = model_tag.split(":")
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "layers": [
                {
                    "mediaType": f"application/vnd.ollama.image.{kind}",
                    "digest": f"sha256:{digests[blob]}",
                    "size": len(blobs[blob]),
                }
                for kind, blob in layers.items()
            ],
        }
        write_json(models / "manifests" / "registry.ollama.ai" / "library" / model / tag, manifest)
    return digests


# One small real file per weight format, keyed by the format's id in the table; the table test checks
# that every row has one, so adding a format means adding its builder here.


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _zip(path: Path, members: dict[str, bytes | str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def write_ggml(path: Path) -> Path:
    """A legacy llama.cpp header: the 'ggml' magic as a little-endian uint32, then the vocabulary size."""
    return _write(path, struct.pack("<II", 0x67676D6C, 32000) + bytes(64))


def write_keras(path: Path) -> Path:
    """A Keras v3 archive: ``config.json``, ``metadata.json`` and the weights member."""
    config = {"module": "keras", "class_name": "Sequential", "config": {"name": "sequential", "layers": []}}
    return _zip(
        path,
        {
            "config.json": json.dumps(config),
            "metadata.json": json.dumps({"keras_version": "3.6.0"}),
            "model.weights.h5": b"\x89HDF\r\n\x1a\n" + bytes(64),
        },
    )


def write_torch_zip(path: Path) -> Path:
    """The member layout ``torch.save`` writes since 1.6 (the pickle is only listed, never loaded)."""
    return _zip(
        path, {"archive/data.pkl": pickle.dumps({}, protocol=2), "archive/version": "3\n", "archive/data/0": bytes(64)}
    )


def write_keras_hdf5(path: Path) -> Path:
    """An HDF5 superblock followed by the attribute name Keras writes."""
    return _write(path, b"\x89HDF\r\n\x1a\n\x00" + bytes(55) + b"keras_version" + bytes(64))


def write_tflite(path: Path) -> Path:
    """A flatbuffer with the ``TFL3`` identifier after its root offset (the reader looks no further)."""
    return _write(path, struct.pack("<I", 16) + b"TFL3" + bytes(56))


def write_legacy_torch(path: Path) -> Path:
    """What ``torch.save`` wrote first before 1.6: its pickled magic number, then the protocol version."""
    return _write(path, pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2) + pickle.dumps(1001, protocol=2))


def write_onnx(path: Path) -> Path:
    """A ModelProto: IR version, producer, a named graph and a ``model_name`` metadata property."""
    graph = field_bytes(2, "main_graph")
    metadata = field_bytes(14, field_bytes(1, "model_name") + field_bytes(2, "tiny"))
    return _write(path, field_varint(1, 9) + field_bytes(2, "pytorch") + field_bytes(7, graph) + metadata)


def write_coreml(path: Path) -> Path:
    """A Core ML ``Model``: specification version, a description and an ML program body."""
    description = field_bytes(100, field_bytes(3, "Someone"))
    return _write(path, field_varint(1, 6) + field_bytes(2, description) + field_bytes(502, b"\x0a\x00"))


WEIGHT_SAMPLES: dict[str, Callable[[Path], Path]] = {
    "gguf": write_gguf,
    "ggml": write_ggml,
    "keras": write_keras,
    "pytorch-zip": write_torch_zip,
    "keras-hdf5": write_keras_hdf5,
    "tflite": write_tflite,
    "safetensors": write_safetensors,
    "pytorch-pickle": write_legacy_torch,
    "onnx": write_onnx,
    "coreml": write_coreml,
}
