"""Escaping for the pages people read (HTML and Markdown): every value there came from a scanned
machine, so a folder named ``<script>`` or ``[x](http://evil)`` must print as text."""

from __future__ import annotations

import base64
import hashlib
import html
import re

from scanner.reporters.terminal import terminal_safe

_MD_SPECIAL = re.compile(r"[\\`*_{}\[\]<>#!|~@&$]|:(?=/)|(?i:(?<=www))\.")


def escape_html(value: object) -> str:
    """Text for HTML, control characters shown as ``\\xNN`` like every other report does."""
    return html.escape(terminal_safe(str(value)), quote=True)


def breakable(text: str) -> str:
    """Escaped text that may wrap after a slash: a long path must not widen its table off the page."""
    return escape_html(text).replace("/", "/<wbr>")


def escape_markdown(value: object) -> str:
    """Text for Markdown that stays text: no HTML, no links (not even GitHub's bare-URL autolinks,
    which need an unescaped ``:``, ``@`` or ``www.``), no emphasis, no table cell breaks."""
    text = _MD_SPECIAL.sub(lambda m: "\\" + m.group(), terminal_safe(str(value)))
    text = re.sub(r"^(\d+)([.)])", r"\1\\\2", text)  # "1." or "1)" would start a list
    return "\\" + text if text[:1] in ("-", "+", "=") else text


def content_security_policy(css: str) -> str:
    """Nothing may load or run; only the page's own stylesheet, pinned by its hash."""
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    return f"default-src 'none'; base-uri 'none'; form-action 'none'; style-src 'sha256-{digest}'"
