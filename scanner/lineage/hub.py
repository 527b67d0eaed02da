"""Optional online enrichment: follow ``base_model`` chains and list published digests on the Hub.

Off by default (``--online``): a compliance scan must work on air-gapped machines, and sends
nothing anywhere unless asked. When asked, model cards and file listings come from the Hugging
Face Hub API through ``huggingface_hub`` (``HF_ENDPOINT`` is honoured, so a mirror or a test
server can stand in), each cached on disk for a week. The first unreachable request makes the rest
of the scan use the cache only, and the report says so; the scan itself never fails for it.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scanner.names import normalize_package_name, string_list
from scanner.places import default_cache_dir

CACHE_MAX_AGE = 7 * 24 * 3600
MAX_LOOKUPS = 200
"""Per scan: lineage chains are short, so this bounds network use on a machine with many models."""
DEFAULT_ENDPOINT = "https://huggingface.co"


@dataclass(frozen=True)
class HubModel:
    """What the Hub says about one repo."""

    repo_id: str
    base_models: tuple[str, ...]
    relation: str | None
    datasets: tuple[str, ...]
    files: tuple[tuple[str, str | None, int | None], ...]
    """``(file name, LFS sha256 or None, size)``."""
    fetched: float


def _parse(repo_id: str, data: dict[str, Any], fetched: float) -> HubModel:
    card = data.get("cardData") if isinstance(data.get("cardData"), dict) else {}
    assert isinstance(card, dict)
    files = []
    for sibling in data.get("siblings") or []:
        if isinstance(sibling, dict) and isinstance(sibling.get("rfilename"), str):
            lfs = sibling.get("lfs") if isinstance(sibling.get("lfs"), dict) else {}
            sha = lfs.get("sha256") if isinstance(lfs, dict) and isinstance(lfs.get("sha256"), str) else None
            size = sibling.get("size") if isinstance(sibling.get("size"), int) else None
            files.append((sibling["rfilename"], sha, size))
    relation = card.get("base_model_relation")
    return HubModel(
        repo_id=repo_id,
        base_models=string_list(card.get("base_model")),
        relation=relation if isinstance(relation, str) else None,
        datasets=string_list(card.get("datasets")),
        files=tuple(files),
        fetched=fetched,
    )


@dataclass
class Hub:
    """A cached, failure-tolerant view of the Hub API for one scan."""

    endpoint: str = field(default_factory=lambda: os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT)
    cache_dir: Path = field(default_factory=lambda: default_cache_dir() / "hub")
    timeout: float = 10.0
    failures: list[str] = field(default_factory=list)
    """What went wrong, once per scan, for the report."""
    lookups: int = 0
    _offline: bool = False

    def _cache_file(self, repo_id: str) -> Path:
        host = normalize_package_name(self.endpoint.split("://", 1)[-1])
        return self.cache_dir / host / (repo_id.replace("/", "--") + ".json")

    def _cached(self, repo_id: str) -> tuple[dict[str, Any] | None, float] | None:
        try:
            entry = json.loads(self._cache_file(repo_id).read_text())
            return entry.get("data"), float(entry["fetched"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def model(self, repo_id: str) -> HubModel | None:
        """The repo's card and files, from the cache when fresh, else from the Hub; ``None`` if unknown."""
        cached = self._cached(repo_id)
        if cached is not None and (time.time() - cached[1] < CACHE_MAX_AGE or self._offline):
            return _parse(repo_id, cached[0], cached[1]) if cached[0] is not None else None
        if not self._offline and self.lookups >= MAX_LOOKUPS:
            self._offline = True
            self.failures.append(f"more than {MAX_LOOKUPS} Hub lookups in one scan; the rest used the cache only")
        if self._offline:
            return _parse(repo_id, cached[0], cached[1]) if cached and cached[0] is not None else None
        self.lookups += 1
        # Imported here: huggingface_hub takes a quarter of a second to import, and only --online needs it.
        from huggingface_hub import HfApi
        from huggingface_hub.errors import RepositoryNotFoundError

        try:
            response = HfApi(endpoint=self.endpoint).model_info(repo_id, files_metadata=True, timeout=self.timeout)
            data: dict[str, Any] | None = {
                "cardData": response.card_data.to_dict() if response.card_data else {},  # type: ignore[no-untyped-call]
                "siblings": [
                    {"rfilename": s.rfilename, "size": s.size, "lfs": {"sha256": s.lfs.sha256} if s.lfs else None}
                    for s in response.siblings or []
                ],
            }
        except RepositoryNotFoundError:
            data = None
        except Exception as error:  # the network stack differs across huggingface_hub versions (requests, httpx...)
            self._offline = True
            self.failures.append(
                f"{self.endpoint} unreachable ({type(error).__name__}: {str(error)[:120]}); used cache only"
            )
            return _parse(repo_id, cached[0], cached[1]) if cached and cached[0] is not None else None
        fetched = time.time()
        path = self._cache_file(repo_id)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({"fetched": fetched, "data": data}))
        except OSError as error:
            self.failures.append(f"cannot write the Hub cache {path.parent}: {error.strerror or error}")
        return _parse(repo_id, data, fetched) if data is not None else None
