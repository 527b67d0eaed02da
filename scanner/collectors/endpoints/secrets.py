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
import tempfile
from functools import cache
from pathlib import Path

from scanner.lineage.hub import default_cache_dir
from scanner.records import SecretRef

SALT_BYTES = 32


def _read_salt(path: Path) -> bytes | None:
    try:
        salt = bytes.fromhex(path.read_text().strip())
    except (OSError, ValueError):
        return None
    return salt if len(salt) == SALT_BYTES else None  # an empty or cut file is no salt


@cache
def _salt() -> bytes:
    path = default_cache_dir() / "secret-salt"
    known = _read_salt(path)
    if known is not None:
        return known
    salt = secrets.token_bytes(SALT_BYTES)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False) as handle:  # mode 0600
            handle.write(salt.hex())
        try:
            os.link(handle.name, path)  # appears whole or not at all; never replaces a salt in use
        except FileExistsError:
            if _read_salt(path) is None:  # an empty or broken salt file (a failed write): replace it
                os.replace(handle.name, path)
            return _read_salt(path) or salt
        finally:
            if os.path.exists(handle.name):
                os.unlink(handle.name)
    except OSError:
        pass  # a read-only machine: fingerprints are then comparable within this scan only
    return salt


def fingerprint(secret: str) -> SecretRef:
    digest = hmac.new(_salt(), secret.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
    return SecretRef(
        fingerprint=f"hmac-sha256:{digest[:16]}", last4=secret[-4:] if len(secret) >= 12 else "", length=len(secret)
    )
