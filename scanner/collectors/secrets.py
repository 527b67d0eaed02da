"""Credentials are fingerprinted the moment they are read, and never kept.

The fingerprint is an HMAC-SHA256 of the secret with a random salt kept for this installation (in the
local store), so the same key gives the same fingerprint from scan to scan — enough to say "the same
DeepSeek key is in three places" — while a report or a stolen store reveals nothing that can be checked
against a guessed key without the salt. The salt comes in with the scan's options: a scan without a
store gets a fresh one, comparable within that scan only, and nothing is written anywhere.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from itertools import pairwise

from scanner.records import SecretRef

SALT_BYTES = 32


def new_salt() -> bytes:
    return os.urandom(SALT_BYTES)  # what secrets.token_bytes returns, without importing secrets (start-up)


def fingerprint(secret: str, salt: bytes) -> SecretRef:
    digest = hmac.new(salt, secret.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
    return SecretRef(
        fingerprint=f"hmac-sha256:{digest[:16]}", last4=secret[-4:] if len(secret) >= 12 else "", length=len(secret)
    )


_PREFIXED = re.compile(
    r"(?<![A-Za-z0-9])(?:"
    r"(?P<prefix>sk-|hf_|gh[pousr]_|github_pat_|glpat-|xai-|gsk_|pplx-|nvapi-|r8_|xox[abprs]-|AIza)[A-Za-z0-9_-]{16,}"
    r"|(?P<aws>AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])"
    r")"
)
"""Known key prefixes (OpenAI and DeepSeek ``sk-``, Anthropic ``sk-ant-``, Hugging Face ``hf_``, GitHub
``ghp_``, AWS ``AKIA``, xAI ``xai-``, Groq ``gsk_``...) followed by 16 or more key characters."""
_TOKEN = re.compile(r"(?<![A-Za-z0-9_+-])[A-Za-z0-9_+-]{32,}")
"""A run of 32 or more key characters: masked when it also looks random (``_looks_random``)."""
_LONGEST = 256
"""Longer runs are data, not a key (a key with a known prefix is masked at any length)."""
_SHORTEST = 19
"""No match is shorter (``sk-`` and 16 characters): shorter strings need no search."""


def _looks_random(token: str) -> bool:
    """Upper case, lower case and digits, alternating often, few separators: a random key, not a name.

    Digests and ids (hex, one case), names (``DeepSeek-R1-Distill-Llama-70B-GGUF``: words and dashes)
    and identifiers (``thisIsAVeryLongMethodName2024``: runs of letters) are left alone; in a random
    base-62 token about six in ten neighbours differ in class.
    """
    if len(token) > _LONGEST:
        return False
    classes = ["u" if c.isupper() else "l" if c.islower() else "d" if c.isdigit() else "s" for c in token]
    if min(classes.count("u"), classes.count("l"), classes.count("d")) < 2 or classes.count("s") * 16 > len(token):
        return False
    changes = sum(a != b for a, b in pairwise(classes))
    return changes >= 0.4 * len(token)


def _masked_prefixed(match: re.Match[str]) -> str:
    return f"{match.group('prefix') or match.group('aws')}…{match.group()[-4:]}"


def _masked_token(match: re.Match[str]) -> str:
    token = match.group()
    return f"…{token[-4:]}" if _looks_random(token) else token


def mask_secrets(text: str) -> str:
    """``text`` with every value that looks like a credential masked to its prefix and last four
    characters (``sk-…fXYZ``), wherever it sits: a URL's path, a host label, a model name, a key's name.

    Keys are fingerprinted where a collector expects them; this catches the ones written where nobody
    expects a key, so it looks at what a value is, not at what field it is in.
    """
    if len(text) < _SHORTEST:
        return text
    return _TOKEN.sub(_masked_token, _PREFIXED.sub(_masked_prefixed, text))
