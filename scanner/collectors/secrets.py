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
import secrets

from scanner.records import SecretRef

SALT_BYTES = 32


def new_salt() -> bytes:
    return secrets.token_bytes(SALT_BYTES)


def fingerprint(secret: str, salt: bytes) -> SecretRef:
    digest = hmac.new(salt, secret.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
    return SecretRef(
        fingerprint=f"hmac-sha256:{digest[:16]}", last4=secret[-4:] if len(secret) >= 12 else "", length=len(secret)
    )
