"""YAML from files any user can plant: the safe loader only, in C where PyYAML has it, bounded in nodes.

PyYAML's pure-Python loader costs about 9 s of CPU for a 1 MB flow list (``[a,a,a,...]``), and even the
C loader about 3 s, because every node becomes a Python object. So the events are counted first, in
C and without building anything, and a document with more nodes than a settings file or a model card
front matter ever needs is refused before it is built: the work per file is bounded by ``max_nodes``,
not by what the file holds. Aliases are counted as nodes of their own; what they point to is built
once and shared, so they cannot expand — except through merge keys (``<<: [*a, *a, ...]``), which copy
the pairs of what they name: those copies are counted against the same budget. PyYAML itself is
imported by the first YAML file read (10 ms of every run's start-up otherwise).
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import yaml

MAX_NODES = 20_000
"""A tool's settings or a card's front matter has a few hundred nodes; LiteLLM configs with hundreds of
models a few thousand. Building 20,000 costs about a tenth of a second."""
_MERGE, _VALUE = "tag:yaml.org,2002:merge", "tag:yaml.org,2002:value"


class TooManyNodes(ValueError):
    """The document has more nodes than we build; what it says was not read."""


class NotYaml(ValueError):
    """The text is not YAML (PyYAML's error, with its message)."""


def load_yaml(text: str, max_nodes: int = MAX_NODES) -> Any:
    """The first document of ``text`` with the safe loader; ``TooManyNodes`` past ``max_nodes`` nodes.

    Raises ``NotYaml`` for text that is not YAML (and ``RecursionError`` on some deep nesting).
    """
    import yaml

    loader_class, bounded_class, node_events = _loaders()
    try:
        counter = loader_class(text)
        try:
            nodes = 0
            while counter.check_event():
                if isinstance(counter.get_event(), node_events):  # type: ignore[no-untyped-call]
                    nodes += 1
                    if nodes > max_nodes:
                        raise TooManyNodes(f"more than {max_nodes} YAML nodes")
        finally:
            counter.dispose()
        loader = bounded_class(text, max_nodes)
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.YAMLError as error:
        raise NotYaml(str(error)) from error


@cache
def _loaders() -> tuple[type[yaml.SafeLoader], Any, tuple[type[yaml.Event], ...]]:
    """libyaml's parser where PyYAML was built with it (about 5x faster), else the pure-Python one (both
    safe); the same with a node budget for merge keys; the events that are nodes."""
    import yaml

    loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class BoundedLoader(loader):  # type: ignore[misc,valid-type]  # the loader is chosen at run time
        """The safe loader, whose merge keys spend the node budget for every pair they copy."""

        def __init__(self, text: str, max_nodes: int) -> None:
            super().__init__(text)
            self._budget = max_nodes

        def flatten_mapping(self, node: yaml.MappingNode) -> None:
            """As PyYAML's (later sources first, a key merged once), counting the pairs each merge copies."""
            merge: list[tuple[yaml.Node, yaml.Node]] = []
            seen: set[int] = set()
            index = 0
            while index < len(node.value):
                key_node, value_node = node.value[index]
                if key_node.tag == _VALUE:
                    key_node.tag = "tag:yaml.org,2002:str"
                if key_node.tag != _MERGE:
                    index += 1
                    continue
                del node.value[index]
                sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                for source in sources:
                    if not isinstance(source, yaml.MappingNode):
                        raise yaml.constructor.ConstructorError(
                            "while constructing a mapping", node.start_mark, "expected a mapping for merging"
                        )
                    self.flatten_mapping(source)
                    self._budget -= len(source.value)
                    if self._budget < 0:
                        raise TooManyNodes("YAML merge keys copy too many nodes")
                    for pair in source.value:
                        if id(pair[0].value) not in seen:
                            seen.add(id(pair[0].value))
                            merge.append(pair)
            if merge:
                node.value = merge + node.value

    events = (yaml.ScalarEvent, yaml.SequenceStartEvent, yaml.MappingStartEvent, yaml.AliasEvent)
    return loader, BoundedLoader, events
