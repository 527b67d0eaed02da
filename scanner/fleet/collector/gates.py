"""Per-host limits kept in one collector process: for SQLite, whose one writer at a time makes a
database for one collector (a shared limit there would cost three more write transactions a report).
PostgreSQL keeps them in the database instead, for every collector at once (``postgres_storage``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from scanner.fleet.collector.storage import Entry, HostGate


@dataclass
class RateLimiter:
    """A token bucket per key, in this process (each collector behind a balancer keeps its own)."""

    burst: int = 60
    per_second: float = 1.0
    max_keys: int = 100_000
    """Keys remembered; past it all are forgotten at once (which only lets a few more through)."""
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def allow(self, key: str, now: float | None = None) -> float:
        """0 when allowed (and counted), else the seconds to wait."""
        now = time.monotonic() if now is None else now
        with self._lock:
            if len(self._buckets) >= self.max_keys and key not in self._buckets:
                self._buckets.clear()
            level, then = self._buckets.get(key, (float(self.burst), now))
            level = min(float(self.burst), level + (now - then) * self.per_second)
            if level < 1:
                self._buckets[key] = (level, now)
                return (1 - level) / self.per_second
            self._buckets[key] = (level - 1, now)
            return 0.0


class ProcessGate(HostGate):
    """A token bucket per host and the hosts being received, in this process; ``host_of_token`` reads the
    storage's tokens. A turn lasts until it is given back (this process ends every request it admitted)."""

    def __init__(self, host_of_token: Callable[[str], str | None], burst: int, per_second: float) -> None:
        self._host_of_token = host_of_token
        self._rates = RateLimiter(burst, per_second)
        self._receiving: dict[str, float] = {}
        self._lock = threading.Lock()

    def enter(self, token_hash: str) -> Entry:
        host = self._host_of_token(token_hash)
        if host is None:
            return Entry(None)
        wait = self._rates.allow(host)
        if wait:
            return Entry(host, wait=wait)
        with self._lock:
            if host in self._receiving:
                return Entry(host, busy=True)
            until = self._receiving[host] = time.monotonic()
        return Entry(host, until=until)

    def release(self, host: str, until: float) -> None:
        with self._lock:
            if self._receiving.get(host) == until:
                del self._receiving[host]
