"""The lineage graph of the models on one machine, from what their files declare.

A model leads to names: its own, the base models and datasets its metadata declares, and — when a
declared base model is itself on this machine — that model's leads in turn. A fine-tuned GGUF whose
card names ``my-org/medllama-8b`` therefore leads, through the local ``medllama-8b`` folder's card,
to ``deepseek-ai/DeepSeek-R1-Distill-Llama-8B``. These are facts; the policy engine decides what
any of the names means.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from scanner.lineage.names import name_keys
from scanner.records import Clue, Lead, ModelRecord, Step

MAX_DEPTH = 8
"""Chains longer than this are cut: real lineages are a few links long; the cap bounds loops."""


def _evidence(clue: Clue) -> str:
    return f"{clue.field} in {clue.path}"


def _own_steps(model: ModelRecord) -> list[Step]:
    return [Step("named", clue.value, _evidence(clue)) for clue in model.clues_of("name")]


def _parent_steps(model: ModelRecord) -> list[Step]:
    steps = [Step(c.relation or "base model", c.value, _evidence(c)) for c in model.clues_of("base-model")]
    return steps + [Step("trained on", c.value, _evidence(c)) for c in model.clues_of("dataset")]


class MachineIndex:
    """The models on this machine, findable by any of their names."""

    def __init__(self, models: Sequence[ModelRecord]) -> None:
        self._by_key: dict[str, list[ModelRecord]] = {}
        for model in models:
            for clue in model.clues_of("name"):
                for key in name_keys(clue.value):
                    self._by_key.setdefault(key.full, []).append(model)

    def lookup(self, name: str, exclude: ModelRecord) -> list[ModelRecord]:
        found: list[ModelRecord] = []
        for key in name_keys(name):
            found += [m for m in self._by_key.get(key.full, []) if m is not exclude and m not in found]
            if found and key.org:
                break  # an org/model match is better than a bare-name one
        return found

    def leads(self, model: ModelRecord) -> tuple[Lead, ...]:
        leads = [Lead((step,)) for step in _own_steps(model)]
        frontier: list[tuple[tuple[Step, ...], ModelRecord]] = [((step,), model) for step in _parent_steps(model)]
        seen = {id(model)}
        while frontier:
            steps, owner = frontier.pop(0)
            leads.append(Lead(steps))
            if len(steps) >= MAX_DEPTH:
                continue
            for local in self.lookup(steps[-1].name, owner):
                if id(local) in seen:
                    continue
                seen.add(id(local))
                frontier += [((*steps, parent), local) for parent in _parent_steps(local)]
        return tuple(dict.fromkeys(leads))


def identify(records: Sequence[object]) -> list[object]:
    """The lineage stage of the pipeline: models get their leads; other records pass unchanged."""
    models = [r for r in records if isinstance(r, ModelRecord)]
    index = MachineIndex(models)
    return [replace(r, leads=index.leads(r)) if isinstance(r, ModelRecord) else r for r in records]
