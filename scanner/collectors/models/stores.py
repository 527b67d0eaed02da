"""Where a model file sits says a lot: the layouts of the stores that download models.

All functions work on paths as seen inside the root, split at ``/``:

* Hugging Face cache: ``.../models--<org>--<name>/snapshots/<revision>/<file>``;
* Ollama: ``<store>/manifests/<registry>/<namespace>/<model>/<tag>`` and ``<store>/blobs/sha256-<hex>``;
* LM Studio: ``.../.lmstudio/models/<publisher>/<repo>/...`` (and the older ``.cache/lm-studio/models``);
* ModelScope: ``.../modelscope/hub/[models/]<org>/<name>/...`` (names mangled: ``1.5B`` -> ``1___5B``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from scanner.vocabulary import ModelStore

OLLAMA_DEFAULT_REGISTRY = "registry.ollama.ai"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class StorePlace:
    """A file's place in a model store."""

    store: ModelStore
    """``hf-cache``, ``lmstudio`` or ``modelscope``."""
    root: str
    """The folder that is one model (the ``models--org--name`` folder, the repo folder)."""
    name: str
    """The repo id or ``publisher/repo`` the layout gives."""
    revision: str | None = None
    dataset: bool = False
    """A Hugging Face dataset repo (``datasets--org--name``): training data, judged by its lineage."""


def _parts(path: str) -> list[str]:
    return path.split("/")


def hf_cache_place(path: str) -> StorePlace | None:
    parts = _parts(path)
    for index, part in enumerate(parts[:-1]):
        prefix = "models--" if part.startswith("models--") else "datasets--" if part.startswith("datasets--") else ""
        if prefix and len(part) > len(prefix):
            repo_id = "/".join(part[len(prefix) :].split("--", 1))
            rest = parts[index + 1 :]
            revision = rest[1] if len(rest) > 2 and rest[0] == "snapshots" else None
            root = "/".join(parts[: index + 1])
            return StorePlace(ModelStore.HF_CACHE, root, repo_id, revision, dataset=prefix == "datasets--")
    return None


def hf_cache_bookkeeping(path: str) -> bool:
    """Blobs, refs and locks of an HF cache: reached through the snapshot links, never models themselves."""
    parts = _parts(path)
    return any(
        p.startswith(("models--", "datasets--"))
        and i + 1 < len(parts)
        and parts[i + 1] in ("blobs", "refs", ".no_exist")
        for i, p in enumerate(parts)
    )


def _publisher_repo(path: str, marker: tuple[str, ...], store: ModelStore) -> StorePlace | None:
    parts = _parts(path)
    width = len(marker)
    for index in range(len(parts) - width):
        if tuple(parts[index : index + width]) == marker and len(parts) > index + width + 2:
            publisher, repo = parts[index + width], parts[index + width + 1]
            return StorePlace(store, "/".join(parts[: index + width + 2]), f"{publisher}/{repo}")
    return None


def lmstudio_place(path: str) -> StorePlace | None:
    return _publisher_repo(path, (".lmstudio", "models"), ModelStore.LMSTUDIO) or _publisher_repo(
        path, ("lm-studio", "models"), ModelStore.LMSTUDIO
    )


def modelscope_place(path: str) -> StorePlace | None:
    return _publisher_repo(path, (ModelStore.MODELSCOPE, "hub", "models"), ModelStore.MODELSCOPE) or _publisher_repo(
        path, (ModelStore.MODELSCOPE, "hub"), ModelStore.MODELSCOPE
    )


@dataclass(frozen=True)
class OllamaManifestPlace:
    store_root: str
    """The folder holding ``manifests/`` and ``blobs/``."""
    name: str
    """``deepseek-r1:7b``; other namespaces and registries are kept (``huihui_ai/qwen:latest``)."""
    tag: str


def ollama_manifest_place(path: str) -> OllamaManifestPlace | None:
    parts = _parts(path)
    if "manifests" not in parts:
        return None
    index = len(parts) - 1 - parts[::-1].index("manifests")
    rest = parts[index + 1 :]
    if len(rest) != 4:
        return None
    registry, namespace, model, tag = rest
    name = model if namespace == "library" else f"{namespace}/{model}"
    if registry != OLLAMA_DEFAULT_REGISTRY:
        name = f"{registry}/{name}"
    return OllamaManifestPlace("/".join(parts[:index]), f"{name}:{tag}", tag)


def ollama_blob_digest(path: str) -> str | None:
    """``.../blobs/sha256-<hex>`` -> the sha256 (the name is the digest)."""
    parts = _parts(path)
    if len(parts) >= 2 and parts[-2] == "blobs" and parts[-1].startswith("sha256-"):
        digest = parts[-1][len("sha256-") :]
        return digest if _HEX64.match(digest) else None
    return None


def lfs_blob_digest(blob_name: str) -> str | None:
    """HF cache blobs of LFS files are named by their sha256 (small git files by a 40-hex git hash)."""
    return blob_name if _HEX64.match(blob_name) else None
