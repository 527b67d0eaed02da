"""The small text files around weights that say what a model is: configs, cards, tokenizer configs.

Every reader is bounded and returns facts (``Clue``s), never judgements. JSON is parsed with the
standard library, the model card's YAML front matter with the safe loader only, bounded in nodes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from scanner.collectors.yamldata import load_yaml
from scanner.names import string_list
from scanner.records import Clue

CARD_CAP = 256 * 1024
FRONT_MATTER_CAP = 64 * 1024
CHAT_TEMPLATE_CAP = 64 * 1024
CONFIG_KEYS_CAP = 300
_RELATIONS = {"finetune", "adapter", "quantized", "merge", "distillation"}
_LAYER_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
"""Anything else (``..``, NUL bytes) must never become part of a blob path."""


class NotUsable(Exception):
    """The file is not what its name suggests (not JSON, not an object...); the reason in plain words."""


def load_json_object(data: bytes, truncated: bool) -> dict[str, Any]:
    if truncated:
        raise NotUsable("too large to be a model metadata file")
    try:
        loaded = json.loads(data)
    except (ValueError, RecursionError) as error:
        raise NotUsable(f"not valid JSON ({str(error)[:80]})") from error
    if not isinstance(loaded, dict):
        raise NotUsable("JSON is not an object")
    return loaded


def is_model_config(config: dict[str, Any]) -> bool:
    """A transformers ``config.json`` says what architecture it builds (other tools' config.json do not)."""
    return isinstance(config.get("model_type"), str) or isinstance(config.get("architectures"), list)


SUB_CONFIGS = ("text_config", "language_config", "llm_config", "thinker_config", "vision_config")
"""Where multimodal configs nest their towers (Kimi-VL's text_config, DeepSeek-VL2's language_config)."""


def config_clues(config: dict[str, Any], path: str) -> list[Clue]:
    clues: list[Clue] = []
    name = config.get("_name_or_path")  # what transformers loaded it from: the base of a fine-tune
    if isinstance(name, str) and name.strip():
        clues.append(Clue("base-model", name.strip(), "_name_or_path", path, "loaded-from"))
    model_type = config.get("model_type")
    if isinstance(model_type, str):
        clues.append(Clue("architecture", model_type, "model_type", path))
    architectures = config.get("architectures")
    for arch in architectures if isinstance(architectures, list) else []:
        if isinstance(arch, str):
            clues.append(Clue("architecture", arch, "architectures", path))
    for part in SUB_CONFIGS:  # a multimodal model's language model sits in a nested config
        nested = config.get(part)
        if isinstance(nested, dict):
            kind = nested.get("model_type")
            if isinstance(kind, str):
                clues.append(Clue("architecture", kind, f"{part}.model_type", path))
            nested_archs = nested.get("architectures")
            for arch in nested_archs if isinstance(nested_archs, list) else []:
                if isinstance(arch, str):
                    clues.append(Clue("architecture", arch, f"{part}.architectures", path))
    for key, value in list(config.items())[:CONFIG_KEYS_CAP]:
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, (str, int, float, bool)) and len(str(item)) <= 200:
                clues.append(Clue("config", f"{key}={item}", key, path))
    return clues


def adapter_clues(adapter: dict[str, Any], path: str) -> list[Clue]:
    base = adapter.get("base_model_name_or_path")
    if isinstance(base, str) and base.strip():
        return [Clue("base-model", base.strip(), "base_model_name_or_path", path, "adapter")]
    return []


@dataclass(frozen=True)
class TokenizerFacts:
    special_tokens: tuple[str, ...]
    chat_template: str | None


def _token_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("content"), str):
        return value["content"]  # type: ignore[no-any-return]
    return None


def tokenizer_facts(config: dict[str, Any]) -> TokenizerFacts:
    """Special tokens (bos/eos/..., ``additional_special_tokens``, special ``added_tokens_decoder``) and the chat template."""
    tokens: list[str] = []
    for key in ("bos_token", "eos_token", "unk_token", "pad_token", "sep_token", "cls_token", "mask_token"):
        text = _token_text(config.get(key))
        if text:
            tokens.append(text)
    extra = config.get("additional_special_tokens")
    tokens += [t for t in (_token_text(v) for v in (extra if isinstance(extra, list) else [])) if t]
    decoder = config.get("added_tokens_decoder")
    for entry in list(decoder.values() if isinstance(decoder, dict) else [])[:20000]:
        if isinstance(entry, dict) and entry.get("special") and isinstance(entry.get("content"), str):
            tokens.append(entry["content"])
    return TokenizerFacts(tuple(dict.fromkeys(tokens)), chat_template_text(config.get("chat_template")))


