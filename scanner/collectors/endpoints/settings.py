"""Recognising AI endpoint settings in name/value pairs, wherever they come from.

Environment variables, ``.env`` lines, ``Environment=`` lines and configuration keys are all
``(name, value)`` pairs. A pair is kept when its value is a URL on one of the policy's API hosts,
its name says it configures an AI client (``*_BASE_URL``, ``*_API_BASE``, ``*_API_HOST``,
``*_API_KEY``, ``*_MODEL``, ``*_PROVIDER``) or a proxy, or its name is a watched variable; a link
to a provider's web site under any other key (``STATUS_PAGE_URL``, Continue's ``docs[].startUrl``)
is a mention, and everything else (``PATH``, ``PIP_INDEX_URL``) is not an AI endpoint.

Secrets are fingerprinted here and never kept — including the ones people put inside URLs
(``https://user:key@host``, ``?api_key=...``): URLs are stored without user info, and with the
values of their query parameters replaced by ``…``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from scanner.collectors.interface import WatchList
from scanner.patterns import LazyPattern
from scanner.records import SecretRef
from scanner.urls import split_userinfo, url_host

_URL = LazyPattern(r"^(?:https?|wss?)://[^\s\"'<>]+$", re.IGNORECASE)
_HOSTLIKE = LazyPattern(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+\.?(?::\d+)?$", re.I)
_AI_URL_NAME = LazyPattern(
    r"(?:^|_)(?:BASE_?URL|API_?BASE|API_?HOST|API_?URL|ENDPOINT)S?$|(?:^|[a-z])(?:BaseUrl|BaseURL|ApiBase|apiBase|baseURL)s?$|^(?:base_url|api_base|apibase|baseurl|api-base|openai-api-base)s?$",
    re.IGNORECASE,
)
_PROXY_NAME = LazyPattern(r"(?:^|[_.-])proxy$", re.IGNORECASE)
_SECRET_NAME = LazyPattern(
    r"(?:API_?KEY|AUTH_?TOKEN|ACCESS_?TOKEN|SECRET_?KEY|_SK$|_AK$|apiKey$|api_key$|api-key$)", re.IGNORECASE
)
_MODEL_NAME = LazyPattern(
    r"(?:^|_)MODEL(?:_ID|_NAME)?$|(?:^|_)DEFAULT_\w*MODEL$|^(?:model|default_model|small_model|modelId|model_id)$"
    r"|ModelId$|(?:^|_)model_provider_id$|^ANTHROPIC_SMALL_FAST_MODEL$",
    re.IGNORECASE,
)
_PROVIDER_NAME = LazyPattern(r"(?:^|_)provider$|Provider$|^model_provider$", re.IGNORECASE)
_TOOL_PROVIDER_NAME = LazyPattern(r"^type$")
"""In a tool's own settings (Kimi CLI ``[providers.x] type = "kimi"``), ``type`` names the provider too."""
_REFERENCE = LazyPattern(r"^(?:\$\{?\{?\s*[\w.]+|\{env:\w+\}|os\.environ/\w+|env:\w+|%\w+%)")
"""A value that names where a secret is (``${{ secrets.X }}``, ``{env:X}``, ``os.environ/X``), not a secret."""
_SECRET_PARAM = LazyPattern(r"key|token|secret|password|sig|auth", re.IGNORECASE)


@dataclass(frozen=True)
class Setting:
    name: str
    url: str | None = None
    host: str | None = None
    model: str | None = None
    provider: str | None = None
    secret: SecretRef | None = None
    watched: bool = False
    """The name is one of the policy's provider variables (``DEEPSEEK_API_KEY``)."""


def safe_url(url: str, watch: WatchList) -> tuple[str, SecretRef | None]:
    """The URL without user info, query or fragment (``?…`` says there was a query), and a fingerprint
    of any secret it held. Query names are dropped too: ``?sk-abc…`` is a key written as a name."""
    bare, userinfo = split_userinfo(url)
    password = userinfo.partition(":")[2] if userinfo else ""
    try:
        parts = urlsplit(bare)
        host = parts.hostname
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return bare.split("?", 1)[0].split("#", 1)[0], watch.fingerprint(password) if password else None
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    named = (v for k, v in pairs if _SECRET_PARAM.search(k) and v)
    bare_names = (k for k, v in pairs if not v and len(k) >= 12)  # a key on its own, no name
    secret = password or next(named, None) or next(bare_names, None) or (userinfo if userinfo else None)
    if not userinfo and not parts.query and not parts.fragment:
        return url, None
    netloc = (f"[{host}]" if host and ":" in host else host or "") + port
    cleaned = urlunsplit((parts.scheme, netloc, parts.path, "…" if parts.query else "", ""))
    return cleaned, watch.fingerprint(secret) if secret else None


def is_reference(value: str) -> bool:
    return bool(_REFERENCE.match(value))


def classify(name: str, raw: str, watch: WatchList, *, provider_keys: bool = False) -> Setting | None:
    """One pair as an endpoint setting, or ``None`` when it configures nothing AI-related we know of.

    ``provider_keys``: in a tool's own settings a ``type`` field names the provider as well.
    """
    setting = _classify(name, raw, watch, provider_keys)
    if setting is not None and name.upper() in watch.variables:
        return replace(setting, watched=True)
    return setting


def _classify(name: str, raw: str, watch: WatchList, provider_keys: bool) -> Setting | None:
    value = raw.strip().strip("\"'")
    if not value or len(value) > 4096:
        return None
    upper = name.upper()
    watched_variable = upper in watch.variables
    if _URL.match(value):
        host = url_host(value)
        if not host:
            return None
        ai_name = bool(_AI_URL_NAME.search(name)) or watched_variable
        proxy = bool(_PROXY_NAME.search(name)) and watch.host_is_watched(host)
        if ai_name or proxy or watch.host_is_api(host):
            url, secret = safe_url(value, watch)
            return Setting(name, url=url, host=host, secret=secret)
        return None
    if _AI_URL_NAME.search(name) and _HOSTLIKE.match(value):
        return Setting(name, host=value.rsplit(":", 1)[0].rstrip(".").lower())
    if _SECRET_NAME.search(name) or (watched_variable and len(value) >= 16 and not re.search(r"[/\\\s]", value)):
        if len(value) < 8 or is_reference(value):
            return Setting(name) if watched_variable else None
        return Setting(name, secret=watch.fingerprint(value))
    if _MODEL_NAME.search(name) and len(value) <= 200:
        return Setting(name, model=value)
    provider_name = _PROVIDER_NAME.search(name) or (provider_keys and _TOOL_PROVIDER_NAME.match(name))
    if provider_name and len(value) <= 64:
        return Setting(name, provider=value)
    if watched_variable:
        return Setting(name)  # a provider's own variable, whatever its value says
    return None


def classify_all(name: str, raw: str, watch: WatchList, *, provider_keys: bool = False) -> list[Setting]:
    """Like ``classify``, but a value listing several URLs (Open WebUI's
    ``OPENAI_API_BASE_URLS="https://a/v1;https://b/v1"``) gives one setting per URL."""
    parts = [p.strip() for p in re.split(r"[;,]", raw.strip().strip("\"'"))] if (";" in raw or "," in raw) else []
    if len(parts) > 1 and all(_URL.match(p) for p in parts if p):
        return [s for p in parts if p and (s := classify(name, p, watch, provider_keys=provider_keys))]
    setting = classify(name, raw, watch, provider_keys=provider_keys)
    return [setting] if setting else []
