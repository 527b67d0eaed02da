"""Which files make one model: an Ollama tag, a store's repo, a single GGUF, a model folder.

Ollama manifests name their blobs; a Hugging Face cache, LM Studio or ModelScope repo is one model
whatever its files (a repo downloaded without weights still is, when its config says so); a file of a
``standalone`` format is a model of its own, shards joined; any other weight files make a model with
their folder. Each group lists the folders whose metadata describes it; nothing but Ollama manifests,
the blobs they name, the HF cache's ``refs/main`` and the card of a folder named like a watched model
(a repository clone without weights) is read here.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from posixpath import basename

from scanner.collectors.models.cards import CARD_CAP, CHAT_TEMPLATE_CAP, NotUsable, load_json_object, ollama_layers
from scanner.collectors.models.inventory import MODEL_CONFIGS, Inventory, WeightFile, dirname
from scanner.collectors.models.stores import (
    StorePlace,
    hf_cache_place,
    lmstudio_place,
    modelscope_place,
    ollama_manifest_place,
)
from scanner.fsview import FileRefused, RootFS, describe_refusal
from scanner.records import Clue, ModelFile, Skipped
from scanner.visitors import Entry
from scanner.vocabulary import ModelStore, SkipKind

MANIFEST_CAP = 1 << 20
_SHARD = re.compile(r"-\d{5}-of-\d{5}\.[^./]+$")
"""How llama.cpp's ``gguf-split`` names the files of one model (``-00001-of-00003.gguf``)."""


@dataclass
class ModelGroup:
    """Files that make one model, before their metadata is read."""

    store: ModelStore
    root: str
    """Display path of the model's folder or file: its primary location."""
    name: str | None = None
    version: str | None = None
    weights: list[WeightFile] = field(default_factory=list)
    meta_dirs: list[str] = field(default_factory=list)
    clues: list[Clue] = field(default_factory=list)
    extra_files: list[ModelFile] = field(default_factory=list)
    templates: list[str] = field(default_factory=list)
    dataset: bool = False
    """A dataset repo, not a model: what a model was trained on."""
    clone: bool = False
    """A repository known by its card alone (no weights, no config): a clone or a card-only download."""


def group_models(inventory: Inventory) -> list[ModelGroup]:
    """Every model among the files the walk met: Ollama tags first, then store repos, then the rest."""
    groups = _ollama_groups(inventory)
    claimed = {w.path for g in groups for w in g.weights}
    stores: dict[str, tuple[StorePlace, list[str]]] = {}
    loose_meta: list[str] = []
    for folder in inventory.meta:  # one pass: metadata folders inside a store belong to that store's model
        place = _store_place(f"{folder}/config.json")
        if place is None:
            loose_meta.append(folder)
        else:
            stores.setdefault(place.root, (place, []))[1].append(folder)
    by_store: dict[str, ModelGroup] = {}
    loose: list[WeightFile] = []
    for weight in inventory.weights.values():
        if weight.path in claimed:
            continue
        place = _store_place(weight.path)
        if place is None:
            loose.append(weight)
            continue
        if place.root not in by_store:
            by_store[place.root] = _store_group(place)
        by_store[place.root].weights.append(weight)
    for root, (place, folders) in stores.items():  # a repo downloaded without weights is still a model
        if root not in by_store and (place.dataset or any(inventory.meta[f].keys() & MODEL_CONFIGS for f in folders)):
            by_store[root] = _store_group(place)
    for root, group in by_store.items():
        folders = stores[root][1] if root in stores else []
        group.meta_dirs = sorted({dirname(w.path) for w in group.weights} | set(folders))
        if group.store == "hf-cache":
            group.version = _hf_revision(inventory.fs, group)
    groups += by_store.values()
    groups += _loose_groups(inventory, loose, loose_meta)
    return groups


_REPO_LINK = r"(?:huggingface\.co/(?P<hub>datasets/)?|modelscope\.cn/(?P<scope>datasets|models)/)?"


def _watched_names(inventory: Inventory) -> re.Pattern[str] | None:
    """The policy's model patterns: only a folder named like a watched model is worth reading a card for."""
    patterns = inventory.options.watch.model_patterns
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE) if patterns else None


def _repository_clone(inventory: Inventory, folder: str) -> ModelGroup | None:
    """A folder holding a repository's card but no weights or config (a clone whose weights were not
    fetched, a card-only download) is that repository when the card names it as ``org/<folder name>``
    (``from_pretrained("MiniMaxAI/MiniMax-VL-01")``, ``huggingface.co/datasets/Congliu/...``)."""
    name = basename(folder)
    real = inventory.meta[folder]["README.md"]
    try:
        text, _ = inventory.fs.read_text(real, CARD_CAP)
    except (OSError, FileRefused):
        return None  # the model collector reads it again with the folder's other metadata, and lists why not
    found = re.search(rf"{_REPO_LINK}(?<![\w.-])([A-Za-z0-9][\w.-]*)/{re.escape(name)}(?![\w.-])", text)
    if found is None:
        return None
    repo = f"{found.group(3)}/{name}"
    dataset = bool(found.group("hub")) or found.group("scope") == "datasets"
    group = ModelGroup(ModelStore.DIRECTORY, folder, repo, meta_dirs=[folder], dataset=dataset, clone=True)
    group.clues.append(Clue("name", repo, "the repository its card names", f"{folder}/README.md"))
    return group


