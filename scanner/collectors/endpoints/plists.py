"""Property lists, macOS's settings format, read without trusting their size.

A binary plist (``bplist00``) is where macOS apps keep their preferences and where many launchd jobs are
written; the text scan cannot read it as it is, so it is decoded here and handed on as the XML plist it
is equivalent to. A binary plist may reference one object from many places (a small file that expands
exponentially): the decoded tree is counted before anything is built from it, and refused past a budget.
"""

from __future__ import annotations

import plistlib
from typing import Any
from xml.parsers.expat import ExpatError

BINARY_MAGIC = b"bplist00"
NODE_BUDGET = 100_000
"""Objects a plist may hold when expanded; real preferences and launchd jobs hold a few hundred."""


class PlistRefused(ValueError):
    """Not a property list: the system could not read it either, so it configures nothing."""


class PlistTooLarge(PlistRefused):
    """A property list that expands past ``NODE_BUDGET``: the system may read it, so it is a gap."""


def load(data: bytes) -> Any:
    """The plist's root object (binary or XML). Raises ``PlistRefused`` (``PlistTooLarge``)."""
    try:
        root = plistlib.loads(data)
    except (plistlib.InvalidFileException, ValueError, ExpatError, OverflowError, RecursionError, KeyError) as e:
        raise PlistRefused(f"not a property list ({type(e).__name__})") from e
    _count(root)
    return root


def as_xml(data: bytes) -> str:
    """A binary plist as XML text. Raises ``PlistRefused`` (``PlistTooLarge``)."""
    try:
        return plistlib.dumps(load(data), fmt=plistlib.FMT_XML, sort_keys=False).decode("utf-8", "replace")
    except (TypeError, OverflowError) as error:  # a key that is not a string, an integer XML cannot hold
        raise PlistRefused(f"cannot be written as XML ({type(error).__name__})") from error


def _count(root: Any) -> None:
    """Walk the expanded tree without recursion, stopping at ``NODE_BUDGET`` objects."""
    seen = 0
    stack = [root]
    while stack:
        node = stack.pop()
        seen += 1
        if seen > NODE_BUDGET:
            raise PlistTooLarge(f"a property list that expands to more than {NODE_BUDGET} objects")
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list | tuple):
            stack.extend(node)
