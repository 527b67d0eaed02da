"""The one error every header parser raises for a header it will not read."""

from __future__ import annotations


class FormatError(Exception):
    """A file whose header is malformed, hostile or beyond our caps; the message says why, in plain words."""
