"""Strict conversion of YAML into the policy dataclasses, with file, line and field in every error.

``yaml.compose`` (safe: it builds nodes, never Python objects) keeps the line of every node; the
converter walks those nodes guided by the dataclasses' type hints. Unknown keys, duplicate keys,
wrong types, values outside a ``Literal``, failed ``pattern``s and invalid regular expressions are
all errors. The policy classes stay plain dataclasses; no schema is written twice.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import typing
from functools import cache
from typing import Any, TypeVar

import yaml

from scanner.errors import PolicyError
from scanner.policy.dates import read_date
from scanner.policy.schema import SCHEMA_VERSION, Where, type_shape

T = TypeVar("T")

_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's composer where PyYAML has it: the bundled policy composes in milliseconds instead of about a
second in pure Python (every audit loads it); both give the nodes with their lines."""
_NODE_BUDGET = 200_000  # stops alias bombs ("billion laughs") and recursive aliases
_STR_TAGS = {"tag:yaml.org,2002:str", "tag:yaml.org,2002:timestamp"}
_TAG_NAMES = {
    "tag:yaml.org,2002:int": "a number",
    "tag:yaml.org,2002:float": "a number",
    "tag:yaml.org,2002:bool": "true/false",
    "tag:yaml.org,2002:null": "nothing (null)",
    "tag:yaml.org,2002:str": "text",
    "tag:yaml.org,2002:timestamp": "a date",
}


def compose(text: str, file: str) -> yaml.Node | None:
    """Parse YAML text into nodes; a syntax error names the line."""
    try:
        return yaml.compose(text, Loader=_LOADER)
    except RecursionError as error:
        raise PolicyError(file, None, None, "YAML nested too deeply") from error
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else None
        problem = " ".join(filter(None, [error.context, error.problem]))
        raise PolicyError(file, line, None, f"YAML syntax error: {problem}") from error
    except yaml.YAMLError as error:
        raise PolicyError(file, None, None, f"YAML error: {error}") from error


def convert(node: yaml.Node, cls: type[T], file: str) -> T:
    """Convert a composed document into an instance of the dataclass ``cls``."""
    return typing.cast(T, _Converter(file).value(node, cls, ""))


def check_schema_version(node: yaml.Node, file: str) -> None:
    """Before anything else: a file written for a newer scanner should say so, not "unknown key"."""
    if not isinstance(node, yaml.MappingNode):
        return
    for key, value in node.value:
        if key.value == "schema_version" and isinstance(value, yaml.ScalarNode) and value.value != str(SCHEMA_VERSION):
            message = f"unsupported schema_version {value.value} (this scanner reads {SCHEMA_VERSION})"
            raise PolicyError(file, value.start_mark.line + 1, "schema_version", message)


def include_lines(node: yaml.Node) -> list[int]:
    """The line of each ``include:`` item, for errors about includes."""
    for key, value in node.value if isinstance(node, yaml.MappingNode) else []:
        if key.value == "include" and isinstance(value, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in value.value]
    return []


