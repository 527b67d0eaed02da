"""The collector: an HTTP service (Starlette on uvicorn) that receives reports from the fleet's agents.

``POST /api/v1/reports`` takes a report (gzip or plain JSON) with ``Authorization: Bearer TOKEN``.
The token and the headers are checked before the body is read; the body is read up to a cap and a
deadline, inflated up to a cap, measured, parsed and checked against the report schema, and accepted
only when the report claims the host the token belongs to. A report id this host already sent is
acknowledged and not stored again, so an agent can always resend. ``X-Scanner-Dropped-Reports``
tells how many reports the agent's full spool had to drop since its last delivery (counted once,
with the report that is stored). Each host may send a burst of reports, then one per ``1/rate``
seconds (a laptop flushing a week of spooled reports is a burst of seven), one at a time: the
storage's ``HostGate`` keeps both, shared by every collector on a PostgreSQL database.
``GET /api/v1/health`` answers ``ok``. ``GET /api/v1/policy`` gives an agent the signed policy bundle
the collector publishes (``published``). The same app serves the dashboard for people and the read API
for their scripts (``dashboard``), which an agent's token never opens.

``serve`` runs one or several uvicorn workers; each is a process that builds its own app (``worker``)
from the options, which travel in the environment because workers are started afresh, not forked.

What one request may cost is bounded before it is paid: at most ``READERS`` bodies are held at once
(each under ``MAX_BODY``), and one report at a time is inflated, parsed and checked, under the intake's
caps, then stored by another thread, so that the next report is checked while the database writes
this one; the others wait their turn, or get ``503`` with ``Retry-After``, as they do while the
database is away.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import AsyncIterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, suppress
from dataclasses import asdict, dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from scanner.errors import StoreError
from scanner.fleet.collector.dashboard import dashboard_routes
from scanner.fleet.collector.guard import BACKLOG, log_config
from scanner.fleet.collector.intake import MAX_BODY, IntakeError, read_report
from scanner.fleet.collector.published import Published, policy_endpoint
from scanner.fleet.collector.storage import Entry, FleetStorage, Turn
from scanner.fleet.collector.tokens import token_hash
from scanner.report import utc_now

HEADER_TIMEOUT = 10.0
"""Seconds a connection may take to send a whole request head."""
BODY_TIMEOUT = 60.0
"""Seconds a request may take to send its body (16 MiB at the cap; a real report is tens of KiB)."""
READERS = 4
"""Request bodies read, or waiting to be checked, at once."""
STORERS = 3
"""Reports stored at once: a store mostly waits for the database, and several wait together."""
GATE_THREADS = 4
"""Requests whose token and limits are checked at once (each one statement on the database)."""
QUEUE_WAIT = 30.0
"""Seconds a request waits for its turn before it is told to come back (``503``)."""
_DROPPED = re.compile(r"[0-9]{1,6}")
"""``X-Scanner-Dropped-Reports``: a count of reports, which a spool of 500 keeps far below a million."""
_ENCODINGS = {"": None, "identity": False, "gzip": True}


@dataclass(frozen=True)
class Sent:
    """What an agent's headers say about its request, once checked."""

    gzipped: bool | None
    """``None``: no ``Content-Encoding``, gzip is recognised by its magic bytes."""
    dropped: int


def agent_headers(headers: Mapping[str, str]) -> Sent:
    """The agent's own headers, or ``IntakeError`` (400/415): a header is never trusted as a number."""
    encoding = headers.get("content-encoding", "").strip().lower()
    if encoding not in _ENCODINGS:
        raise IntakeError(415, "Content-Encoding must be gzip or identity")
    dropped = headers.get("x-scanner-dropped-reports", "0").strip()
    if not _DROPPED.fullmatch(dropped):
        raise IntakeError(400, "X-Scanner-Dropped-Reports must be a whole number below 1000000")
    return Sent(_ENCODINGS[encoding], int(dropped))


