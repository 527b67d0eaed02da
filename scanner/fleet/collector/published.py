"""The policy bundle the collector publishes to its agents (``scanner serve --policy-bundle FILE``).

``GET /api/v1/policy`` answers with the bundle's bytes as they are on disk, to an agent with a valid
token (as for reports). The collector does not hold the signing key and need not verify: each agent
verifies with its public key. The file is read again when it changes (its size, time or inode), so an
admin publishes a new bundle by replacing the file, without restarting; it is read under the bundle
cap. With no bundle configured the answer is ``404`` with a JSON error the agent can show.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from scanner.errors import BundleError, StoreError
from scanner.fleet.collector.storage import FleetStorage
from scanner.fleet.collector.tokens import token_hash
from scanner.fsview import FileRefused, RootFS, describe_refusal
from scanner.policy.bundle import MAX_BUNDLE, Bundle, parse_bundle


def read_bundle_file(path: Path) -> bytes:
    """A published bundle's bytes, bounded; ``BundleError`` naming the file when it cannot be served."""
    try:
        raw, truncated = RootFS().read_bytes(str(path.resolve()), MAX_BUNDLE)
    except (OSError, FileRefused) as error:
        raise BundleError(f"{path}: cannot read the policy bundle: {describe_refusal(error)}") from error
    if truncated:
        raise BundleError(f"{path}: the policy bundle is larger than {MAX_BUNDLE} bytes")
    return raw


def load_published(path: Path) -> Bundle:
    """The published bundle's contents (its signature is the agents' to verify)."""
    raw = read_bundle_file(path)
    try:
        return parse_bundle(raw)
    except BundleError as error:
        raise BundleError(f"{path}: {error}") from error


class Published:
    """The bundle file, and its bytes as last read (read again when the file changes)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: tuple[int, int, int] | None = None
        self._raw = b""
        self._lock = threading.Lock()

    def current(self) -> bytes:
        with self._lock:
            try:
                st = os.stat(self.path)
            except OSError as error:
                raise BundleError(f"the policy bundle cannot be read: {error.strerror or error}") from error
            seen = (st.st_ino, st.st_size, st.st_mtime_ns)
            if seen != self._seen:
                self._raw, self._seen = read_bundle_file(self.path), seen
            return self._raw

    def bundle(self) -> Bundle | None:
        """What the bundle holds, for the fleet summary's outdated-policy hosts; ``None`` while it cannot be
        read or parsed (the summary then lists none, and ``GET /api/v1/policy`` says why)."""
        try:
            return parse_bundle(self.current())
        except BundleError:
            return None


def _error(status: int, message: str, **headers: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers or None)


def policy_endpoint(storage: FleetStorage, published: Published | None) -> Callable[[Request], Awaitable[Response]]:
    """The ``GET /api/v1/policy`` handler."""

    async def policy(request: Request) -> Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return _error(401, "missing bearer token", **{"WWW-Authenticate": "Bearer"})
        try:
            host = await run_in_threadpool(storage.host_of_token, token_hash(token))
        except StoreError as error:
            return _error(503, f"storage unavailable: {error}", **{"Retry-After": "60"})
        if host is None:
            return _error(401, "unknown or revoked token", **{"WWW-Authenticate": "Bearer"})
        if published is None:
            return _error(404, "this collector publishes no policy bundle (scanner serve --policy-bundle FILE)")
        try:
            raw = await run_in_threadpool(published.current)
        except BundleError as error:
            return _error(503, str(error), **{"Retry-After": "60"})
        return Response(raw, media_type="application/json")

    return policy
