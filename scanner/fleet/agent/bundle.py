"""The agent's policy: the collector's signed bundle, fetched before each scan, verified, and kept.

With ``policy_key`` (``--policy-key``) the agent asks the collector it submits to for its bundle
(``GET /api/v1/policy``, this host's token, the same TLS and CA settings as submission; the answer
read up to ``MAX_BUNDLE`` bytes within ``FETCH_TIMEOUT`` seconds), verifies its Ed25519 signature
with the configured public key, loads it, and keeps it beside the local store (``KEPT_NAME``, 0600).
When the collector cannot be reached, or sends a bundle that is unsigned, changed after signing,
signed by another key or does not load, the agent judges by the last verified bundle it kept, which
it verifies again, and says why (``AgentPolicy.fallback``): the report then lists the policy as a gap,
since it may be outdated. With no verified bundle kept, the scan cannot be judged and fails.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import requests
import urllib3
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from scanner import __version__
from scanner.errors import BundleError
from scanner.fleet.agent.submit import Destination, collector_message
from scanner.fsview import FileRefused, RootFS, describe_refusal
from scanner.output import replace_atomically
from scanner.policy.bundle import MAX_BUNDLE, Bundle, bundle_policy, read_public_key, verify_bundle
from scanner.policy.schema import Policy

KEPT_NAME = "policy-bundle.json"
"""The last verified bundle, in the local store's folder (the agent's state: ``/var/lib/scanner``)."""
FETCH_TIMEOUT = 60.0
"""Seconds the whole answer may take (``Destination.timeout`` bounds each wait on the connection)."""


@dataclass(frozen=True)
class AgentPolicy:
    """The policy an agent judges by, and where it came from."""

    policy: Policy
    bundle: Bundle
    url: str
    kept: Path
    kept_sha256: str
    """The kept file's digest: it names banned providers, so later scans know it as the scanner's own."""
    fallback: str | None = None
    """Why the collector's bundle was not used; then ``policy`` is the last verified bundle's."""


def policy_url(destination: Destination) -> str:
    return destination.url.rstrip("/") + "/api/v1/policy"


def read_key_file(path: Path) -> Ed25519PublicKey:
    try:
        pem = path.read_bytes()[: 1 << 16]
    except OSError as error:
        raise BundleError(f"--policy-key {path}: cannot read: {error.strerror or error}") from error
    return read_public_key(pem, f"--policy-key {path}")


def fetch_bundle(destination: Destination) -> bytes:
    """The collector's bundle as sent, never read past ``MAX_BUNDLE`` bytes or ``FETCH_TIMEOUT`` seconds."""
    url = policy_url(destination)
    headers = {
        "Authorization": f"Bearer {destination.token}",
        "User-Agent": f"scanner/{__version__}",
        "Accept-Encoding": "identity",  # what is counted is what arrives: no inflating on the way
    }
    deadline = time.monotonic() + FETCH_TIMEOUT
    try:
        with requests.get(
            url,
            headers=headers,
            timeout=destination.timeout,
            verify=destination.ca_cert or True,
            allow_redirects=False,
            stream=True,
        ) as response:
            if response.status_code != 200:
                raise BundleError(f"{url}: {collector_message(response)}")
            declared = response.headers.get("content-length", "")
            if declared.isdecimal() and int(declared) > MAX_BUNDLE:
                raise BundleError(f"{url}: the bundle is {declared} bytes, over the {MAX_BUNDLE} an agent takes")
            chunks, size = [], 0
            for chunk in _arriving(response):
                size += len(chunk)
                if size > MAX_BUNDLE:
                    raise BundleError(f"{url}: the bundle is larger than the {MAX_BUNDLE} bytes an agent takes")
                if time.monotonic() > deadline:
                    raise BundleError(f"{url}: the bundle did not arrive within {FETCH_TIMEOUT:g} s")
                chunks.append(chunk)
            return b"".join(chunks)
    except requests.exceptions.SSLError as error:
        raise BundleError(f"{url}: TLS verification failed: {error}") from error
    except (requests.RequestException, urllib3.exceptions.HTTPError) as error:
        raise BundleError(f"cannot reach the collector at {url}: {error.__class__.__name__}: {error}") from error


def _arriving(response: requests.Response) -> Iterator[bytes]:
    """The body as it arrives, a receive at a time, so that the deadline is checked between receives:
    ``iter_content`` waits for a whole chunk, which a collector sending a byte now and then (each within
    the connection's timeout) would make last for days (``read1``: urllib3 2.2 and later)."""
    while chunk := response.raw.read1(1 << 16):
        yield chunk


def _keep(kept: Path, raw: bytes) -> None:
    """Written whole or not at all, private like the store."""
    kept.parent.mkdir(parents=True, exist_ok=True)
    replace_atomically(kept, raw)


def agent_policy(destination: Destination, public_key: Ed25519PublicKey, kept: Path) -> AgentPolicy:
    """The collector's verified bundle (then kept), else the last one kept, with why (``BundleError``
    when there is neither)."""
    url = policy_url(destination)
    try:
        raw = fetch_bundle(destination)
        try:
            bundle = verify_bundle(raw, public_key)
            policy = bundle_policy(bundle)
        except BundleError as error:
            raise BundleError(f"{url}: policy bundle refused: {error}") from error
    except BundleError as error:
        return _last_verified(str(error), url, public_key, kept)
    try:
        _keep(kept, raw)
    except OSError as error:
        raise BundleError(f"{kept}: cannot keep the verified policy bundle: {error.strerror or error}") from error
    return AgentPolicy(policy, bundle, url, kept, hashlib.sha256(raw).hexdigest())


def _last_verified(problem: str, url: str, public_key: Ed25519PublicKey, kept: Path) -> AgentPolicy:
    if not kept.exists():
        raise BundleError(f"{problem}; and no verified policy bundle was kept ({kept}) to judge by instead")
    try:
        raw, truncated = RootFS().read_bytes(str(kept.resolve()), MAX_BUNDLE)
    except (OSError, FileRefused) as error:
        raise BundleError(
            f"{problem}; the last verified bundle {kept} cannot be read: {describe_refusal(error)}"
        ) from error
    try:
        if truncated:
            raise BundleError(f"larger than {MAX_BUNDLE} bytes")
        bundle = verify_bundle(raw, public_key)
        policy = bundle_policy(bundle)
    except BundleError as error:
        raise BundleError(f"{problem}; the last verified bundle {kept} is refused too: {error}") from error
    return AgentPolicy(policy, bundle, url, kept, hashlib.sha256(raw).hexdigest(), fallback=problem)