def _error(status: int, message: str, **headers: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers or None)


async def _body(request: Request, timeout: float) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdecimal() and len(declared) < 20 and int(declared) > MAX_BODY:
        raise IntakeError(413, f"body larger than {MAX_BODY} bytes")

    async def read() -> bytes:
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY:
                raise IntakeError(413, f"body larger than {MAX_BODY} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    try:
        return await asyncio.wait_for(read(), timeout)
    except asyncio.TimeoutError as error:
        raise IntakeError(408, f"body not received within {timeout:g} s") from error


def _refusal(entry: Entry) -> JSONResponse:
    """Why the gate did not admit a request."""
    if entry.host is None:
        return _error(401, "unknown or revoked token", **{"WWW-Authenticate": "Bearer"})
    if entry.wait:
        retry = str(int(entry.wait) + 1)
        return _error(429, f"too many reports from {entry.host}; retry later", **{"Retry-After": retry})
    # one agent per host: a second request at once is a loop or an attack
    return _error(429, f"a report from {entry.host} is being received; retry later", **{"Retry-After": "5"})


def create_app(
    storage: FleetStorage,
    burst: int = 60,
    rate: float = 1.0,
    body_timeout: float = BODY_TIMEOUT,
    published: Published | None = None,
) -> Starlette:
    """The collector's app on ``storage``, which it closes when it stops; ``published``: its policy bundle."""
    # A host's turn outlasts the longest request: the wait for a reader, the body, the check.
    gate = storage.gate(burst, rate, lease=QUEUE_WAIT + body_timeout + 60)
    readers = asyncio.Semaphore(READERS)
    # One thread checks every report, one after the other. Not only one at a time: always the same
    # thread, because glibc gives each thread its own malloc arena and keeps what a thread freed for
    # that thread; ten threads each parsing a 32 MiB document once kept 1.9 GiB (measured). Others
    # store them: a report's store is mostly waiting for the database (its round trips, the WAL flush
    # of its commit), during which the next report is checked and others are stored. One storer made
    # every report wait for the database's answers to the one before: 153 reports/s where three
    # made 177 (README.md, "Load test"). Whatever the threads, at most ``READERS`` reports are held.
    checker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="intake")
    storer = ThreadPoolExecutor(max_workers=STORERS, thread_name_prefix="store")
    # The gate's statements wait for the database, a few at once (the pool's other connections).
    doorman = ThreadPoolExecutor(max_workers=GATE_THREADS, thread_name_prefix="gate")

    def check(body: bytes, sent: Sent, host: str) -> dict[str, Any]:
        report = read_report(body, sent.gzipped)
        claimed = report["scan"]["host"]
        if claimed != host:
            raise IntakeError(403, f"this token belongs to host {host!r}, the report claims {claimed!r}")
        return report

    # The turns this process holds: those of requests that a stop cut off (their tasks are cancelled,
    # and end after the executors are gone) are given back when the app stops, not held for their lease.
    held: set[Turn] = set()

    def release(turn: Turn) -> None:
        held.discard(turn)
        with suppress(StoreError):  # a turn not given back ends with its lease
            turn.give_back()

    async def give_back(turn: Turn) -> None:
        with suppress(RuntimeError):  # the app is stopping, its executors shut: it gives back what is held
            await asyncio.get_running_loop().run_in_executor(doorman, release, turn)

    def store(report: dict[str, Any], sent: Sent, turn: Turn) -> str:
        """Store the report and give back the host's turn, with it where the storage can."""
        try:
            stored = storage.store_report(report, utc_now(), sent.dropped, turn)
        except BaseException:  # not only the database's errors: ``receive`` leaves the turn to this
            release(turn)
            raise
        held.discard(turn)
        return "stored" if stored else "duplicate"

    async def receive(request: Request, sent: Sent, turn: Turn) -> JSONResponse:
        """The report of an admitted request, whose host's turn is given back whatever happens."""
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(readers.acquire(), QUEUE_WAIT)
        except asyncio.TimeoutError:
            await give_back(turn)
            return _error(503, "the collector is busy; retry later", **{"Retry-After": str(int(QUEUE_WAIT))})
        stored = False
        try:
            body = await _body(request, body_timeout)
            report = await loop.run_in_executor(checker, check, body, sent, turn.host)
            del body  # held no longer than its report
            stored = True  # from here on, the storer gives the turn back
            status = await loop.run_in_executor(storer, store, report, sent, turn)
            report_id = report["scan"]["id"]
        except IntakeError as error:
            return _error(error.status, error.message)
        except StoreError as error:
            return _error(503, f"storage unavailable: {error}", **{"Retry-After": "60"})
        finally:
            readers.release()
            if not stored:
                await give_back(turn)
        return JSONResponse({"status": status, "id": report_id}, status_code=201 if status == "stored" else 200)

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def submit(request: Request) -> JSONResponse:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return _error(401, "missing bearer token", **{"WWW-Authenticate": "Bearer"})
        try:
            sent = agent_headers(request.headers)
        except IntakeError as error:
            return _error(error.status, error.message)
        try:
            entry = await asyncio.get_running_loop().run_in_executor(doorman, gate.enter, token_hash(token))
        except StoreError as error:
            return _error(503, f"storage unavailable: {error}", **{"Retry-After": "60"})
        if entry.host is None or not entry.admitted:
            return _refusal(entry)
        turn = Turn(gate, entry.host, entry.until)
        held.add(turn)
        return await receive(request, sent, turn)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        for executor in (doorman, checker, storer):
            executor.shutdown()
        for turn in list(held):
            release(turn)
        storage.close()

    return Starlette(
        routes=[
            Route("/api/v1/health", health, methods=["GET"]),
            Route("/api/v1/reports", submit, methods=["POST"]),
            Route("/api/v1/policy", policy_endpoint(storage, published), methods=["GET"]),
            *dashboard_routes(storage, published=published),
        ],
        lifespan=lifespan,
    )


