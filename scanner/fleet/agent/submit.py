"""Sending reports to the collector: gzip over HTTPS (certificates verified), retries with backoff and
jitter, and the spool for whatever could not be sent.

Every report goes into the spool first and leaves it when the collector acknowledges it; the
spool is flushed oldest first. A connection failure, a timeout, a 5xx or a 429 is retried a few
times, then the flush stops and the rest waits for the next run. A 401/403 (a revoked or wrong
token) also stops the flush without touching the reports. A 400/413/422 says this report will never
be accepted: it is marked rejected and the flush goes on with the next.
"""

from __future__ import annotations

import gzip
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

from scanner import __version__
from scanner.fleet.agent.spool import Spool
from scanner.reporters.json import report_json

RETRYABLE = frozenset({408, 425, 429, 500, 502, 503, 504})
PERMANENT = frozenset({400, 404, 405, 411, 413, 415, 422})
MAX_RETRY_AFTER = 60.0


@dataclass(frozen=True)
class Destination:
    """Where reports go: the collector's base URL and this host's token."""

    url: str
    token: str
    ca_cert: str | None = None
    """A CA bundle to trust instead of the system's (a private PKI); verification is never turned off."""
    timeout: float = 30.0


class SendError(Exception):
    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind
        """``retry`` (try again later), ``stop`` (credentials: stop the flush), ``reject`` (never acceptable)."""


def encode(report: dict[str, Any]) -> bytes:
    """A report as it is spooled and sent: compact JSON, gzip."""
    return gzip.compress(report_json(report), mtime=0)


@dataclass
class Sender:
    """One HTTP session to the collector, with retries."""

    destination: Destination
    attempts: int = 3
    backoff: float = 1.0
    sleep: Callable[[float], None] = time.sleep
    session: requests.Session = field(default_factory=requests.Session)

    def _post(self, body: bytes, dropped: int) -> requests.Response:
        headers = {
            "Authorization": f"Bearer {self.destination.token}",
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
            "User-Agent": f"scanner/{__version__}",
            "X-Scanner-Dropped-Reports": str(dropped),
        }
        return self.session.post(
            self.destination.url.rstrip("/") + "/api/v1/reports",
            data=body,
            headers=headers,
            timeout=self.destination.timeout,
            verify=self.destination.ca_cert or True,
            allow_redirects=False,
        )

    def send(self, body: bytes, dropped: int = 0) -> str:
        """``stored`` or ``duplicate``; ``SendError`` once the attempts are used up or on a final answer."""
        last = ""
        for attempt in range(self.attempts):
            if attempt:
                self.sleep(self.backoff * 2 ** (attempt - 1) * random.uniform(0.5, 1.5))
            try:
                response = self._post(body, dropped)
            except requests.exceptions.SSLError as error:
                raise SendError(f"TLS verification failed: {error}", "stop") from error
            except requests.RequestException as error:
                last = f"cannot reach the collector: {error.__class__.__name__}: {error}"
                continue
            if response.status_code in (200, 201):
                return str(response.json().get("status", "stored"))
            message = collector_message(response)
            if response.status_code in (401, 403):
                raise SendError(message, "stop")
            if response.status_code in PERMANENT:
                raise SendError(message, "reject")
            last = message
            if response.status_code == 429 and attempt + 1 < self.attempts:
                self.sleep(min(_retry_after(response), MAX_RETRY_AFTER))
            elif response.status_code not in RETRYABLE:
                raise SendError(message, "stop")
        raise SendError(last, "retry")


def collector_message(response: requests.Response) -> str:
    try:
        detail = response.json().get("error", "")
    except ValueError:
        detail = response.text[:200]
    return f"collector answered {response.status_code}: {detail}".rstrip(": ")


def _retry_after(response: requests.Response) -> float:
    value = response.headers.get("Retry-After", "")
    return float(value) if value.isdigit() else 5.0


@dataclass
class Delivery:
    """What one flush of the spool did."""

    sent: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    waiting: int = 0
    error: str | None = None
    """Why the flush stopped early (the collector unreachable, a token refused)."""


def flush(spool: Spool, sender: Sender) -> Delivery:
    """Send every pending report, oldest first, until one cannot be sent for now."""
    delivery = Delivery()
    for item in spool.pending():
        dropped = spool.dropped()
        try:
            status = sender.send(item.body, dropped)
        except SendError as error:
            spool.failed(item.id, str(error), rejected=error.kind == "reject")
            if error.kind == "reject":
                delivery.rejected.append((item.id, str(error)))
                continue
            delivery.error = str(error)
            break
        spool.delivered(item.id, dropped)
        (delivery.sent if status == "stored" else delivery.duplicates).append(item.id)
    delivery.waiting = spool.waiting()
    return delivery


def submit_report(spool: Spool, sender: Sender, report: dict[str, Any]) -> Delivery:
    """Spool this report, then flush: older reports go first."""
    spool.add(report["scan"]["id"], encode(report))
    return flush(spool, sender)
