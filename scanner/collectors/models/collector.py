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
from scanner.collectors.models.hashcache import DigestCache
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
from scanner.collectors.models.weights import WEIGHT_SUFFIXES, WeightFacts, read_weight_file
from scanner.formats import FormatError
from scanner.fsview import FileRefused, RootFS, describe_refusal
from scanner.records import Clue, Location, ModelFile, ModelRecord, ModelStore, Skipped
from scanner.walk import Entry, Interest, WalkRoot

META_NAMES = frozenset({"config.json", "adapter_config.json", "tokenizer_config.json", "README.md"})
MODEL_CONFIGS = frozenset({"config.json", "adapter_config.json"})
"""A folder with one of these (and a transformers config in it) is a model even without weights."""
META_CAPS = {"config.json": 1 << 20, "adapter_config.json": 256 << 10, "tokenizer_config.json": 4 << 20}
SNIFF_MIN_SIZE = 1 << 20
"""A file without an extension is only sniffed from this size up: weights are large, and the many
small extension-less files of a system (scripts, binaries' data) are not worth an open each."""
MANIFEST_CAP = 1 << 20
HASH_CHUNK = 1 << 20
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
    chat_template: str | None = None


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
        self._digests: DigestCache | None = None

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
                facts = read_weight_file(handle, size, entry.name, entry.path)
        except FormatError as error:
            self._skipped.append(Skipped(entry.path, f"model file header unreadable: {error}", "unsupported"))
            claimed = os.path.splitext(entry.name)[1].lstrip(".").lower() or "unknown"
            facts = WeightFacts(f"{claimed} (unreadable header)", _size_of(entry.real_path), 0)
        except (OSError, FileRefused) as error:
            if not nameless:
                self._skipped.append(
                    Skipped(entry.path, f"model file unreadable: {describe_refusal(error)}", "unreadable")
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

    def _hash(self, entry: Entry, facts: WeightFacts) -> None:
        """``--hash``: the whole file, streamed in 1 MiB reads, unless unchanged since it was last hashed."""
        if self._digests is None:
            self._digests = DigestCache()
        digest = hashlib.sha256()
        try:
            with self.fs.open_regular(entry.real_path) as handle:
                st = os.fstat(handle.fileno())
                known = self._digests.get(st)
                if known is None:
                    for chunk in iter(lambda: handle.read(HASH_CHUNK), b""):
                        digest.update(chunk)
                    known = digest.hexdigest()
                    self._digests.put(st, known)
        except (OSError, FileRefused) as error:
            self._skipped.append(Skipped(entry.path, f"could not hash: {describe_refusal(error)}", "unreadable"))
            return
        facts.clues.append(Clue("digest", known, "sha256 (--hash)", entry.path))

    # -- grouping ---------------------------------------------------------------------------------
    def finish(self) -> CollectorResult:
        groups = self._ollama_groups()
        claimed = {w.path for g in groups for w in g.weights}
        store_meta: dict[str, list[str]] = {}
        loose_meta: list[str] = []
        for folder in self._meta:  # one pass: metadata folders inside a store belong to that store's model
            place = _store_place(f"{folder}/config.json")
            if place is None:
                loose_meta.append(folder)
            else:
                store_meta.setdefault(place.root, []).append(folder)
        by_store: dict[str, _Group] = {}
        loose: list[_Weight] = []
        for weight in self._weights.values():
            if weight.path in claimed:
                continue
            place = _store_place(weight.path)
            if place is None:
                loose.append(weight)
                continue
            group = by_store.setdefault(place.root, self._store_group(place))
            group.weights.append(weight)
        for root, folders in store_meta.items():  # a repo downloaded without weights is still a model
            if root not in by_store and any(self._meta[f].keys() & MODEL_CONFIGS for f in folders):
                place = _store_place(f"{folders[0]}/config.json")
                assert place is not None
                by_store[root] = self._store_group(place)
        for root, group in by_store.items():
            group.meta_dirs = sorted({_dirname(w.path) for w in group.weights} | set(store_meta.get(root, ())))
        groups += by_store.values()
        groups += self._loose_groups(loose, loose_meta)
        records = [self._record(group) for group in groups]
        return CollectorResult(records=[r for r in records if r is not None], skipped=self._skipped)

    def _store_group(self, place: StorePlace) -> _Group:
        group = _Group(place.store, place.root, place.name, place.revision)
        group.clues.append(Clue("name", place.name, f"{place.store} folder", place.root))
        return group

    def _loose_groups(self, loose: list[_Weight], loose_meta: list[str]) -> list[_Group]:
        """Single GGUF files (split ones joined) are models of their own; other weights go by folder."""
        groups: dict[str, _Group] = {}
        for weight in loose:
            if weight.facts.format.startswith(("gguf", "ggml")):
                key = _SPLIT_GGUF.sub("", weight.path)
                group = groups.setdefault(key, _Group("file", weight.path))
            else:
                folder = _dirname(weight.path)
                group = groups.setdefault(folder, _Group("directory", folder, meta_dirs=[folder]))
            group.weights.append(weight)
        for folder in loose_meta:
            if folder not in groups and self._meta[folder].keys() & MODEL_CONFIGS:
                groups[folder] = _Group("directory", folder, meta_dirs=[folder])
        ggufs_per_folder: dict[str, list[_Group]] = {}
        for group in groups.values():
            if group.store == "file":
                ggufs_per_folder.setdefault(_dirname(group.root), []).append(group)
        for folder, single in ggufs_per_folder.items():
            if len(single) == 1 and folder not in groups:
                single[0].meta_dirs.append(folder)  # a lone GGUF's folder card describes it
        return list(groups.values())

    def _ollama_groups(self) -> list[_Group]:
        groups = []
        for entry in self._manifests:
            place = ollama_manifest_place(entry.path)
            assert place is not None
            try:
                raw, truncated = self.fs.read_bytes(entry.real_path, MANIFEST_CAP)
                manifest = load_json_object(raw, truncated)
            except (OSError, FileRefused, NotUsable) as error:
                reason = describe_refusal(error) if not isinstance(error, NotUsable) else str(error)
                self._skipped.append(Skipped(entry.path, f"Ollama manifest unreadable: {reason}", "unsupported"))
                continue
            group = _Group("ollama", entry.path, place.name, place.tag)
            group.clues.append(Clue("name", place.name, "Ollama manifest", entry.path))
            group.extra_files.append(ModelFile(entry.path, len(raw), "ollama-manifest", len(raw)))
            for media, digest, size in ollama_layers(manifest):
                blob = f"{place.store_root}/blobs/sha256-{digest}"
                if media.endswith(".model"):
                    group.clues.append(Clue("digest", digest, "Ollama model layer", entry.path))
                    if blob not in self._weights:  # a small blob the walk did not sniff: a manifest says it is weights
                        real = self.fs.to_real(blob)
                        self._read_weight(Entry(real, blob, os.path.basename(blob), False, "blobs"), True, 0)
                    weight = self._weights.get(blob)
                    if weight is not None:
                        group.weights.append(weight)
                    else:
                        group.extra_files.append(ModelFile(blob, size, "missing blob"))
                elif media.endswith(".template"):
                    group.chat_template = self._read_text(blob, CHAT_TEMPLATE_CAP)
            groups.append(group)
        return groups

    # -- records ----------------------------------------------------------------------------------
    def _read_text(self, path: str, cap: int) -> str | None:
        try:
            text, _ = self.fs.read_text(self.fs.to_real(path), cap)
        except (OSError, FileRefused):
            return None
        return text

    def _read_meta(self, group: _Group) -> tuple[list[Clue], tuple[str, ...], str | None, bool, list[ModelFile]]:
        clues: list[Clue] = []
        specials: tuple[str, ...] = ()
        template: str | None = None
        model_config = False
        files: list[ModelFile] = []
        for folder in group.meta_dirs:
            for name, real in sorted(self._meta.get(folder, {}).items()):
                path = f"{folder}/{name}" if folder != "/" else f"/{name}"
                try:
                    if name.endswith(".jinja"):
                        text, _ = self.fs.read_text(real, CHAT_TEMPLATE_CAP)
                        template = template or text
                        files.append(ModelFile(path, len(text), "chat-template", len(text)))
                        continue
                    if name == "README.md":
                        text, _ = self.fs.read_text(real, CARD_CAP)
                        clues += card_clues(text, path)
                        files.append(ModelFile(path, len(text), "model-card", len(text)))
                        continue
                    raw, truncated = self.fs.read_bytes(real, META_CAPS[name])
                    data = load_json_object(raw, truncated)
                except (OSError, FileRefused, NotUsable) as error:
                    reason = str(error) if isinstance(error, NotUsable) else describe_refusal(error)
                    self._skipped.append(Skipped(path, f"model metadata unreadable: {reason}", "unreadable"))
                    continue
                files.append(ModelFile(path, len(raw), name.removesuffix(".json").replace("_", "-"), len(raw)))
                if name == "config.json" and is_model_config(data):
                    model_config = True
                    clues += config_clues(data, path)
                elif name == "adapter_config.json":
                    model_config = True
                    clues += adapter_clues(data, path)
                elif name == "tokenizer_config.json":
                    facts = tokenizer_facts(data)
                    specials = specials or facts.special_tokens
                    template = facts.chat_template or template
        return clues, specials, template, model_config, files

    def _record(self, group: _Group) -> ModelRecord | None:
        meta_clues, specials, template, model_config, meta_files = self._read_meta(group)
        if group.store == "directory" and not group.weights and not model_config:
            return None  # a config.json of some other tool, with no weights beside it
        clues = list(group.clues)
        formats: list[str] = []
        for weight in sorted(group.weights, key=lambda w: w.path):
            facts = weight.facts
            clues += facts.clues
            specials = specials or facts.special_tokens
            template = template or facts.chat_template
            if facts.format not in formats:
                formats.append(facts.format)
        clues += meta_clues
        if group.store in ("file", "directory"):
            base = os.path.basename(group.root) or group.root
            clues.append(Clue("name", base, "file name" if group.store == "file" else "folder name", group.root))
        template = group.chat_template or template
        files = [ModelFile(w.path, w.facts.size, w.facts.format, w.facts.bytes_read) for w in group.weights]
        files += group.extra_files + meta_files
        return ModelRecord(
            name=group.name or _best_name(clues) or os.path.basename(group.root),
            version=group.version or next((w.facts.version for w in group.weights if w.facts.version), None),
            store=group.store,
            format="+".join(formats) or "config-only",
            files=tuple(sorted(set(files), key=lambda f: f.path)),
            clues=tuple(dict.fromkeys(clues)),
            locations=(Location(group.root),),
            found_by=self.id,
            special_tokens=specials,
            chat_template=template,
        )


_NAME_RANK = ("_name_or_path", "general.organization + general.basename", "general.name", "model_name", "__metadata__")


def _best_name(clues: Iterable[Clue]) -> str | None:
    """The name to show: a repo-like ``_name_or_path``, then GGUF and card names; never a local path."""
    names = [c for c in clues if c.kind == "name" and not c.value.startswith(("/", ".")) and ":/" not in c.value]
    for wanted in _NAME_RANK:
        for clue in names:
            if clue.field.startswith(wanted) and (wanted != "_name_or_path" or "/" in clue.value):
                return clue.value
    return None


def _size_of(real: str) -> int:
    try:
        return os.stat(real).st_size
    except OSError:
        return 0
