"""Model names as people and tools write them, reduced to keys that can be compared.

The same model goes by ``deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B`` (Hugging Face),
``DeepSeek R1 Distill Qwen 1.5B`` (GGUF ``general.name``), ``Deepseek Ai`` (GGUF organisation),
``D:/models/deepseek-ai/DeepSeek-R1-Distill-Qwen-1___5B`` (a Windows path with ModelScope's
mangling of ``.``), ``https://huggingface.co/deepseek-ai/...`` and ``deepseek-r1:7b`` (Ollama).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SEPARATORS = re.compile(r"[\s_.\-]+")
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_KNOWN_HOSTS = ("huggingface.co/", "hf.co/", "modelscope.cn/models/", "ollama.com/library/", "ollama.com/")


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
        text = _URL.sub("", text)
        for host in _KNOWN_HOSTS:
            if text.lower().startswith(host):
                text = text[len(host) :]
                break
        text = text.split("?")[0].split("#")[0]
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
        keys[0:0] = [NameKey(None, f"{normalize(model)}:{normalize(tag)}")]
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
