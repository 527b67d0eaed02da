"""Model names as people and tools write them, reduced to keys that can be compared.

The same model goes by ``deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B`` (Hugging Face),
``DeepSeek R1 Distill Qwen 1.5B`` (GGUF ``general.name``), ``Deepseek Ai`` (GGUF organisation),
``D:/models/deepseek-ai/DeepSeek-R1-Distill-Qwen-1___5B`` (a Windows path with ModelScope's
mangling of ``.``), ``https://huggingface.co/deepseek-ai/...`` and ``deepseek-r1:7b`` (Ollama).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from scanner.patterns import LazyPattern

_SEPARATORS = LazyPattern(r"[\s_.\-]+")
_URL = LazyPattern(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_REPO_URL = LazyPattern(
    r"^https?://(?:www\.)?(?:huggingface\.co|hf\.co|modelscope\.cn/models|ollama\.com)/"
    r"(?:datasets/|spaces/|library/)?([^/?#\s]+(?:/[^/?#\s]+)?)"
)


def hf_repo_id(url: str) -> str | None:
    """``https://huggingface.co/deepseek-ai/DeepSeek-R1`` -> ``deepseek-ai/DeepSeek-R1`` (also
    ``/datasets/...``, ``hf.co``, ModelScope and Ollama library URLs); ``None`` for other URLs."""
    match = _REPO_URL.match(url.strip())
    return match.group(1) if (match and "/" in match.group(1)) or (match and "ollama.com" in url) else None


def string_list(value: object) -> tuple[str, ...]:
    """A YAML/JSON value that may be one string or a list of them, as non-empty stripped strings."""
    items = value if isinstance(value, list) else [value]
    return tuple(i.strip() for i in items if isinstance(i, str) and i.strip())


def normalize(text: str) -> str:
    """Lower case, ModelScope's ``___`` back to ``.``, and runs of space ``_ . -`` folded to ``-``."""
    return _SEPARATORS.sub("-", text.replace("___", ".").lower()).strip("-")


@dataclass(frozen=True)
class NameKey:
    """A comparable form of a name: its organisation (if any) and its model part, both normalised."""

    org: str | None
    model: str

    @property
    def full(self) -> str:
        return f"{self.org}/{self.model}" if self.org else self.model


def name_keys(value: str) -> list[NameKey]:
    """Every comparable reading of a written name, most specific first.

    A path or URL gives its last two segments (``org/model``) and its last one (``model``); an
    Ollama ``model:tag`` keeps the tag in one key and drops it in another.
    """
    text = value.strip().replace("\\", "/")
    if _URL.match(text):
        text = hf_repo_id(text) or _URL.sub("", text).split("?")[0].split("#")[0]
    segments = [s for s in text.split("/") if s and s not in (".", "..") and not re.fullmatch(r"[A-Za-z]:", s)]
    if not segments:
        return []
    keys: list[NameKey] = []
    last = segments[-1]
    if len(segments) >= 2:
        keys.append(NameKey(normalize(segments[-2]), normalize(last)))
    keys.append(NameKey(None, normalize(last)))
    if ":" in last:
        model, _, tag = last.partition(":")
        keys.append(NameKey(None, normalize(model)))
        size = normalize(tag).split("-")[0]  # deepseek-r1:7b-qwen-distill-q4_K_M is deepseek-r1:7b
        keys[0:0] = [NameKey(None, f"{normalize(model)}:{normalize(tag)}"), NameKey(None, f"{normalize(model)}:{size}")]
    return [k for k in dict.fromkeys(keys) if k.model]


def contains_name(haystack: str, needle: str) -> bool:
    """``needle`` occurs in ``haystack`` at ``-`` boundaries (both normalised): ``...-qwen-7b-q4-k-m``
    contains ``deepseek-r1-distill-qwen-7b`` but ``...-qwen-70b`` does not contain ``...-qwen-7b``."""
    start = haystack.find(needle)
    while start >= 0:
        end = start + len(needle)
        if (start == 0 or haystack[start - 1] == "-") and (end == len(haystack) or haystack[end] == "-"):
            return True
        start = haystack.find(needle, start + 1)
    return False


_PACKAGING = LazyPattern(
    r"(?:-(?:gguf|ggml|awq|gptq|mlx|exl2|onnx|fp16|bf16|f16|f32|fp8|int4|int8|\d+bit|imatrix|i1"
    r"|q[2-8](?:-k)?(?:-[sml]|-xs|-xl)?|q[2-8]-[01]|iq[1-4](?:-[a-z]+)*))+$"
)
"""Words that say how a model was packaged or quantised, not which model it is."""


def strip_packaging(key: str) -> str:
    """``openthinker-7b-gguf`` -> ``openthinker-7b``; ``...-qwen-7b-q4-k-m`` -> ``...-qwen-7b``."""
    model, colon, tag = key.partition(":")
    return f"{_PACKAGING.sub('', model)}{colon}{tag}" if colon else _PACKAGING.sub("", key)


_PACKAGE_NAME_RUNS = LazyPattern(r"[-_.]+")


def normalize_package_name(name: str) -> str:
    """PEP 503 normalised project name: ``Langchain_DeepSeek`` -> ``langchain-deepseek``."""
    return _PACKAGE_NAME_RUNS.sub("-", name).lower()
