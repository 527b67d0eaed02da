"""The dashboard's secrets: passwords, session ids, CSRF tokens, read-only API tokens, sign-in limits.

Passwords are hashed with scrypt (``hashlib.scrypt``, the standard library's memory-hard function) with a
random salt per user; the parameters are stored with the hash, so that stronger ones can come later and
old hashes still verify. A session id and an API token are 32 random bytes: like the agents' tokens, they
are stored as their SHA-256 (``tokens.token_hash``). A form's CSRF token is derived from its session id
(an HMAC), so it needs no storage and dies with the session. Failed sign-ins are counted per user name and
per client address in the fleet database, so every collector sees the same counts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

API_TOKEN_PREFIX = "scr_"
"""A read-only API token: not an agent's ``sct_`` token, and secret scanners can recognise it."""
MIN_PASSWORD = 12
MAX_PASSWORD = 1024
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
"""32 MiB and about 0.1 s per hash here: OWASP's minimum for scrypt is N=2^17 at r=8 for 128 MiB; this is
a tenth of that memory, since the collector may hash several sign-ins at once on a small machine."""
_MAX_MEMORY = 1 << 30
"""A stored hash asking for more memory than this (scrypt takes 128·N·r bytes) is refused rather than computed."""
_DUMMY = f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${base64.b64encode(bytes(16)).decode()}${base64.b64encode(bytes(32)).decode()}"
"""Checked against when the user is unknown, so that a wrong name costs the same time as a wrong password."""


class PasswordError(ValueError):
    """A password that may not be set (too short, too long)."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    secret = password.encode("utf-8", "surrogateescape")
    return hashlib.scrypt(secret, salt=salt, n=n, r=r, p=p, maxmem=256 * r * n + (1 << 20), dklen=32)


def check_new_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise PasswordError(f"a password has at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise PasswordError(f"a password has at most {MAX_PASSWORD} characters")


def hash_password(password: str) -> str:
    """``scrypt$N$r$p$SALT$HASH`` (base64), with a new random salt."""
    check_new_password(password)
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str | None) -> bool:
    """Whether ``password`` is the one ``stored`` was made from (compared in constant time); ``None``: an
    unknown user, checked against a dummy hash all the same."""
    try:
        scheme, n, r, p, salt, digest = (stored or _DUMMY).split("$")
        cost = (int(n), int(r), int(p))
        if scheme != "scrypt" or cost[0] < 2 or cost[1] < 1 or not 0 < cost[2] <= 16:
            return False
        if 128 * cost[0] * cost[1] > _MAX_MEMORY:
            return False
        expected = base64.b64decode(digest, validate=True)
        computed = _scrypt(password[:MAX_PASSWORD], base64.b64decode(salt, validate=True), *cost)
    except ValueError:
        return False
    return hmac.compare_digest(computed, expected) and stored is not None


def new_secret() -> str:
    """A session id: 32 random bytes."""
    return secrets.token_urlsafe(32)


def new_api_token() -> str:
    return API_TOKEN_PREFIX + secrets.token_urlsafe(32)


def csrf_token(session_id: str) -> str:
    """The session's token for its forms: known to the page, not to another site."""
    return hmac.new(session_id.encode("ascii", "replace"), b"scanner dashboard form", hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class SignInLimit:
    """At most ``failures`` failed sign-ins under one key within ``window`` seconds; then none until the
    window, counted from the first failure, ends."""

    prefix: str
    failures: int
    window: float

    def key(self, value: str) -> str:
        return f"{self.prefix}:{value}"


PER_USER = SignInLimit("user", 5, 900.0)
"""Guessing one account's password: five tries a quarter of an hour."""
PER_ADDRESS = SignInLimit("address", 20, 900.0)
"""Trying many accounts from one address: twenty a quarter of an hour."""


def sign_in_wait(counted: dict[str, tuple[int, float]], keys: dict[SignInLimit, str], now: float) -> float:
    """Seconds before a sign-in under ``keys`` may be tried (0: now), from the failures ``counted``."""
    wait = 0.0
    for limit, key in keys.items():
        failures, since = counted.get(key, (0, now))
        if failures >= limit.failures and since + limit.window > now:
            wait = max(wait, since + limit.window - now)
    return wait
