"""One ``ModelRecord`` from one group: its metadata read, merged with what its weights said.

Only now are a model's metadata files read (configs, card, tokenizer config, chat templates), and only
in the folders that describe it; a folder without weights counts only when its config says it is a
model. Names, digests, special tokens and templates from every file become one record's clues.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field

from scanner.collectors.models.cards import (
    CARD_CAP,
    CHAT_TEMPLATE_CAP,
    MERGEKIT_NAMES,
    NotUsable,
    adapter_clues,
    card_clues,
    config_clues,
    is_model_config,
    load_json_object,
    mergekit_clues,
    tokenizer_facts,
)
from scanner.collectors.models.grouping import ModelGroup
from scanner.collectors.models.inventory import MODEL_CONFIGS, Inventory
from scanner.fsview import FileRefused, describe_refusal, refusal_kind
from scanner.records import Clue, Location, ModelFile, ModelRecord, Skipped
from scanner.vocabulary import SkipKind

META_CAPS = {"config.json": 1 << 20, "adapter_config.json": 256 << 10, "tokenizer_config.json": 4 << 20}
MAX_SPECIALS = 20_000
_NAME_RANK = ("general.organization + general.basename", "general.name", "model_name", "__metadata__", "title")


@dataclass
class _Meta:
    """What a model's metadata files say (its configs, card, tokenizer config, chat templates)."""

    clues: list[Clue] = field(default_factory=list)
    specials: list[str] = field(default_factory=list)
    templates: list[str] = field(default_factory=list)
    files: list[ModelFile] = field(default_factory=list)


def model_record(group: ModelGroup, inventory: Inventory, found_by: str) -> ModelRecord | None:
    """The group's record, or ``None`` for a folder of metadata that turns out not to be a model."""
    if group.store == "directory" and not (group.weights or group.clone or _model_config_present(group, inventory)):
        return None
    meta = _read_meta(group, inventory)
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
        format="+".join(formats) or ("dataset" if group.dataset else "config-only"),
        files=tuple(sorted(set(files), key=lambda f: f.path)),
        clues=tuple(dict.fromkeys(clues)),
        locations=(Location(group.root),),
        found_by=found_by,
        special_tokens=tuple(dict.fromkeys(specials))[:MAX_SPECIALS],
        chat_template="\n\n".join(dict.fromkeys(templates))[: 4 * CHAT_TEMPLATE_CAP] or None,
    )


def _model_config_present(group: ModelGroup, inventory: Inventory) -> bool:
    """Without weights, a folder is a model only if its config says so; anything else is quietly not ours."""
    for folder in group.meta_dirs:
        files = inventory.meta.get(folder, {})
        for name in MODEL_CONFIGS & files.keys():
            try:
                raw, truncated = inventory.fs.read_bytes(files[name], META_CAPS[name])
                data = load_json_object(raw, truncated)
            except (OSError, FileRefused, NotUsable):
                continue
            if name == "adapter_config.json" or is_model_config(data):
                return True
    return False


def _read_meta(group: ModelGroup, inventory: Inventory) -> _Meta:
    fs = inventory.fs
    meta = _Meta()
    for folder in group.meta_dirs:
        for name, real in sorted(inventory.meta.get(folder, {}).items()):
            path = f"{folder}/{name}" if folder != "/" else f"/{name}"
            try:
                if name.endswith(".jinja"):
                    text, _ = fs.read_text(real, CHAT_TEMPLATE_CAP)
                    meta.templates.append(text)
                    meta.files.append(ModelFile(path, len(text), "chat-template", len(text)))
                    continue
                if name == "README.md":
                    text, _ = fs.read_text(real, CARD_CAP)
                    meta.clues += card_clues(text, path)
                    meta.files.append(ModelFile(path, len(text), "model-card", len(text)))
                    continue
                if name in MERGEKIT_NAMES:
                    text, _ = fs.read_text(real, CARD_CAP)
                    meta.clues += mergekit_clues(text, path)
                    meta.files.append(ModelFile(path, len(text), "mergekit-config", len(text)))
                    continue
                raw, truncated = fs.read_bytes(real, META_CAPS[name])
                data = load_json_object(raw, truncated)
            except (OSError, FileRefused, NotUsable) as error:
                reason = str(error) if isinstance(error, NotUsable) else describe_refusal(error)
                kind = SkipKind.UNREADABLE if isinstance(error, NotUsable) else refusal_kind(error)
                inventory.skipped.append(Skipped(path, f"model metadata unreadable: {reason}", kind))
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


def _best_name(clues: Iterable[Clue]) -> str | None:
    """The name to show: GGUF and card names, in that order; never a local path."""
    names = [c for c in clues if c.kind == "name" and not c.value.startswith(("/", ".")) and ":/" not in c.value]
    for wanted in _NAME_RANK:
        for clue in names:
            if clue.field.startswith(wanted):
                return clue.value
    return None
