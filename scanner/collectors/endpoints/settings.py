"""Recognising AI endpoint settings in name/value pairs, wherever they come from.

Environment variables, ``.env`` lines, ``Environment=`` lines and configuration keys are all
``(name, value)`` pairs. A pair is kept when its value is a URL or host on a watched host, its name
is a watched variable, or its name says it configures an AI client (``*_BASE_URL``, ``*_API_BASE``,
``*_API_HOST``, ``*_API_KEY``, ``*_MODEL``); everything else (``PATH``, ``PIP_INDEX_URL``) is not an
AI endpoint and is not inventoried. Secrets are fingerprinted here and never kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from scanner.collectors.endpoints.secrets import fingerprint
from scanner.collectors.interface import WatchList
from scanner.policy.hosts import url_host
from scanner.records import SecretRef

_URL = re.compile(r"^(?:https?|wss?)://[^\s\"'<>]+$", re.IGNORECASE)
_HOSTLIKE = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+(?::\d+)?$", re.I)
_AI_URL_NAME = re.compile(
    r"(?:^|_)(?:BASE_?URL|API_?BASE|API_?HOST|API_?URL|ENDPOINT)S?$|(?:^|[a-z])(?:BaseUrl|BaseURL|ApiBase|apiBase|baseURL)$|^(?:base_url|api_base|apibase|baseurl|api-base|openai-api-base)$",
    re.IGNORECASE,
)
_SECRET_NAME = re.compile(
    r"(?:API_?KEY|AUTH_?TOKEN|ACCESS_?TOKEN|SECRET_?KEY|_SK$|_AK$|apiKey$|api_key$|api-key$)", re.IGNORECASE
)
_MODEL_NAME = re.compile(
    r"(?:^|_)MODEL(?:_ID|_NAME)?$|(?:^|_)DEFAULT_\w*MODEL$|^(?:model|default_model|modelId|model_id)$|ModelId$",
    re.IGNORECASE,
)
_PROVIDER_NAME = re.compile(r"(?:^|_)provider$|Provider$|^model_provider$|^type$", re.IGNORECASE)


@dataclass(frozen=True)
class Setting:
    name: str
    url: str | None = None
    host: str | None = None
    model: str | None = None
    provider: str | None = None
    secret: SecretRef | None = None


def classify(name: str, raw: str, watch: WatchList, *, provider_keys: bool = False) -> Setting | None:
    """One pair as an endpoint setting, or ``None`` when it configures nothing AI-related we know of.

    ``provider_keys``: in tool configurations a ``provider``/``type`` field names the provider.
    """
    value = raw.strip().strip("\"'")
    if not value or len(value) > 4096:
        return None
    upper = name.upper()
    if _URL.match(value):
        host = url_host(value)
        if host and (watch.host_is_watched(host) or _AI_URL_NAME.search(name) or upper in watch.variables):
            return Setting(name, url=value, host=host)
        return None
    if _AI_URL_NAME.search(name) and _HOSTLIKE.match(value):
        return Setting(name, host=value.rsplit(":", 1)[0].lower())
    if _SECRET_NAME.search(name) or (upper in watch.variables and len(value) >= 16):
        return Setting(name, secret=fingerprint(value)) if len(value) >= 8 else None
    if _MODEL_NAME.search(name) and len(value) <= 200:
        return Setting(name, model=value)
    if provider_keys and _PROVIDER_NAME.search(name) and len(value) <= 64:
        return Setting(name, provider=value)
    if upper in watch.variables:
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