def _describe(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    return _TAG_NAMES.get(node.tag, f"a value tagged {node.tag}")


@cache
def _plan(cls: type) -> tuple[dict[str, dataclasses.Field[Any]], dict[str, Any], tuple[str, ...], bool]:
    """A policy dataclass's keys (its fields that are not internal), their types, the required ones in
    order, and whether it has a ``where``: once per class, not for each of its 460 mappings."""
    every = dataclasses.fields(cls)
    fields = {f.name: f for f in every if not f.metadata.get("internal")}
    missing = dataclasses.MISSING
    required = tuple(n for n, f in fields.items() if f.default is missing and f.default_factory is missing)
    return fields, typing.get_type_hints(cls), required, any(f.name == "where" for f in every)


class _Converter:
    def __init__(self, file: str) -> None:
        self.file = file
        self.budget = _NODE_BUDGET
        self._scalars = yaml.SafeLoader("")  # only its constructors are used, on scalar nodes

    def fail(self, node: yaml.Node, path: str, message: str) -> typing.NoReturn:
        raise PolicyError(self.file, node.start_mark.line + 1, path or None, message)

    def value(self, node: yaml.Node, tp: Any, path: str) -> Any:
        self.budget -= 1
        if self.budget < 0:
            self.fail(node, path, "document too large or uses recursive aliases")
        kind, argument = type_shape(tp)
        if kind == "optional":
            if self._is_null(node):
                return None
            return self.value(node, argument, path)
        if kind == "literal":
            text = self.scalar(node, str, path)
            if text not in argument:
                self.fail(node, path, f"expected one of {', '.join(map(str, argument))}; got {text!r}")
            return text
        if kind == "enum":
            text = self.scalar(node, str, path)
            if text not in argument:
                self.fail(node, path, f"expected one of {', '.join(argument)}; got {text!r}")
            return tp(text)
        if kind == "sequence":
            return self.sequence(node, argument, path)
        if kind == "mapping":
            return self.mapping(node, argument, path)
        if kind == "dataclass":
            return self.dataclass(node, tp, path)
        return self.scalar(node, tp, path)

    def _is_null(self, node: yaml.Node) -> bool:
        return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"

    def scalar(self, node: yaml.Node, tp: type, path: str) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            self.fail(node, path, f"expected {'text' if tp is str else tp.__name__}, got {_describe(node)}")
        if tp is str:
            if node.tag not in _STR_TAGS:
                self.fail(node, path, f"expected text, got {_describe(node)} (quote it)")
            return node.value
        if tp is int:
            if node.tag != "tag:yaml.org,2002:int":
                self.fail(node, path, f"expected a whole number, got {_describe(node)}")
            try:
                return self._scalars.construct_object(node)
            except (ValueError, IndexError, OverflowError):
                self.fail(node, path, f"not a usable whole number: {node.value[:40]!r}")
        if tp is bool:
            if node.tag != "tag:yaml.org,2002:bool":
                self.fail(node, path, f"expected true or false, got {_describe(node)}")
            return self._scalars.construct_object(node)
        raise TypeError(f"unsupported type in policy schema: {tp!r}")  # a bug in schema.py, not in the file

    def sequence(self, node: yaml.Node, item_type: Any, path: str) -> tuple[Any, ...]:
        if not isinstance(node, yaml.SequenceNode):
            self.fail(node, path, f"expected a list, got {_describe(node)}")
        return tuple(self.value(item, item_type, f"{path}[{i}]") for i, item in enumerate(node.value))

    def _pairs(self, node: yaml.Node, path: str) -> list[tuple[str, yaml.Node, yaml.Node]]:
        if not isinstance(node, yaml.MappingNode):
            self.fail(node, path, f"expected a mapping, got {_describe(node)}")
        seen: set[str] = set()
        pairs = []
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                self.fail(key_node, path, "merge keys (<<) are not supported")
            key = self.scalar(key_node, str, path)
            if key in seen:
                self.fail(key_node, _join(path, key), "duplicate key")
            seen.add(key)
            pairs.append((key, key_node, value_node))
        return pairs

    def mapping(self, node: yaml.Node, value_type: Any, path: str) -> dict[str, Any]:
        return {key: self.value(value, value_type, _join(path, key)) for key, _, value in self._pairs(node, path)}

    def dataclass(self, node: yaml.Node, cls: Any, path: str) -> Any:
        fields, hints, required, located = _plan(cls)
        values: dict[str, Any] = {}
        for key, key_node, value_node in self._pairs(node, path):
            field_path = _join(path, key)
            spec = fields.get(key)
            if spec is None:
                close = difflib.get_close_matches(key, list(fields), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else f"; allowed: {', '.join(fields)}"
                self.fail(key_node, field_path, f"unknown key{hint}")
            value = self.value(value_node, hints[key], field_path)
            self._check(value_node, field_path, spec, value)
            values[key] = value
        for name in required:
            if name not in values:
                self.fail(node, _join(path, name), "required key is missing")
        if located:
            values["where"] = Where(self.file, node.start_mark.line + 1, path)
        return cls(**values)

    def _check(self, node: yaml.Node, path: str, spec: dataclasses.Field[Any], value: Any) -> None:
        meta = spec.metadata
        if meta.get("regex"):
            items = [value] if isinstance(value, str) else list(value)
            nodes = [node] if isinstance(value, str) else list(node.value)
            for index, (item, item_node) in enumerate(zip(items, nodes, strict=True)):
                self._check_regex(item_node, path if isinstance(value, str) else f"{path}[{index}]", item)
        if meta.get("date") == "day" and read_date(value, "%Y-%m-%d") is None:
            self.fail(node, path, f"{value!r} is not a date (YYYY-MM-DD)")
        elif meta.get("date") and all(read_date(value, form) is None for form in ("%Y-%m-%d", "%Y-%m", "%Y")):
            self.fail(node, path, f"{value!r} is not a date (YYYY-MM-DD, YYYY-MM or YYYY)")
        pattern = meta.get("pattern")
        if pattern and isinstance(value, str) and not re.fullmatch(pattern, value):
            self.fail(node, path, f"{value!r} does not match the required form {pattern}")
        minimum = meta.get("min_items")
        if minimum and isinstance(value, tuple) and len(value) < minimum:
            self.fail(node, path, f"needs at least {minimum} item(s)")

    def _check_regex(self, node: yaml.Node, path: str, value: str) -> None:
        try:
            compiled = re.compile(value)
        except (re.error, OverflowError, RecursionError, ValueError) as error:
            self.fail(node, path, f"invalid regular expression {value[:80]!r}: {error}")
        if compiled.search(""):
            self.fail(
                node, path, f"regular expression {value[:80]!r} matches an empty name, so it would match anything"
            )


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
