"""What keeps the collector answering when clients are slow, many or greedy, with or without a token.

- **Log rates**: a token bucket per kind of log line, so that a flood of one error cannot take the
  service or the disk (the hosts' limits are ``gates``).
- **Connections**: uvicorn has no deadline for a request's head and accepts connections until the
  process runs out of file descriptors (then asyncio logs a traceback per failed accept). The HTTP
  protocol here closes a connection that has not sent a whole request head within ``header_timeout``
  (first request or the next one on a kept-alive connection), and past ``max_connections`` closes the
  oldest connection that is not in the middle of a request, so a new client (``/health``, an agent)
  always gets in while slow clients are pushed out.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import resource
import threading
from typing import Any

import uvicorn.config
from uvicorn.protocols.http.h11_impl import H11Protocol

from scanner.fleet.collector.gates import RateLimiter

BACKLOG = 128
"""Connections the kernel queues before they are accepted; asyncio accepts up to this many at once."""
RESERVED_FDS = 64
"""File descriptors kept for everything else: the database, its WAL, the log, the thread pool."""


class FloodFilter(logging.Filter):
    """Lets through a burst of log lines of one kind (logger, level, first line of the message, with or
    without a traceback), then one a second, and one traceback a minute; what was left out is counted
    in a line of its own. Measured before: 100,000 tracebacks (47 MB) in 25 s under 1,100 slow clients."""

    def __init__(self, burst: int = 20, per_second: float = 1.0, tracebacks_per_second: float = 1 / 60) -> None:
        super().__init__()
        self._lines = RateLimiter(burst, per_second, max_keys=1000)
        self._tracebacks = RateLimiter(burst // 4 or 1, tracebacks_per_second, max_keys=1000)
        self._left_out: dict[str, int] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        kind = f"{record.name} {record.levelno} {str(record.msg).partition(chr(10))[0][:120]}"
        limiter = self._tracebacks if record.exc_info else self._lines
        with self._lock:
            if len(self._left_out) >= 1000 and kind not in self._left_out:
                self._left_out.clear()
            if limiter.allow(kind):
                self._left_out[kind] = self._left_out.get(kind, 0) + 1
                return False
            left_out = self._left_out.pop(kind, 0)
        if left_out:
            logging.getLogger("scanner.collector").warning("%d log line(s) like the next were left out", left_out)
        return True


def log_config() -> dict[str, Any]:
    """uvicorn's logging, with every handler behind one ``FloodFilter``, and asyncio's errors (a failed
    accept) going through it too instead of Python's unfiltered last-resort handler."""
    config: dict[str, Any] = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    # The class, not an instance: the configuration travels to worker processes, and logging makes
    # one filter per name, shared by the handlers.
    config["filters"] = {"flood": {"()": FloodFilter}}
    for handler in config["handlers"].values():
        handler["filters"] = ["flood"]
    for name in ("asyncio", "scanner.collector"):
        config["loggers"][name] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


def connection_limit() -> int:
    """Raise the soft file-descriptor limit to the hard one, and keep enough below it that the kernel's
    queue and the collector's own files always fit: accept must never fail."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard and hard != resource.RLIM_INFINITY:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return max(16, soft - BACKLOG - RESERVED_FDS)


def guarded_protocol(header_timeout: float, max_connections: int) -> type[H11Protocol]:
    """uvicorn's HTTP/1.1 protocol with a deadline for each request head and a cap on connections."""
    opened: dict[GuardedProtocol, None] = {}  # insertion order: oldest first

    class GuardedProtocol(H11Protocol):
        _head_deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            opened[self] = None
            self._await_head()
            if len(opened) > max_connections:
                oldest_idle = next((c for c in opened if c._between_requests()), self)
                oldest_idle.transport.close()
                opened.pop(oldest_idle, None)

        def connection_lost(self, exc: Exception | None) -> None:
            opened.pop(self, None)
            if self._head_deadline is not None:
                self._head_deadline.cancel()
            super().connection_lost(exc)

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._await_head()

        def _await_head(self) -> None:
            if self._head_deadline is not None:
                self._head_deadline.cancel()
            self._head_deadline = self.loop.call_later(header_timeout, self._head_late)

        def _head_late(self) -> None:
            if self._between_requests():
                self.transport.close()

        def _between_requests(self) -> bool:
            """No request head received since the last response (or since the connection opened)."""
            return self.cycle is None or self.cycle.response_complete

    return GuardedProtocol
