"""Text from a scanned machine or an agent, made safe to show on one line.

A file name, a model's ``general.name`` or an agent's policy id can hold anything: ESC sequences that
clear the screen or write the clipboard (OSC 52), a carriage return or backspaces that overwrite the
verdict, a newline that forges a line of its own, a right-to-left override that shows ``exe.txt`` as
``txt.exe``. Every such character becomes a visible escape (``\\x1b``, ``\\u202e``), so what is shown
is what is there.
"""

from __future__ import annotations

import re
from functools import cache

CONTROL = frozenset((*range(0x00, 0x20), *range(0x7F, 0xA0)))
"""C0 (tab and newline too: a field is one line), DEL and C1: shown as ``\\xNN``."""
INVISIBLE = frozenset(
    (0x061C, 0x200B, 0x200E, 0x200F, 0x2028, 0x2029, *range(0x202A, 0x202F), *range(0x2066, 0x206A), 0xFEFF)
)
"""Text-direction controls, zero-width and byte-order marks, line and paragraph separators: ``\\uNNNN``."""

# The tables below are made for the first text that needs one: together with the JSON pattern they took
# 6 ms of every run's start-up, and most reports are ASCII.


@cache
def _surrogates() -> dict[int, str]:
    table = {c: f"\\u{c:04x}" for c in range(0xD800, 0xE000)}
    return table | {c: f"\\x{c - 0xDC00:02x}" for c in range(0xDC80, 0xDD00)}  # a file name's undecodable byte


@cache
def _escapes() -> dict[int, str]:
    return {c: f"\\x{c:02x}" for c in CONTROL} | {c: f"\\u{c:04x}" for c in INVISIBLE} | _surrogates()


@cache
def _json_escaping() -> tuple[dict[int, str], re.Pattern[str]]:
    """One pass at the regex engine's speed: ``str.translate`` with a table looks up every character of a
    multi-megabyte report (a quarter of a second on a whole machine's)."""
    table = {c: f"\\u{c:04x}" for c in (*CONTROL, *INVISIBLE, *range(0xD800, 0xE000)) if c >= 0x7F}
    return table, re.compile("[" + "".join(re.escape(chr(c)) for c in sorted(table)) + "]")


def encodable(text: str) -> str:
    """``text`` with only its lone surrogates escaped, so that it can be written as UTF-8 (JSON, the store):
    Python keeps a path's undecodable bytes as U+DC80-U+DCFF, shown as ``\\xNN``; everything else is kept."""
    return text if text.isascii() else text.translate(_surrogates())


def printable(text: str) -> str:
    """``text`` with every control, bidi, invisible-separator and lone-surrogate character escaped."""
    return text if text.isprintable() else text.translate(_escapes())


def json_printable(document: str) -> str:
    """A JSON text whose strings show those characters as JSON's own ``\\uNNNN`` escapes.

    ``json.dumps`` escapes C0 itself but leaves DEL, C1 and bidi controls raw (with ``ensure_ascii``
    off, which keeps names in other scripts readable). Outside strings JSON has none of them, so the
    whole text can be translated, and a parser reads back exactly the original characters.
    """
    if document.isascii() and "\x7f" not in document:  # DEL is the one such character in ASCII
        return document
    table, pattern = _json_escaping()
    return pattern.sub(lambda m: table[ord(m.group())], document)