def chat_template_text(value: Any) -> str | None:
    """A chat template as text: a string, or the named variants some tokenizers ship, joined."""
    if isinstance(value, str):
        return value[:CHAT_TEMPLATE_CAP]
    if isinstance(value, list):
        parts = [v.get("template") for v in value if isinstance(v, dict)]
        joined = "\n".join(p for p in parts if isinstance(p, str))
        return joined[:CHAT_TEMPLATE_CAP] or None
    return None


def front_matter(text: str) -> dict[str, Any]:
    """The YAML block between leading ``---`` lines of a model card, or ``{}``."""
    text = text.removeprefix("\ufeff")  # a byte-order mark before the front matter
    if not text.startswith("---"):
        return {}
    end = text.find("\n---", 3)
    if end < 0 or end > FRONT_MATTER_CAP:
        return {}
    try:
        loaded = load_yaml(text[3:end])
    except (RecursionError, ValueError):  # NotYaml is a ValueError
        return {}
    return loaded if isinstance(loaded, dict) else {}


def card_clues(text: str, path: str) -> list[Clue]:
    """``base_model`` (with ``base_model_relation``), ``datasets`` and the title of a model card."""
    meta = front_matter(text)
    relation = meta.get("base_model_relation")
    relation = relation if isinstance(relation, str) and relation in _RELATIONS else None
    clues = [Clue("base-model", base, "base_model", path, relation) for base in string_list(meta.get("base_model"))]
    clues += [Clue("dataset", dataset, "datasets", path) for dataset in string_list(meta.get("datasets"))]
    clues += [Clue("name", name, "model_name", path) for name in string_list(meta.get("model_name"))]
    title = _title(text)
    if title:
        clues.append(Clue("name", title, "title", path))
    return clues


MERGEKIT_NAMES = frozenset({"mergekit_config.yml", "mergekit_config.yaml"})
_MERGE_NODES = 10_000
"""A merge names a few models; a file that needs more nodes to read is not a mergekit config we can trust."""


def mergekit_clues(text: str, path: str) -> list[Clue]:
    """The models a mergekit merge was made from (``models[].model``, ``slices[].sources[].model``,
    ``base_model``): each is a base model of the merge, with the relation ``merge``."""
    try:
        loaded = load_yaml(text[:FRONT_MATTER_CAP])
    except (RecursionError, ValueError):  # NotYaml is a ValueError
        return []
    found: list[str] = []
    stack: list[object] = [loaded]
    budget = _MERGE_NODES
    while stack and budget > 0:  # shared (aliased) nodes are visited again: the budget bounds the walk
        node = stack.pop()
        budget -= 1
        if isinstance(node, dict):
            for key in ("model", "base_model"):
                value = node.get(key)
                if isinstance(value, str) and value.strip():
                    found.append(value.strip())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return [Clue("base-model", name, "mergekit_config", path, "merge") for name in dict.fromkeys(found)]


def _title(text: str) -> str | None:
    """A card's ``# Title`` when it is the first thing after the front matter (later headings are sections)."""
    text = text.removeprefix("\ufeff")
    body = text
    if text.startswith("---"):
        end = text.find("\n---", 3)
        body = text[end + 4 :] if end >= 0 else text
    first = next((line.strip() for line in body.splitlines()[:50] if line.strip()), "")
    title = first[2:].strip() if first.startswith("# ") else ""
    return title[:200] if title and "<" not in title else None


def ollama_layers(manifest: dict[str, Any]) -> Iterable[tuple[str, str, int]]:
    """``(media type, sha256 hex, size)`` of each layer of an Ollama manifest."""
    layers = manifest.get("layers")
    for layer in layers if isinstance(layers, list) else []:
        if not isinstance(layer, dict):
            continue
        media, digest, size = layer.get("mediaType"), layer.get("digest"), layer.get("size")
        if isinstance(media, str) and isinstance(digest, str) and _LAYER_DIGEST.match(digest):
            yield media, digest[len("sha256:") :], size if isinstance(size, int) else 0
