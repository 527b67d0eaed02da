"""Configuration files as the structured data they are: JSON, JSONC, YAML, TOML — and the settings in them.

Every object (mapping) in the file is looked at once: its text values are classified (URL, provider,
model, key); what one object sets together becomes one endpoint record (Continue's
``{provider: deepseek, model: deepseek-chat}``, LiteLLM's ``litellm_params``, Claude Code's ``env``).
Parsing is bounded in bytes, depth and nodes, and costs time linear in the file's size; YAML is loaded
with the safe loader only, and refused past a node budget before anything is built (``yamldata``).
"""

from __future__ import annotations

import json
import re
import sys
from collections import deque
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from scanner.collectors.endpoints.settings import Setting, classify, classify_all
from scanner.collectors.interface import WatchList
from scanner.collectors.yamldata import TooManyNodes, load_yaml

MAX_DEPTH = 16
MAX_NODES = 20_000
"""Keys and items looked at per file, values included: each text value is classified (about 15 µs), so
this bounds a planted file's cost (a list of 100,000 URLs took 1.7 s) to about a third of a second."""
_KEYED_SECRET = re.compile(r"^([A-Za-z][\w.-]{0,40})=(\S{8,})$")


class NotStructured(Exception):
    """The file does not parse as the format its name says."""


class TooLarge(NotStructured):
    """The file may well be what its name says, but reading it all would cost more than we spend on one file."""


_JSONC_PART = re.compile(r'("(?:[^"\\]|\\.)*"?)|//[^\n]*|/\*(?:[^*]|\*(?!/))*(?:\*/)?', re.DOTALL)
"""A string (kept), a line comment or a block comment (dropped): one pass, linear in the text."""
_TRAILING_COMMA = re.compile(r",(\s*[}\]])")


def strip_jsonc(text: str) -> str:
    """JSON with comments and trailing commas (VS Code, opencode) as plain JSON; strings are kept intact."""
    return _TRAILING_COMMA.sub(r"\1", _JSONC_PART.sub(lambda m: m.group(1) or "", text))


def parse(text: str, kind: str) -> Any:
    """``kind``: ``json``, ``jsonc``, ``yaml`` or ``toml``."""
    try:
        if kind == "json":
            try:
                return json.loads(text)
            except ValueError:
                return json.loads(strip_jsonc(text))
        if kind == "jsonc":
            return json.loads(strip_jsonc(text))
        if kind == "yaml":
            return load_yaml(text)
        return _toml(text)
    except TooManyNodes as error:
        raise TooLarge(str(error)) from error
    except (ValueError, RecursionError) as error:  # NotYaml and TOMLDecodeError are ValueErrors
        raise NotStructured(f"not valid {kind.upper()}: {str(error).splitlines()[0][:100]}") from error


def _toml(text: str) -> Any:
    """Imported here, for TOML files only: 2 ms of every audit's start-up."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on Python 3.10
        import tomli as tomllib
    return tomllib.loads(text)


def _scalar_text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _label(key: Any) -> str:
    text = str(key)
    return text if len(text) <= 64 else text[:61] + "..."


def objects(tree: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every mapping in the tree with its key path, breadth first, bounded in depth and in keys and items.

    A mapping reached twice (a YAML alias) is visited once: aliases could otherwise make a 100 KB
    file cost hours. Key paths are shortened, so a 1 MB key cannot multiply into gigabytes.
    """
    queue: deque[tuple[str, Any, int]] = deque([("", tree, 0)])
    visited: set[int] = set()
    budget = MAX_NODES
    while queue:
        path, node, depth = queue.popleft()
        if id(node) in visited:
            continue
        visited.add(id(node))
        if isinstance(node, dict):
            yield path or "(top level)", node
            children: Iterable[tuple[Any, Any]] = node.items()
        elif isinstance(node, list):
            children = enumerate(node)
        else:
            continue
        if depth >= MAX_DEPTH:
            continue
        for key, value in children:
            budget -= 1
            if budget < 0:
                return
            if not isinstance(value, (dict, list)):
                continue
            child = f"{path}[{key}]" if isinstance(node, list) else f"{path}.{_label(key)}" if path else _label(key)
            queue.append((child, value, depth + 1))


def settings_of(node: dict[str, Any], watch: WatchList, *, provider_keys: bool = True) -> list[Setting]:
    """What one mapping configures: its text values, and ``name=secret`` items of lists (aider ``api-key``).

    ``provider_keys``: a tool's own file, where ``type`` names a provider too (not in a project's files).
    """
    found: list[Setting] = []
    for key, value in islice(node.items(), MAX_NODES):
        key = str(key)
        texts = (
            [value]
            if isinstance(value, str)
            else [v for v in islice(value, MAX_NODES) if isinstance(v, str)]
            if isinstance(value, list)
            else []
        )
        for text in texts:
            keyed = _KEYED_SECRET.match(text.strip())
            if keyed and isinstance(value, list):  # api-key: [deepseek=sk-...]
                provider = classify("provider", keyed.group(1), watch, provider_keys=True)
                secret = classify(key, keyed.group(2), watch)
                found += [s for s in (provider, secret) if s is not None]
                continue
            found += classify_all(key, text, watch, provider_keys=provider_keys)
    return found
