"""Models on the machine, one record per model, from one walk and headers only.

The walk's entries go to the ``Inventory`` (weight headers read, metadata noted); once it is over,
``grouping`` says which files make one model and ``assembly`` reads each model's metadata and builds
its ``ModelRecord``.
"""

from __future__ import annotations

import os

from scanner.collectors.interface import CollectOptions, Collector, CollectorResult
from scanner.collectors.models.assembly import model_record
from scanner.collectors.models.grouping import group_models
from scanner.collectors.models.inventory import META_NAMES, SNIFF_MIN_SIZE, Inventory
from scanner.collectors.models.weights import WEIGHT_SUFFIXES
from scanner.fsview import RootFS
from scanner.printable import encodable
from scanner.records import Record, Skipped
from scanner.visitors import Entry, Interest
from scanner.vocabulary import SkipKind
from scanner.walk import WalkRoot


class ModelCollector(Collector):
    """Finds model weights and metadata in every store layout, grouped into models."""

    id = "model-collector"
    interest = Interest(
        file_suffixes=WEIGHT_SUFFIXES | {".jinja"},
        file_names=META_NAMES,
        files_in_dirs=frozenset({"blobs"}),
        files_below_dirs=frozenset({"manifests"}),
        extensionless_files=True,
        extensionless_min_size=SNIFF_MIN_SIZE,
    )

    def __init__(self, fs: RootFS, options: CollectOptions | None = None) -> None:
        super().__init__(fs, options)
        self._inventory = Inventory(self.fs, self.options)

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

    def visit(self, entry: Entry) -> None:
        self._inventory.add(entry)

    def finish(self) -> CollectorResult:
        inventory = self._inventory
        records: list[Record] = []
        for group in group_models(inventory):
            try:
                record = model_record(group, inventory, self.id)
            except Exception as error:  # one odd model must cost one entry, not every model's
                inventory.skipped.append(
                    Skipped(group.root, encodable(f"{self.id} failed: {type(error).__name__}: {error}"), SkipKind.ERROR)
                )
                continue
            if record is not None:
                records.append(record)
        return CollectorResult(records=records, skipped=inventory.skipped)