def _store_place(path: str) -> StorePlace | None:
    return hf_cache_place(path) or lmstudio_place(path) or modelscope_place(path)


def _store_group(place: StorePlace) -> ModelGroup:
    group = ModelGroup(place.store, place.root, place.name, place.revision, dataset=place.dataset)
    group.clues.append(Clue("name", place.name, f"{place.store} folder", place.root))
    return group


def _hf_revision(fs: RootFS, group: ModelGroup) -> str | None:
    """``refs/main`` when it is there (the revision in use), else the first snapshot in sorted order."""
    text = _text(fs, fs.to_real(f"{group.root}/refs/main"), 128)
    if text and text.strip():
        return text.strip()
    revisions = sorted(p.revision for w in group.weights if (p := hf_cache_place(w.path)) and p.revision)
    return revisions[0] if revisions else group.version


def _loose_groups(inventory: Inventory, loose: list[WeightFile], loose_meta: list[str]) -> list[ModelGroup]:
    """Files of a standalone format are models of their own (split ones joined); other weights go by folder."""
    groups: dict[str, ModelGroup] = {}
    for weight in loose:
        if weight.format is not None and weight.format.standalone:
            key = "file:" + _SHARD.sub("", weight.path)
            group = groups.setdefault(key, ModelGroup(ModelStore.FILE, weight.path))
            group.root = min(group.root, weight.path)  # the first shard, whatever order the walk met them in
        else:
            folder = dirname(weight.path)
            group = groups.setdefault(folder, ModelGroup(ModelStore.DIRECTORY, folder, meta_dirs=[folder]))
        group.weights.append(weight)
    watched = _watched_names(inventory)
    for folder in loose_meta:
        if folder in groups:
            continue
        if inventory.meta[folder].keys() & MODEL_CONFIGS:
            groups[folder] = ModelGroup(ModelStore.DIRECTORY, folder, meta_dirs=[folder])
        elif "README.md" in inventory.meta[folder] and watched is not None and watched.search(basename(folder)):
            clone = _repository_clone(inventory, folder)
            if clone is not None:
                groups[folder] = clone
    for group in groups.values():
        folder = dirname(group.root)
        if group.store == ModelStore.FILE and folder not in groups:
            group.meta_dirs.append(folder)  # the folder's card describes the single-file models in it
    return list(groups.values())


def _ollama_groups(inventory: Inventory) -> list[ModelGroup]:
    fs = inventory.fs
    groups = []
    for entry in inventory.manifests:
        place = ollama_manifest_place(entry.path)
        assert place is not None
        store_real = entry.real_path
        for _ in range(5):  # <store>/manifests/<registry>/<namespace>/<model>/<tag>
            store_real = os.path.dirname(store_real)
        if not os.path.isdir(os.path.join(store_real, "blobs")):
            continue  # a "manifests" folder of something else (Kubernetes, say): not an Ollama store
        try:
            raw, truncated = fs.read_bytes(entry.real_path, MANIFEST_CAP)
            manifest = load_json_object(raw, truncated)
        except (OSError, FileRefused, NotUsable) as error:
            reason = describe_refusal(error) if not isinstance(error, NotUsable) else str(error)
            inventory.skipped.append(Skipped(entry.path, f"Ollama manifest unreadable: {reason}", SkipKind.UNSUPPORTED))
            continue
        group = ModelGroup(ModelStore.OLLAMA, entry.path, place.name, place.tag)
        group.clues.append(Clue("name", place.name, "Ollama manifest", entry.path))
        group.extra_files.append(ModelFile(entry.path, len(raw), "ollama-manifest", len(raw)))
        for media, digest, size in ollama_layers(manifest):
            blob_real = os.path.join(store_real, "blobs", f"sha256-{digest}")
            blob = fs.to_display(blob_real)
            if media.endswith(".model"):
                group.clues.append(Clue("digest", digest, "Ollama model layer", entry.path))
                if blob not in inventory.weights:  # a small blob the walk did not sniff: a manifest says it is weights
                    inventory.read_weight(Entry(blob_real, blob, os.path.basename(blob_real), False, "blobs"), True, 0)
                weight = inventory.weights.get(blob)
                if weight is not None:
                    group.weights.append(weight)
                else:
                    group.extra_files.append(ModelFile(blob, size, "missing blob"))
            elif media.endswith(".template"):
                template = _text(fs, blob_real, CHAT_TEMPLATE_CAP)
                group.templates += [template] if template else []
        groups.append(group)
    return groups


def _text(fs: RootFS, real: str, cap: int) -> str | None:
    try:
        text, _ = fs.read_text(real, cap)
    except (OSError, FileRefused):
        return None
    return text
