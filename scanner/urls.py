"""Host matching as hosts: parse the URL, compare the host or a dot-bounded suffix.

``deepseek.com`` matches ``deepseek.com`` and ``chat.deepseek.com`` but not
``deepseek.com.example.org`` nor ``notdeepseek.com``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Generic, TypeVar
from urllib.parse import urlsplit

V = TypeVar("V")


def split_userinfo(url: str) -> tuple[str, str | None]:
    """``(url without user info, user info)``, also when a password holds ``/``, ``?`` or ``#``.

    ``https://bob:ab/cd@api.deepseek.com/v1`` is, to ``urlsplit``, host ``bob`` on port ``ab``; the
    ``@`` shows it is ``bob``'s password ``ab/cd`` on ``api.deepseek.com``. A credential must never
    survive into a report, so an ``@`` after ``user:`` is read as the end of user info wherever it is.
    """
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url, None
    before, _, after = rest.rpartition("@")
    authority_end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    if rest.find("@") < authority_end or ":" in before.split("/", 1)[0]:
        return f"{scheme}://{after}", before
    return url, None


def url_host(url: str) -> str | None:
    """Lower-case host of a URL, or ``None`` when it has none or cannot be parsed."""
    try:
        host = urlsplit(split_userinfo(url.strip())[0]).hostname
    except ValueError:
        return None
    return host.rstrip(".").lower() if host else None


def host_suffixes(host: str) -> Iterable[str]:
    """``a.b.c`` -> ``a.b.c``, ``b.c``, ``c``."""
    labels = host.rstrip(".").lower().split(".")
    for start in range(len(labels)):
        yield ".".join(labels[start:])


class HostIndex(Generic[V]):
    """Values registered under host suffixes, looked up by any host below them."""

    def __init__(self) -> None:
        self._by_suffix: dict[str, list[V]] = {}

    def add(self, suffix: str, value: V) -> None:
        self._by_suffix.setdefault(suffix.rstrip(".").lower(), []).append(value)

    def lookup(self, host: str) -> list[tuple[str, V]]:
        """Every ``(matched suffix, value)`` for this host, most specific suffix first."""
        return [(s, v) for s in host_suffixes(host) for v in self._by_suffix.get(s, [])]
