"""Python core metadata (``METADATA``/``PKG-INFO``) read as the e-mail-style headers it is.

The header block is parsed; of the long description after it only the API hosts its examples call are
kept (``https://api.moonshot.ai/v1``), from a bounded read; nothing in the package is imported or executed. The few lines of header
parsing are our own: the standard ``email`` parser was half the cost of a package-heavy scan.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from scanner.patterns import LazyPattern

_UNKNOWN = {"", "unknown", "none"}
_END_OF_HEADERS = LazyPattern(r"\r?\n[ \t]*\r?\n")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL_DOMAIN = LazyPattern(rf"@({_LABEL}(?:\.{_LABEL})+)")


@dataclass(frozen=True)
class CoreMetadata:
    name: str | None
    version: str | None
    summary: str | None
    home_page: str | None
    project_urls: tuple[tuple[str, str], ...]
    author_email_domains: tuple[str, ...]
    metadata_version: str | None
    requires: tuple[str, ...] = ()
    """The distributions it needs (``Requires-Dist``), names only; an optional one (``; extra == "x"``)
    is not needed, so it is left out."""
    described_api_hosts: tuple[str, ...] = ()
    """Hosts of the API URLs (``https://api.…``) its long description calls, in order, at most 20."""


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = " ".join(str(value).split())
    return None if value.lower() in _UNKNOWN else value


def _email_domains(values: list[str]) -> tuple[str, ...]:
    found = (m.group(1).lower() for value in values for m in _EMAIL_DOMAIN.finditer(value))
    return tuple(dict.fromkeys(found))


_WANTED = frozenset(
    {"metadata-version", "name", "version", "summary", "home-page", "project-url"}
    | {"author", "author-email", "maintainer", "maintainer-email", "requires-dist"}
)


def parse_headers(text: str, wanted: frozenset[str] = _WANTED) -> dict[str, list[str]]:
    """``Key: value`` lines up to the first empty line, for the ``wanted`` keys (lower case).

    Folded lines are joined. Other keys are skipped, continuation lines included: old-style
    metadata folds the whole long description into a ``Description`` header.
    """
    end = _END_OF_HEADERS.search(text)
    pieces: dict[str, list[list[str]]] = {}
    current: list[str] | None = None
    for line in (text[: end.start()] if end else text).splitlines():
        if line[:1] in (" ", "\t"):
            if current is not None:
                current.append(line.strip())  # joined once below: += here was quadratic
            continue
        key, colon, value = line.partition(":")
        key = key.strip().lower()
        if not colon or key not in wanted:
            current = None
            continue
        current = [value.strip()]
        pieces.setdefault(key, []).append(current)
    return {key: [" ".join(p for p in parts if p) for parts in values] for key, values in pieces.items()}


_API_URL = LazyPattern(r"https?://(api\.[a-z0-9-]+(?:\.[a-z0-9-]+)+)", re.IGNORECASE)
_API_HOSTS_KEPT = 20


def _api_hosts(text: str) -> tuple[str, ...]:
    end = _END_OF_HEADERS.search(text)
    body = text[end.end() :] if end else ""
    if "://api." not in body:  # most descriptions call no API: one C-speed search
        return ()
    return tuple(dict.fromkeys(m.group(1).lower() for m in _API_URL.finditer(body)))[:_API_HOSTS_KEPT]


_OPTIONAL = LazyPattern(r";.*\bextra\s*==")
"""A requirement of an optional extra (``langchain-deepseek; extra == "deepseek"``)."""
_REQUIREMENT = LazyPattern(r"[A-Za-z0-9][A-Za-z0-9._-]*")
"""The name at the start of a requirement (``langchain-deepseek>=1.0; extra == 'ai'``)."""


def parse_core_metadata(text: str) -> CoreMetadata:
    """Parse the header block of a ``METADATA`` or ``PKG-INFO`` file."""
    headers = parse_headers(text)

    def all_of(key: str) -> list[str]:
        return headers.get(key.lower(), [])

    def first(key: str) -> str | None:
        found = headers.get(key.lower())
        return found[0] if found else None

    urls: list[tuple[str, str]] = []
    for value in all_of("Project-URL"):
        label, comma, url = value.partition(",")
        if comma and url.strip():
            urls.append((label.strip(), url.strip()))
    emails = all_of("Author-email") + all_of("Maintainer-email")
    emails += [a for a in all_of("Author") + all_of("Maintainer") if "@" in a]
    return CoreMetadata(
        name=_clean(first("Name")),
        version=_clean(first("Version")),
        summary=_clean(first("Summary")),
        home_page=_clean(first("Home-page")),
        project_urls=tuple(urls),
        author_email_domains=_email_domains(emails),
        metadata_version=_clean(first("Metadata-Version")),
        requires=tuple(
            dict.fromkeys(
                m.group(0)
                for r in all_of("Requires-Dist")[:500]
                if not _OPTIONAL.search(r) and (m := _REQUIREMENT.match(r.strip()))
            )
        ),
        described_api_hosts=_api_hosts(text),
    )


def split_dist_dir_name(dir_name: str) -> tuple[str, str | None]:
    """``langchain_deepseek-1.1.1.dist-info`` -> (``langchain_deepseek``, ``1.1.1``).

    The folder name is the fallback identity when the metadata file is missing or unreadable.
    """
    stem = dir_name.rsplit(".", 1)[0]
    name, dash, rest = stem.partition("-")
    if not dash:
        return name, None
    version = rest.split("-", 1)[0]  # egg-info names may carry "-py3.11" after the version
    return name, version or None
