"""What the walk hands the model collector, read only as far as the walk needs.

Every weight file the walk hands over (by suffix, in ``blobs`` folders, or any large file without an
extension) has its header read — from the file cache when it is unchanged since an earlier scan — and,
with ``--hash``, its whole content digested. The small metadata files beside them and Ollama manifests
are only noted: they are read once files are grouped into models, and only for folders that hold one.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from functools import cache
from typing import BinaryIO

from scanner.collectors.interface import CollectOptions, memo_kind
from scanner.collectors.models.cards import MERGEKIT_NAMES
from scanner.collectors.models.stores import (
    hf_cache_bookkeeping,
    hf_cache_place,
    lfs_blob_digest,
    ollama_blob_digest,
    ollama_manifest_place,
)
from scanner.collectors.models.weights import CACHE_KIND as WEIGHT_CACHE_KIND
from scanner.collectors.models.weights import (
    WEIGHT_FORMAT_BY_ID,
    WEIGHT_FORMAT_BY_SUFFIX,
    WEIGHT_SUFFIXES,
    WeightFacts,
    WeightFormat,
    read_weight_file,
)
from scanner.formats.errors import FormatError
from scanner.fsview import FileRefused, RootFS, describe_refusal, refusal_kind
from scanner.records import Clue, Skipped
from scanner.visitors import Entry
from scanner.vocabulary import SkipKind

META_NAMES = frozenset({"config.json", "adapter_config.json", "tokenizer_config.json", "README.md"}) | MERGEKIT_NAMES
MODEL_CONFIGS = frozenset({"config.json", "adapter_config.json"})
"""A folder with one of these (and a transformers config in it) is a model even without weights."""
SNIFF_MIN_SIZE = 1 << 20
"""A file without an extension is only sniffed from this size up: weights are large, and the many
small extension-less files of a system (scripts, binaries' data) are not worth an open each."""
HASH_CHUNK = 1 << 20
DIGEST_CACHE_KIND = "sha256"


@dataclass
class WeightFile:
    """One weight file met by the walk, with what its header said."""

    real: str
    path: str
    name: str
    facts: WeightFacts
    format: WeightFormat | None
    """The table row it was read as (its header unreadable: the row its name claims); ``None`` for a
    Git LFS pointer, which stands in for a file of any format."""


def dirname(path: str) -> str:
    """The folder of a path as seen inside the root (``/`` for a top-level file)."""
    return path.rsplit("/", 1)[0] or "/"


class Inventory:
    """The weight files read, metadata files noted and manifests kept during the walk, and what could
    not be read; filled by ``add`` and then by the grouping, which reads what only a manifest names."""

    def __init__(self, fs: RootFS, options: CollectOptions) -> None:
        self.fs = fs
        self.options = options
        self.weights: dict[str, WeightFile] = {}
        """Display path -> the weight file there."""
        self.meta: dict[str, dict[str, str]] = {}
        """Display folder -> file name -> real path, for metadata files not yet read."""
        self.manifests: list[Entry] = []
        self.skipped: list[Skipped] = []

    def add(self, entry: Entry) -> None:
        """Take one entry from the walk."""
        path, name = entry.path, entry.name
        if entry.is_dir or hf_cache_bookkeeping(path):
            return
        if ollama_manifest_place(path) is not None:
            self.manifests.append(entry)
            return
        if name in META_NAMES or name.endswith(".jinja"):
            self.meta.setdefault(dirname(path), {})[name] = entry.real_path
            return
        suffix = os.path.splitext(name)[1].lower()
        nameless = suffix == "" or ollama_blob_digest(path) is not None
        if suffix not in WEIGHT_SUFFIXES and not nameless:
            return
        self.read_weight(entry, nameless)

    def read_weight(self, entry: Entry, nameless: bool, min_size: int = SNIFF_MIN_SIZE) -> None:
        """Read one weight file's header; a ``nameless`` one (no extension, an Ollama blob) only from
        ``min_size`` up and only when it is a format that counts without a name."""
        suffix = os.path.splitext(entry.name)[1].lower()
        size = 0
        cache = self.options.file_cache if nameless else None
        skipped = len(self.skipped)
        listed = self.fs.listed_status(entry.real_path)
        if nameless and listed is not None and listed.st_size < min_size:
            return  # what its open would have found, without the open
        if cache and listed is not None and cache.quiet(_sniffed(), entry.real_path, listed):
            return  # sniffed by an earlier scan and found no model, unchanged since: not even opened
        facts = self._known_facts(entry, listed)
        if facts is not None and listed is not None:  # parsed by an earlier scan, unchanged since: not even opened
            st, row = listed, WEIGHT_FORMAT_BY_ID.get(facts.format)
        else:
            try:
                with self.fs.open_regular(entry.real_path) as handle:
                    st = os.fstat(handle.fileno())
                    size = st.st_size
                    if nameless and size < min_size:
                        return
                    facts = self._weight_facts(handle, entry)
            except FormatError as error:
                reason = f"model file header unreadable: {error}"
                self.skipped.append(Skipped(entry.path, reason, SkipKind.UNSUPPORTED))
                claimed = suffix.lstrip(".") or "unknown"
                facts = WeightFacts(f"{claimed} (unreadable header)", size, 0)
                row = WEIGHT_FORMAT_BY_SUFFIX.get(suffix)
            except (OSError, FileRefused) as error:
                if not nameless:
                    reason = f"model file unreadable: {describe_refusal(error)}"
                    self.skipped.append(Skipped(entry.path, reason, refusal_kind(error)))
                return
            else:
                row = WEIGHT_FORMAT_BY_ID.get(facts.format) if facts is not None else None
        if facts is None or (nameless and not (row is not None and row.extensionless)):
            if cache and not self.skipped[skipped:] and self.fs.change_shows(st):  # nothing, nor a broken header
                cache.found_nothing(_sniffed(), entry.real_path, st)
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
        self.weights[entry.path] = WeightFile(entry.real_path, entry.path, entry.name, facts, row)

    def _known_facts(self, entry: Entry, listed: os.stat_result | None) -> WeightFacts | None:
        """The header's facts from the file cache, looked up by the status the walk's listing gave (a file
        parsed by an earlier scan and unchanged since is not opened: 200 here at every re-scan)."""
        cache = self.options.file_cache
        known = cache.get(WEIGHT_CACHE_KIND, entry.real_path, listed) if cache and listed is not None else None
        try:
            return WeightFacts.from_cache(known, entry.path) if known is not None else None
        except (TypeError, ValueError, KeyError):
            return None  # kept by another version of the scanner: read again

    def _weight_facts(self, handle: BinaryIO, entry: Entry) -> WeightFacts | None:
        """The header's facts, from the file cache when the file is unchanged since an earlier scan."""
        cache = self.options.file_cache
        st = os.fstat(handle.fileno())
        known = cache.get(WEIGHT_CACHE_KIND, entry.real_path, st) if cache else None
        if known is not None:
            return WeightFacts.from_cache(known, entry.path)
        facts = read_weight_file(handle, st.st_size, entry.name, entry.path)
        if cache and facts is not None and self.fs.change_shows(st):
            cache.put(WEIGHT_CACHE_KIND, entry.real_path, st, facts.to_cache())
        return facts

    def _hash(self, entry: Entry, facts: WeightFacts) -> None:
        """``--hash``: the whole file as it lies (never through a link: what a link points to is hashed where it
        lies), streamed in 1 MiB reads up to its size, unless unchanged since it was last hashed."""
        cache = self.options.file_cache
        digest = hashlib.sha256()
        try:
            with self.fs.open_unlinked(entry.real_path) as handle:
                st = os.fstat(handle.fileno())
                known = cache.get(DIGEST_CACHE_KIND, entry.real_path, st) if cache else None
                if known is None:
                    for chunk in iter(lambda: handle.read(HASH_CHUNK), b""):
                        digest.update(chunk)
                    known = digest.hexdigest()
                    if cache and self.fs.change_shows(st):
                        cache.put(DIGEST_CACHE_KIND, entry.real_path, st, known)
        except (OSError, FileRefused) as error:
            self.skipped.append(Skipped(entry.path, f"not hashed: {describe_refusal(error)}", refusal_kind(error)))
            return
        facts.clues.append(Clue("digest", known, "sha256 (--hash)", entry.path))


@cache
def _sniffed() -> str:
    """The kind of memo a file without an extension is kept under once sniffed and found no model: by this
    build of the scanner (another build may know another format)."""
    return memo_kind("model-sniff")
