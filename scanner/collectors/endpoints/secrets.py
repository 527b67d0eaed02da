"""Credentials are fingerprinted the moment they are read, and never kept.

The fingerprint is an HMAC-SHA256 of the secret with a random salt kept for this installation (in the
cache folder, mode 0600), so the same key gives the same fingerprint from scan to scan — enough to
say "the same DeepSeek key is in three places" — while a report or a stolen store reveals nothing
that can be checked against a guessed key without the salt.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from functools import cache

from scanner.lineage.hub import default_cache_dir
from scanner.records import SecretRef


@cache
def _salt() -> bytes:
    path = default_cache_dir() / "secret-salt"
    try:
        return bytes.fromhex(path.read_text().strip())
    except (OSError, ValueError):
        pass
    salt = secrets.token_bytes(32)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(salt.hex())
    except OSError:
        pass  # a read-only machine: fingerprints are then comparable within this scan only
    return salt


def fingerprint(secret: str) -> SecretRef:
    digest = hmac.new(_salt(), secret.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
    return SecretRef(
        fingerprint=f"hmac-sha256:{digest[:16]}", last4=secret[-4:] if len(secret) >= 12 else "", length=len(secret)
    )
