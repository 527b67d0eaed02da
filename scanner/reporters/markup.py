"""Escaping, and the small building blocks, of the pages people read (HTML and Markdown).

Every value on those pages came from a scanned machine, so a folder named ``<script>`` or
``[x](http://evil)`` must print as text. The single-machine summary and the fleet summary build
their pages from the same blocks (the page shell with its Content-Security-Policy, the verdict
banner, numbered sections, lineage chains, Markdown tables), so the two look and escape alike.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from collections.abc import Iterable, Sequence

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


# ---------------------------------------------------------------------------------------------
# HTML


def html_page(title: str, css: str, main: str) -> str:
    """A whole page that needs nothing else: ``title`` is plain text, ``main`` is markup already escaped."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{content_security_policy(css)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape_html(title)}</title>"
        f"<style>{css}</style></head>\n<body><main>{main}</main></body></html>\n"
    )


def tag(name: str, body: str, cls: str = "") -> str:
    return f'<{name} class="{cls}">{body}</{name}>' if cls else f"<{name}>{body}</{name}>"


def rich(text: str) -> str:
    """Escaped text whose `quoted` parts (names, the way the engine writes them) become <code>."""
    parts = text.split("`")
    if len(parts) % 2 == 0:  # an unbalanced backtick: show the text as it is
        return escape_html(text)
    return "".join(f"<code>{escape_html(p)}</code>" if i % 2 else escape_html(p) for i, p in enumerate(parts))


def section(number: int, title: str, body: str, cls: str = "") -> str:
    return tag("section", f'<h2><span class="num">{number}</span>{escape_html(title)}</h2>{body}', cls)


def signature_block(boxes: Sequence[str], intro: str = "") -> str:
    """Lines for a reviewer to fill in by hand on the printed page (name and role, date, signature)."""
    lines = "".join(f"<div><span>{escape_html(box)}</span></div>" for box in boxes)
    return tag("div", (tag("p", escape_html(intro)) if intro else "") + tag("div", lines, "lines"), "sign")


def chain_link(link: str) -> str:
    """One link of a lineage chain: what it is, with its (where from) in small print."""
    head, bracket, detail = link.partition(" (")
    return rich(head) + (" " + tag("small", rich(bracket.strip() + detail)) if bracket else "")


_ICONS = {
    "ok": '<path d="M14 25l7 7 13-15"/>',
    "bad": '<path d="M16 16l16 16M32 16L16 32"/>',
    "partial": '<path d="M24 12v14M24 34v1"/>',
}


def verdict_banner(look: str, kicker: str, word: str, text: str, tally: str) -> str:
    """The banner a page opens with: its ``look`` (``ok``, ``bad`` or ``partial``: a class of the
    stylesheet and an icon), a kicker line, the verdict word, the sentences that say what it means,
    and the tally (``kicker``, ``text`` and ``tally`` are markup)."""
    icon = (
        '<svg class="icon" viewBox="0 0 48 48" width="64" height="64" aria-hidden="true">'
        f'<circle cx="24" cy="24" r="23"/>{_ICONS[look]}</svg>'
    )
    return (
        f'<header class="verdict {look}"><div class="top">{icon}<div>'
        f'<p class="kicker">{kicker}</p><h1>{escape_html(word)}</h1>{text}</div></div>'
        f'<div class="tally">{tally}</div></header>'
    )


def legend_item(colour: str, label: str) -> str:
    """One entry of a chart's legend: a square of the colour, then its label."""
    return (
        f'<span><svg width="10" height="10" aria-hidden="true"><rect width="10" height="10" fill="{colour}"/></svg> '
        f"{escape_html(label)}</span>"
    )


def short_label(label: str, most: int = 16) -> str:
    """A chart's row label cut to fit its column; the chart's description keeps it whole."""
    return label if len(label) <= most else label[: most - 1] + "…"


# ---------------------------------------------------------------------------------------------
# Markdown


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    """A table's lines, every cell escaped, and a blank line after it."""
    lines = ["| " + " | ".join(escape_markdown(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    return [*lines, *("| " + " | ".join(escape_markdown(c) for c in row) + " |" for row in rows), ""]


def markdown_bar(n: int, most: int, width: int = 12) -> str:
    """A bar of block characters, ``width`` long for ``most``: the Markdown pages' charts."""
    return "█" * round(width * n / most) if most else ""
