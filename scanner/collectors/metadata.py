"""Python core metadata (``METADATA``/``PKG-INFO``) read as the e-mail-style headers it is.

Only the headers are parsed (the long description after the blank line is ignored), from a
bounded read; nothing in the package is imported or executed.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.parser import HeaderParser
from email.utils import getaddresses

_UNKNOWN = {"", "unknown", "none"}


@dataclass(frozen=True)
class CoreMetadata:
    name: str | None
    version: str | None
    summary: str | None
    home_page: str | None
    project_urls: tuple[tuple[str, str], ...]
    author_email_domains: tuple[str, ...]
    metadata_version: str | None


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = " ".join(str(value).split())
    return None if value.lower() in _UNKNOWN else value


def _email_domains(values: list[str]) -> tuple[str, ...]:
    domains: list[str] = []
    for _, address in getaddresses(values):
        _, at, domain = address.rpartition("@")
        domain = domain.strip().strip(">").lower()
        if at and domain and domain not in domains:
            domains.append(domain)
    return tuple(domains)


def parse_core_metadata(text: str) -> CoreMetadata:
    """Parse the header block of a ``METADATA`` or ``PKG-INFO`` file."""
    headers = HeaderParser().parsestr(text, headersonly=True)

    def all_of(key: str) -> list[str]:
        return [str(v) for v in headers.get_all(key) or []]

    urls: list[tuple[str, str]] = []
    for value in all_of("Project-URL"):
        label, comma, url = value.partition(",")
        if comma and url.strip():
            urls.append((label.strip(), url.strip()))
    emails = all_of("Author-email") + all_of("Maintainer-email")
    emails += [a for a in all_of("Author") + all_of("Maintainer") if "@" in a]
    return CoreMetadata(
        name=_clean(headers.get("Name")),
        version=_clean(headers.get("Version")),
        summary=_clean(headers.get("Summary")),
        home_page=_clean(headers.get("Home-page")),
        project_urls=tuple(urls),
        author_email_domains=_email_domains(emails),
        metadata_version=_clean(headers.get("Metadata-Version")),
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
