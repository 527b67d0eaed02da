"""Property lists, macOS's settings format, read without trusting their size.

A binary plist (``bplist00``) is where macOS apps keep their preferences and where many launchd jobs are
written; the text scan cannot read it as it is, so it is decoded here and handed on as the XML plist it
is equivalent to. A binary plist may reference one object from many places (a small file that expands
exponentially): the decoded tree is counted before anything is built from it, and refused past a budget
of objects and of the bytes its strings and data hold (one 1 MiB blob referenced 3,000 times was 4 GB of
XML and 8 GB of memory). Nesting deeper than Python's decoder and encoder can follow is refused as too
large, not as damaged: the system may read it, so it is a gap.
"""

from __future__ import annotations

from typing import Any

BINARY_MAGIC = b"bplist00"
NODE_BUDGET = 100_000
"""Objects a plist may hold when expanded; real preferences and launchd jobs hold a few hundred."""
BYTE_BUDGET = 8 << 20
"""Characters and bytes its strings, keys and data may hold when expanded: twice the largest file decoded
(``text.CODE_CAP``), so only a file that references the same value many times is refused."""


class PlistRefused(ValueError):
    """Not a property list: the system could not read it either, so it configures nothing."""


class PlistTooLarge(PlistRefused):
    """A property list that expands past ``NODE_BUDGET`` or ``BYTE_BUDGET``, or nests deeper than Python can
    follow: the system may read it, so it is a gap."""


def load(data: bytes) -> Any:
    """The plist's root object (binary or XML). Raises ``PlistRefused`` (``PlistTooLarge``)."""
    import plistlib  # with its XML parser, 4 ms of start-up: here, for the files that are plists
    from xml.parsers.expat import ExpatError

    try:
        root = plistlib.loads(data)
    except RecursionError as error:
        raise PlistTooLarge("a property list nested too deeply to decode") from error
    except (plistlib.InvalidFileException, ValueError, ExpatError, OverflowError, KeyError) as e:
        raise PlistRefused(f"not a property list ({type(e).__name__})") from e
    _count(root)
    return root


def as_xml(data: bytes) -> str:
    """A binary plist as XML text. Raises ``PlistRefused`` (``PlistTooLarge``)."""
    import plistlib

    root = load(data)
    try:
        return plistlib.dumps(root, fmt=plistlib.FMT_XML, sort_keys=False).decode("utf-8", "replace")
    except RecursionError as error:  # the writer recurses once or twice per level, the reader less
        raise PlistTooLarge("a property list nested too deeply to write as XML") from error
    except (TypeError, OverflowError) as error:  # a key that is not a string, an integer XML cannot hold
        raise PlistRefused(f"cannot be written as XML ({type(error).__name__})") from error


def _count(root: Any) -> None:
    """Walk the expanded tree without recursion, stopping at ``NODE_BUDGET`` objects or ``BYTE_BUDGET``
    bytes of strings and data."""
    seen = 0
    size = 0
    stack = [root]
    while stack:
        node = stack.pop()
        seen += 1
        if seen > NODE_BUDGET:
            raise PlistTooLarge(f"a property list that expands to more than {NODE_BUDGET} objects")
        if isinstance(node, str | bytes | bytearray):
            size += len(node)
        elif isinstance(node, dict):
            size += sum(len(key) for key in node if isinstance(key, str))
            stack.extend(node.values())
        elif isinstance(node, list | tuple):
            stack.extend(node)
        if size > BYTE_BUDGET:
            raise PlistTooLarge(f"a property list that expands to more than {BYTE_BUDGET >> 20} MiB of text and data")
