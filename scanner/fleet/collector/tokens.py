"""Per-host tokens: random, shown once, stored only as a hash.

A token is 32 random bytes (``secrets``), so a plain SHA-256 is enough to store it: there is nothing
to brute-force the way a password would be. The ``sct_`` prefix lets secret scanners recognise one.
"""

from __future__ import annotations

import hashlib
import secrets

PREFIX = "sct_"


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.strip().encode("utf-8", "surrogateescape")).hexdigest()
