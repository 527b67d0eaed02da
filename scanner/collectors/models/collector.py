"""Models on the machine, one record per model, from one walk and headers only.

``visit`` reads the header of every weight file the walk hands over (by suffix, in ``blobs``
folders, or any large file without an extension) and notes, without reading them, the small
metadata files beside them. ``finish`` groups files into models — an Ollama tag, a Hugging Face
cache repo, an LM Studio or ModelScope repo, a model folder, a single GGUF — reads the metadata
of just those folders, and returns one ``ModelRecord`` each.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import BinaryIO

from scanner.collectors.interface import CollectOptions, Collector, CollectorResult
from scanner.collectors.models.cards import (
    CARD_CAP,
    CHAT_TEMPLATE_CAP,
    NotUsable,
    adapter_clues,
    card_clues,
    config_clues,
    is_model_config,
    load_json_object,
    ollama_layers,
    tokenizer_facts,
)
from scanner.collectors.models.stores import (
    StorePlace,
    hf_cache_bookkeeping,
    hf_cache_place,
    lfs_blob_digest,
    lmstudio_place,
    modelscope_place,
    ollama_blob_digest,
    ollama_manifest_place,
)
from scanner.collectors.models.weights import CACHE_KIND as WEIGHT_CACHE_KIND
from scanner.collectors.models.weights import WEIGHT_SUFFIXES, WeightFacts, read_weight_file
from scanner.formats import FormatError
from scanner.fsview import FileRefused, RootFS, describe_refusal, printable
from scanner.records import Clue, Location, ModelFile, ModelRecord, Record, Skipped
from scanner.vocabulary import ModelStore, SkipKind
from scanner.walk import Entry, Interest, WalkRoot

META_NAMES = frozenset({"config.json", "adapter_config.json", "tokenizer_config.json", "README.md"})
MODEL_CONFIGS = frozenset({"config.json", "adapter_config.json"})
"""A folder with one of these (and a transformers config in it) is a model even without weights."""
META_CAPS = {"config.json": 1 << 20, "adapter_config.json": 256 << 10, "tokenizer_config.json": 4 << 20}
SNIFF_MIN_SIZE = 1 << 20
"""A file without an extension is only sniffed from this size up: weights are large, and the many
small extension-less files of a system (scripts, binaries' data) are not worth an open each."""
MANIFEST_CAP = 1 << 20
MAX_SPECIALS = 20_000
HASH_CHUNK = 1 << 20
DIGEST_CACHE_KIND = "sha256"
_SPLIT_GGUF = re.compile(r"-\d{5}-of-\d{5}\.gguf$", re.IGNORECASE)


@dataclass
class _Weight:
    real: str
    path: str
    name: str
    facts: WeightFacts


@dataclass
class _Group:
    """Files that make one model, before their metadata is read."""

    store: ModelStore
    root: str
    """Display path of the model's folder or file: its primary location."""
    name: str | None = None
    version: str | None = None
    weights: list[_Weight] = field(default_factory=list)
    meta_dirs: list[str] = field(default_factory=list)
    clues: list[Clue] = field(default_factory=list)
    extra_files: list[ModelFile] = field(default_factory=list)
    templates: list[str] = field(default_factory=list)


@dataclass
class _Meta:
    """What a model's metadata files say (its configs, card, tokenizer config, chat templates)."""

    clues: list[Clue] = field(default_factory=list)
    specials: list[str] = field(default_factory=list)
    templates: list[str] = field(default_factory=list)
    files: list[ModelFile] = field(default_factory=list)


def _dirname(path: str) -> str:
    return path.rsplit("/", 1)[0] or "/"


def _store_place(path: str) -> StorePlace | None:
    return hf_cache_place(path) or lmstudio_place(path) or modelscope_place(path)


class ModelCollector(Collector):
    """Finds model weights and metadata in every store layout, grouped into models."""

    id = "model-collector"
    interest = Interest(
        file_suffixes=WEIGHT_SUFFIXES | {".jinja"},
        file_names=META_NAMES,
        files_in_dirs=frozenset({"blobs"}),
        files_below_dirs=frozenset({"manifests"}),
        extensionless_files=True,
    )

    def __init__(self, fs: RootFS, options: CollectOptions | None = None) -> None:
        super().__init__(fs, options)
        self._weights: dict[str, _Weight] = {}
        self._meta: dict[str, dict[str, str]] = {}
        """Display folder -> file name -> real path, for metadata files not yet read."""
        self._manifests: list[Entry] = []
        self._skipped: list[Skipped] = []

    def extra_roots(self) -> list[WalkRoot]:
        """On the live machine, the model stores the environment points at (``HF_HOME``, ``OLLAMA_MODELS``...),
        walked even where they live on a filesystem the walk skips (a network home, say)."""
        if not self.fs.is_live:
            return []
        env = os.environ
        candidates = [env.get("HF_HUB_CACHE"), env.get("OLLAMA_MODELS"), env.get("MODELSCOPE_CACHE")]
        candidates.append(os.path.join(env["HF_HOME"], "hub") if env.get("HF_HOME") else None)
        roots = [os.path.realpath(c) for c in candidates if c and os.path.isdir(c)]
        return [WalkRoot(root, supplementary=True) for root in dict.fromkeys(roots)]

    # -- the walk ---------------------------------------------------------------------------------
    def visit(self, entry: Entry) -> None:
        path, name = entry.path, entry.name
        if entry.is_dir or hf_cache_bookkeeping(path):
            return
        if ollama_manifest_place(path) is not None:
            self._manifests.append(entry)
            return
        if name in META_NAMES or name.endswith(".jinja"):
            self._meta.setdefault(_dirname(path), {})[name] = entry.real_path
            return
        suffix = os.path.splitext(name)[1].lower()
        nameless = suffix == "" or ollama_blob_digest(path) is not None
        if suffix not in WEIGHT_SUFFIXES and not nameless:
            return
        self._read_weight(entry, nameless)

    def _read_weight(self, entry: Entry, nameless: bool, min_size: int = SNIFF_MIN_SIZE) -> None:
        try:
            with self.fs.open_regular(entry.real_path) as handle:
                size = os.fstat(handle.fileno()).st_size
                if nameless and size < min_size:
                    return
                facts = self._weight_facts(handle, entry)
        except FormatError as error:
            self._skipped.append(Skipped(entry.path, f"model file header unreadable: {error}", SkipKind.UNSUPPORTED))
            claimed = os.path.splitext(entry.name)[1].lstrip(".").lower() or "unknown"
            facts = WeightFacts(f"{claimed} (unreadable header)", _size_of(entry.real_path), 0)
        except (OSError, FileRefused) as error:
            if not nameless:
                self._skipped.append(
                    Skipped(entry.path, f"model file unreadable: {describe_refusal(error)}", SkipKind.UNREADABLE)
                )
            return
        if facts is None or (nameless and facts.format not in ("gguf", "ggml", "safetensors")):
            return
        if hf_cache_place(entry.path) is not None and os.path.islink(entry.real_path):
            digest = lfs_blob_digest(os.path.basename(os.readlink(entry.real_path)))
            if digest:
                facts.clues.append(Clue("digest", digest, "Hugging Face cache blob name", entry.path))
        blob_digest = ollama_blob_digest(entry.path)
        if blob_digest:
            facts.clues.append(Clue("digest", blob_digest, "Ollama blob name", entry.path))
        if self.options.hash_weights and not any(c.kind == "digest" for c in facts.clues):
            self._hash(entry, facts)
        self._weights[entry.path] = _Weight(entry.real_path, entry.path, entry.name, facts)

    def _weight_facts(self, handle: BinaryIO, entry: Entry) -> WeightFacts | None:
        """The header's facts, from the file cache when the file is unchanged since an earlier scan."""
        cache = self.options.file_cache
        st = os.fstat(handle.fileno())
        known = cache.get(WEIGHT_CACHE_KIND, st) if cache else None
        if known is not None:
            return WeightFacts.from_cache(known, entry.path)
        facts = read_weight_file(handle, st.st_size, entry.name, entry.path)
        if cache and facts is not None:
            cache.put(WEIGHT_CACHE_KIND, st, facts.to_cache())
        return facts

    def _hash(self, entry: Entry, facts: WeightFacts) -> None:
        """``--hash``: the whole file, streamed in 1 MiB reads, unless unchanged since it was last hashed."""
        cache = self.options.file_cache
        digest = hashlib.sha256()
        try:
            with self.fs.open_regular(entry.real_path) as handle:
                st = os.fstat(handle.fileno())
                known = cache.get(DIGEST_CACHE_KIND, st) if cache else None
                if known is None:
                    for chunk in iter(lambda: handle.read(HASH_CHUNK), b""):
                        digest.update(chunk)
                    known = digest.hexdigest()
                    if cache:
                        cache.put(DIGEST_CACHE_KIND, st, known)
        except (OSError, FileRefused) as error:
            self._skipped.append(Skipped(entry.path, f"could not hash: {describe_refusal(error)}", SkipKind.UNREADABLE))
            return
        facts.clues.append(Clue("digest", known, "sha256 (--hash)", entry.path))

    # -- grouping ---------------------------------------------------------------------------------
    def finish(self) -> CollectorResult:
        groups = self._ollama_groups()
        claimed = {w.path for g in groups for w in g.weights}
        stores: dict[str, tuple[StorePlace, list[str]]] = {}
        loose_meta: list[str] = []
        for folder in self._meta:  # one pass: metadata folders inside a store belong to that store's model
            place = _store_place(f"{folder}/config.json")
            if place is None:
                loose_meta.append(folder)
            else:
                stores.setdefault(place.root, (place, []))[1].append(folder)
        by_store: dict[str, _Group] = {}
        loose: list[_Weight] = []
        for weight in self._weights.values():
            if weight.path in claimed:
                continue
            place = _store_place(weight.path)
            if place is None:
                loose.append(weight)
                continue
            if place.root not in by_store:
                by_store[place.root] = self._store_group(place)
            by_store[place.root].weights.append(weight)
        for root, (place, folders) in stores.items():  # a repo downloaded without weights is still a model
            if root not in by_store and any(self._meta[f].keys() & MODEL_CONFIGS for f in folders):
                by_store[root] = self._store_group(place)
        for root, group in by_store.items():
            folders = stores[root][1] if root in stores else []
            group.meta_dirs = sorted({_dirname(w.path) for w in group.weights} | set(folders))
            if group.store == "hf-cache":
                group.version = self._hf_revision(group)
        groups += by_store.values()
        groups += self._loose_groups(loose, loose_meta)
        records: list[Record] = []
        for group in groups:
            try:
                record = self._record(group)
            except Exception as error:  # one odd model must cost one entry, not the inventory
                self._skipped.append(
                    Skipped(group.root, printable(f"{self.id} failed: {type(error).__name__}: {error}"), SkipKind.ERROR)
                )
                continue
            if record is not None:
                records.append(record)
        return CollectorResult(records=records, skipped=self._skipped)

    def _store_group(self, place: StorePlace) -> _Group:
        group = _Group(place.store, place.root, place.name, place.revision)
        group.clues.append(Clue("name", place.name, f"{place.store} folder", place.root))
        return group

    def _hf_revision(self, group: _Group) -> str | None:
        """``refs/main`` when it is there (the revision in use), else the first snapshot in sorted order."""
        text = self._read_text(f"{group.root}/refs/main", 128)
        if text and text.strip():
            return text.strip()
        revisions = sorted(p.revision for w in group.weights if (p := hf_cache_place(w.path)) and p.revision)
        return revisions[0] if revisions else group.version

    def _loose_groups(self, loose: list[_Weight], loose_meta: list[str]) -> list[_Group]:
        """Single GGUF files (split ones joined) are models of their own; other weights go by folder."""
        groups: dict[str, _Group] = {}
        for weight in loose:
            if weight.facts.format.startswith(("gguf", "ggml")):
                key = "gguf:" + _SPLIT_GGUF.sub("", weight.path)
                group = groups.setdefault(key, _Group(ModelStore.FILE, weight.path))
                group.root = min(group.root, weight.path)  # the first shard, whatever order the walk met them in
            else:
                folder = _dirname(weight.path)
                group = groups.setdefault(folder, _Group(ModelStore.DIRECTORY, folder, meta_dirs=[folder]))
            group.weights.append(weight)
        for folder in loose_meta:
            if folder not in groups and self._meta[folder].keys() & MODEL_CONFIGS:
                groups[folder] = _Group(ModelStore.DIRECTORY, folder, meta_dirs=[folder])
        for group in groups.values():
            folder = _dirname(group.root)
            if group.store == ModelStore.FILE and folder not in groups:
                group.meta_dirs.append(folder)  # the folder's card describes the GGUFs in it
        return list(groups.values())

    def _ollama_groups(self) -> list[_Group]:
        groups = []
        for entry in self._manifests:
            place = ollama_manifest_place(entry.path)
            assert place is not None
            store_real = entry.real_path
            for _ in range(5):  # <store>/manifests/<registry>/<namespace>/<model>/<tag>
                store_real = os.path.dirname(store_real)
            if not os.path.isdir(os.path.join(store_real, "blobs")):
                continue  # a "manifests" folder of something else (Kubernetes, say): not an Ollama store
            try:
                raw, truncated = self.fs.read_bytes(entry.real_path, MANIFEST_CAP)
                manifest = load_json_object(raw, truncated)
            except (OSError, FileRefused, NotUsable) as error:
                reason = describe_refusal(error) if not isinstance(error, NotUsable) else str(error)
                self._skipped.append(Skipped(entry.path, f"Ollama manifest unreadable: {reason}", SkipKind.UNSUPPORTED))
                continue
            group = _Group(ModelStore.OLLAMA, entry.path, place.name, place.tag)
            group.clues.append(Clue("name", place.name, "Ollama manifest", entry.path))
            group.extra_files.append(ModelFile(entry.path, len(raw), "ollama-manifest", len(raw)))
            for media, digest, size in ollama_layers(manifest):
                blob_real = os.path.join(store_real, "blobs", f"sha256-{digest}")
                blob = self.fs.to_display(blob_real)
                if media.endswith(".model"):
                    group.clues.append(Clue("digest", digest, "Ollama model layer", entry.path))
                    if blob not in self._weights:  # a small blob the walk did not sniff: a manifest says it is weights
                        self._read_weight(Entry(blob_real, blob, os.path.basename(blob_real), False, "blobs"), True, 0)
                    weight = self._weights.get(blob)
                    if weight is not None:
                        group.weights.append(weight)
                    else:
                        group.extra_files.append(ModelFile(blob, size, "missing blob"))
                elif media.endswith(".template"):
                    template = self._read_real_text(blob_real, CHAT_TEMPLATE_CAP)
                    group.templates += [template] if template else []
            groups.append(group)
        return groups

    # -- records ----------------------------------------------------------------------------------
    def _read_text(self, path: str, cap: int) -> str | None:
        return self._read_real_text(self.fs.to_real(path), cap)

    def _read_real_text(self, real: str, cap: int) -> str | None:
        try:
            text, _ = self.fs.read_text(real, cap)
        except (OSError, FileRefused):
            return None
        return text

    def _model_config_present(self, group: _Group) -> bool:
        """Without weights, a folder is a model only if its config says so; anything else is quietly not ours."""
        for folder in group.meta_dirs:
            files = self._meta.get(folder, {})
            for name in MODEL_CONFIGS & files.keys():
                try:
                    raw, truncated = self.fs.read_bytes(files[name], META_CAPS[name])
                    data = load_json_object(raw, truncated)
                except (OSError, FileRefused, NotUsable):
                    continue
                if name == "adapter_config.json" or is_model_config(data):
                    return True
        return False

    def _read_meta(self, group: _Group) -> _Meta:
        meta = _Meta()
        for folder in group.meta_dirs:
            for name, real in sorted(self._meta.get(folder, {}).items()):
                path = f"{folder}/{name}" if folder != "/" else f"/{name}"
                try:
                    if name.endswith(".jinja"):
                        text, _ = self.fs.read_text(real, CHAT_TEMPLATE_CAP)
                        meta.templates.append(text)
                        meta.files.append(ModelFile(path, len(text), "chat-template", len(text)))
                        continue
                    if name == "README.md":
                        text, _ = self.fs.read_text(real, CARD_CAP)
                        meta.clues += card_clues(text, path)
                        meta.files.append(ModelFile(path, len(text), "model-card", len(text)))
                        continue
                    raw, truncated = self.fs.read_bytes(real, META_CAPS[name])
                    data = load_json_object(raw, truncated)
                except (OSError, FileRefused, NotUsable) as error:
                    reason = str(error) if isinstance(error, NotUsable) else describe_refusal(error)
                    self._skipped.append(Skipped(path, f"model metadata unreadable: {reason}", SkipKind.UNREADABLE))
                    continue
                meta.files.append(ModelFile(path, len(raw), name.removesuffix(".json").replace("_", "-"), len(raw)))
                if name == "config.json" and is_model_config(data):
                    meta.clues += config_clues(data, path)
                elif name == "adapter_config.json":
                    meta.clues += adapter_clues(data, path)
                elif name == "tokenizer_config.json":
                    facts = tokenizer_facts(data)
                    meta.specials += facts.special_tokens
                    meta.templates += [facts.chat_template] if facts.chat_template else []
        return meta

    def _record(self, group: _Group) -> ModelRecord | None:
        if group.store == "directory" and not group.weights and not self._model_config_present(group):
            return None
        meta = self._read_meta(group)
        clues = list(group.clues)
        formats: list[str] = []
        specials: list[str] = []
        templates = list(group.templates)
        for weight in sorted(group.weights, key=lambda w: w.path):
            facts = weight.facts
            clues += facts.clues
            specials += facts.special_tokens
            templates += [facts.chat_template] if facts.chat_template else []
            if facts.format not in formats:
                formats.append(facts.format)
        clues += meta.clues
        specials += meta.specials
        templates += meta.templates
        if group.store in ("file", "directory"):
            base = os.path.basename(group.root) or group.root
            clues.append(Clue("name", base, "file name" if group.store == "file" else "folder name", group.root))
        own = {c.value for c in clues if c.kind == "name"}
        clues = [c for c in clues if not (c.field == "_name_or_path" and c.value in own)]  # re-saved in place
        files = [ModelFile(w.path, w.facts.size, w.facts.format, w.facts.bytes_read) for w in group.weights]
        files += group.extra_files + meta.files
        return ModelRecord(
            name=group.name or _best_name(clues) or os.path.basename(group.root),
            version=group.version
            or next((w.facts.version for w in sorted(group.weights, key=lambda w: w.path) if w.facts.version), None),
            store=group.store,
            format="+".join(formats) or "config-only",
            files=tuple(sorted(set(files), key=lambda f: f.path)),
            clues=tuple(dict.fromkeys(clues)),
            locations=(Location(group.root),),
            found_by=self.id,
            special_tokens=tuple(dict.fromkeys(specials))[:MAX_SPECIALS],
            chat_template="\n\n".join(dict.fromkeys(templates))[: 4 * CHAT_TEMPLATE_CAP] or None,
        )


_NAME_RANK = ("general.organization + general.basename", "general.name", "model_name", "__metadata__", "title")


def _best_name(clues: Iterable[Clue]) -> str | None:
    """The name to show: GGUF and card names, in that order; never a local path."""
    names = [c for c in clues if c.kind == "name" and not c.value.startswith(("/", ".")) and ":/" not in c.value]
    for wanted in _NAME_RANK:
        for clue in names:
            if clue.field.startswith(wanted):
                return clue.value
    return None


def _size_of(real: str) -> int:
    try:
        return os.stat(real).st_size
    except OSError:
        return 0
