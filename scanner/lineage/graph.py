"""The lineage graph of the models on one machine, from what their files declare.

A model leads to names: its own, the base models and datasets its metadata declares, and — when a
declared base model is itself on this machine — that model's leads in turn. A fine-tuned GGUF whose
card names ``my-org/medllama-8b`` therefore leads, through the local ``medllama-8b`` folder's card,
to ``deepseek-ai/DeepSeek-R1-Distill-Llama-8B``. These are facts; the policy engine decides what
any of the names means.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from scanner.names import name_keys
from scanner.records import Clue, Lead, ModelRecord, Step

if TYPE_CHECKING:  # the Hub client is made by --online runs only (its module: 2 ms of start-up)
    from scanner.lineage.hub import Hub

MAX_DEPTH = 8
"""Chains longer than this are cut: real lineages are a few links long; the cap bounds loops."""


def _evidence(clue: Clue) -> str:
    return f"{clue.field} in {clue.path}"


def _own_steps(model: ModelRecord) -> list[Step]:
    return [Step("named", clue.value, _evidence(clue)) for clue in model.clues_of("name")]


def _parent_steps(model: ModelRecord) -> list[Step]:
    steps = [Step(c.relation or "base model", c.value, _evidence(c)) for c in model.clues_of("base-model")]
    return steps + [Step("trained on", c.value, _evidence(c)) for c in model.clues_of("dataset")]


_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def _hub_steps(hub: Hub, name: str) -> list[Step]:
    """A repo's declared parents according to its card on the Hub (``--online``)."""
    found = hub.model(name) if _REPO_ID.match(name) else None
    if found is None:
        return []
    when = time.strftime("%Y-%m-%d", time.gmtime(found.fetched))
    evidence = f"model card of {name} on {hub.endpoint}, fetched {when}"
    steps = [Step(found.relation or "base model", base, evidence) for base in found.base_models]
    return steps + [Step("trained on", dataset, evidence) for dataset in found.datasets]


_NOT_IDENTITY = frozenset({"file name", "folder name"})
"""Names people give files and folders say what a model is called here, not which model it is: two
unrelated fine-tunes both in a folder called ``merged`` must not be chained to each other."""


class MachineIndex:
    """The models on this machine, findable by their own names and by location; optionally the Hub beyond."""

    def __init__(self, models: Sequence[ModelRecord], hub: Hub | None = None) -> None:
        self.hub = hub
        self._by_key: dict[str, list[ModelRecord]] = {}
        self._by_location: dict[str, ModelRecord] = {}
        for model in models:
            self._by_location[model.locations[0].path.rstrip("/")] = model
            for clue in model.clues_of("name"):
                if clue.field in _NOT_IDENTITY:
                    continue
                for key in name_keys(clue.value):
                    bucket = self._by_key.setdefault(key.full, [])
                    if all(m is not model for m in bucket):
                        bucket.append(model)

    def lookup(self, name: str, exclude: ModelRecord) -> list[ModelRecord]:
        """Local models a written name refers to: by path when it is one on this machine, else by name."""
        if name.startswith("/"):
            local = self._by_location.get(name.rstrip("/"))
            return [local] if local is not None and local is not exclude else []
        for key in name_keys(name):
            found = [m for m in self._by_key.get(key.full, []) if m is not exclude]
            if found:
                return found  # the most specific reading that names a model wins
        return []

    def leads(self, model: ModelRecord) -> tuple[Lead, ...]:
        own = _own_steps(model)
        leads = [Lead((step,)) for step in own]
        frontier: list[tuple[tuple[Step, ...], ModelRecord]] = [((step,), model) for step in _parent_steps(model)]
        if self.hub is not None and not frontier:  # weights without a card: ask the Hub about its own names
            frontier = [((step, parent), model) for step in own for parent in _hub_steps(self.hub, step.name)]
        seen = {id(model)}
        names_seen: set[str] = set()
        while frontier:
            steps, owner = frontier.pop(0)
            leads.append(Lead(steps))
            name = steps[-1].name
            if len(steps) >= MAX_DEPTH or name in names_seen:
                continue  # each distinct name is followed once per model: chains stay linear in the machine
            names_seen.add(name)
            locals_ = self.lookup(name, owner)
            for local in locals_:
                if id(local) in seen:
                    continue
                seen.add(id(local))
                frontier += [((*steps, parent), local) for parent in _parent_steps(local)]
            if not locals_ and self.hub is not None:
                frontier += [((*steps, parent), owner) for parent in _hub_steps(self.hub, name)]
        return tuple(dict.fromkeys(leads))


def identify(records: Sequence[object], hub: Hub | None = None) -> list[object]:
    """The lineage stage of the pipeline: models get their leads; other records pass unchanged."""
    models = [r for r in records if isinstance(r, ModelRecord)]
    index = MachineIndex(models, hub)
    return [replace(r, leads=index.leads(r)) if isinstance(r, ModelRecord) else r for r in records]
