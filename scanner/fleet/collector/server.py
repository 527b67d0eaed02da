"""The collector: an HTTP service (Starlette on uvicorn) that receives reports from the fleet's agents.

``POST /api/v1/reports`` takes a report (gzip or plain JSON) with ``Authorization: Bearer TOKEN``.
The token is checked before the body is read; the body is read up to a cap, inflated up to a cap,
parsed and checked against the report schema, and accepted only when the report claims the host the
token belongs to. A report id already stored is acknowledged and not stored again, so an agent
can always resend. ``X-Scanner-Dropped-Reports`` tells how many reports the agent's full spool had
to drop since its last delivery (counted once, with the report that is stored). Each host may send a burst of reports, then one per ``1/rate`` seconds (a laptop
flushing a week of spooled reports is a burst of seven). ``GET /api/v1/health`` answers ``ok``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from scanner.errors import StoreError
from scanner.fleet.collector.intake import MAX_BODY, IntakeError, read_report
from scanner.fleet.collector.storage import FleetStorage
from scanner.fleet.collector.tokens import token_hash
from scanner.report import utc_now


@dataclass
class RateLimiter:
    """A token bucket per host, in this process (each collector behind a balancer keeps its own)."""

    burst: int = 60
    per_second: float = 1.0
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def allow(self, host: str, now: float | None = None) -> float:
        """0 when allowed (and counted), else the seconds to wait."""
        now = time.monotonic() if now is None else now
        with self._lock:
            level, then = self._buckets.get(host, (float(self.burst), now))
            level = min(float(self.burst), level + (now - then) * self.per_second)
            if level < 1:
                self._buckets[host] = (level, now)
                return (1 - level) / self.per_second
            self._buckets[host] = (level - 1, now)
            return 0.0


def _error(status: int, message: str, **headers: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers or None)


async def _body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY:
        raise IntakeError(413, f"body larger than {MAX_BODY} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise IntakeError(413, f"body larger than {MAX_BODY} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(storage: FleetStorage, limiter: RateLimiter | None = None) -> Starlette:
    limiter = limiter or RateLimiter()

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def submit(request: Request) -> JSONResponse:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return _error(401, "missing bearer token", **{"WWW-Authenticate": "Bearer"})
        try:
            host = await run_in_threadpool(storage.host_of_token, token_hash(token))
        except StoreError as error:
            return _error(503, f"storage unavailable: {error}", **{"Retry-After": "60"})
        if host is None:
            return _error(401, "unknown or revoked token", **{"WWW-Authenticate": "Bearer"})
        wait = limiter.allow(host)
        if wait:
            return _error(429, f"too many reports from {host}; retry later", **{"Retry-After": str(int(wait) + 1)})
        try:
            body = await _body(request)
            encoding = request.headers.get("content-encoding", "").lower()
            report = await run_in_threadpool(read_report, body, encoding == "gzip" or None)
        except IntakeError as error:
            return _error(error.status, error.message)
        claimed = report["scan"]["host"]
        if claimed != host:
            return _error(403, f"this token belongs to host {host!r}, the report claims {claimed!r}")
        dropped = request.headers.get("x-scanner-dropped-reports", "0")
        try:
            stored = await run_in_threadpool(
                storage.store_report, report, utc_now(), int(dropped) if dropped.isdigit() else 0
            )
        except StoreError as error:
            return _error(503, f"storage unavailable: {error}", **{"Retry-After": "60"})
        status = "stored" if stored else "duplicate"
        return JSONResponse({"status": status, "id": report["scan"]["id"]}, status_code=201 if stored else 200)

    return Starlette(
        routes=[
            Route("/api/v1/health", health, methods=["GET"]),
            Route("/api/v1/reports", submit, methods=["POST"]),
        ]
    )


def serve(storage: FleetStorage, host: str, port: int, tls: tuple[str, str] | None = None, **options: Any) -> None:
    """Run the collector until interrupted (uvicorn; TLS when a certificate and key are given)."""
    import uvicorn

    cert, key = tls if tls else (None, None)
    uvicorn.run(
        create_app(storage, **options),
        host=host,
        port=port,
        log_level="info",
        ssl_certfile=cert,
        ssl_keyfile=key,
        timeout_graceful_shutdown=10,  # a stop (systemd, a restart) must not wait on a stalled client
    )