SETTINGS_VARIABLE = "SCANNER_COLLECTOR_SETTINGS"
"""Where ``serve`` leaves its options (JSON) for the worker processes."""


@dataclass(frozen=True)
class ServeOptions:
    """How the collector treats its clients (the ``scanner serve`` options)."""

    db: str
    """A SQLite file's path or a ``postgresql://`` URL."""
    burst: int = 60
    rate: float = 1.0
    header_timeout: float = HEADER_TIMEOUT
    body_timeout: float = BODY_TIMEOUT
    max_connections: int | None = None
    """``None``: as many as the file-descriptor limit allows (``guard.connection_limit``)."""
    workers: int = 1
    policy_bundle: str | None = None
    """The signed policy bundle to publish (``GET /api/v1/policy``), read again when it changes."""

    @classmethod
    def from_environment(cls) -> ServeOptions:
        """What ``serve`` left for its workers; no database (``db=""``) outside a worker."""
        return cls(**json.loads(os.environ.get(SETTINGS_VARIABLE) or '{"db": ""}'))


def serve(host: str, port: int, tls: tuple[str, str] | None, options: ServeOptions) -> None:
    """Run the collector until interrupted (uvicorn; TLS when a certificate and key are given), in
    ``options.workers`` processes that share the port and the database."""
    import uvicorn

    cert, key = tls if tls else (None, None)
    os.environ[SETTINGS_VARIABLE] = json.dumps(asdict(options))
    uvicorn.run(
        "scanner.fleet.collector.worker:app",
        factory=True,
        workers=options.workers,
        host=host,
        port=port,
        http="scanner.fleet.collector.worker:Protocol",
        backlog=BACKLOG,
        log_config=log_config(),
        log_level="info",
        ssl_certfile=cert,
        ssl_keyfile=key,
        timeout_graceful_shutdown=10,  # a stop (systemd, a restart) must not wait on a stalled client
    )
