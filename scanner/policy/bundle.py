"""Signed policy bundles: the policy files an admin publishes on the collector, signed with Ed25519.

A bundle is one JSON document::

    {"format": 1, "created": "2026-12-07T10:00:00Z", "signer": "<key id>",
     "policies": ["site/site.yaml"],
     "files": [{"name": "policies/default.yaml", "text": "..."}, {"name": "site/site.yaml", "text": "..."}],
     "signature": "<base64 Ed25519 signature>"}

``policies`` are the names given to the loader, in order (what ``--policy`` was given); ``files`` are
every file the composition read, includes first, by name: the bundled policies under ``policies/``,
the admin's own files under ``site/`` with their folders relative to one another, so that every
``include:`` finds what it found when the bundle was signed. The signature covers the canonical JSON
of everything else (keys sorted, no spaces, ASCII, other characters escaped), so what is verified is exactly
what is judged by.
``signer`` (the first 16 hex digits of the SHA-256 of the raw public key) only makes a wrong key's
error clear; trust comes from the signature alone.

A verified bundle's files are written to a private temporary folder, loaded with the policy loader
(YAML safe loading; nothing in a bundle is ever executed), and the folder is removed at once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from scanner.errors import BundleError, PolicyError
from scanner.policy.loader import BUNDLE_BUNDLED_DIR, POLICY_FILE_CAP, bundled_dir, load_policy, load_policy_sources
from scanner.policy.schema import Policy, PolicyFileInfo

BUNDLE_FORMAT = 1
MAX_BUNDLE = 16 * 1024 * 1024
"""Bytes a bundle may have: four times the largest policy file, and about 80 times the bundled policies."""
MAX_FILES = 64
SITE_DIR = "site"
_TWICE = (
    "a name is given twice (names are compared without regard to case: a Windows or macOS disk holds one file for both)"
)
_NAME = re.compile(r"(?:[A-Za-z0-9_][A-Za-z0-9_.-]*/)*[A-Za-z0-9_][A-Za-z0-9_.-]*\.ya?ml")
"""A file's name in a bundle: relative, no ``..``, no hidden or odd names, so it can only land inside
the folder it is unpacked into."""


@dataclass(frozen=True)
class BundleFile:
    name: str
    """Its path inside the bundle (``policies/default.yaml``, ``site/site.yaml``)."""
    text: str


@dataclass(frozen=True)
class Bundle:
    """A bundle whose signature was verified (or, on the collector, which is only served and compared)."""

    created: str
    signer: str
    policies: tuple[str, ...]
    files: tuple[BundleFile, ...]


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def new_key() -> tuple[bytes, bytes]:
    """A new Ed25519 key pair as PEM: (private key, PKCS#8 unencrypted; public key, SubjectPublicKeyInfo)."""
    private = Ed25519PrivateKey.generate()
    return (
        private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
        private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
    )


def read_private_key(pem: bytes, where: str) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as error:
        raise BundleError(f"{where}: not an unencrypted PEM private key ({error})") from error
    if not isinstance(key, Ed25519PrivateKey):
        raise BundleError(f"{where}: not an Ed25519 private key (made by 'scanner policy keygen')")
    return key


def read_public_key(pem: bytes, where: str) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError) as error:
        raise BundleError(f"{where}: not a PEM public key ({error})") from error
    if not isinstance(key, Ed25519PublicKey):
        raise BundleError(f"{where}: not an Ed25519 public key (made by 'scanner policy keygen')")
    return key


def _canonical(document: dict[str, Any]) -> bytes:
    """What is signed: ASCII, so that any string a hostile bundle holds (a lone surrogate) still has bytes."""
    unsigned = {k: v for k, v in document.items() if k != "signature"}
    return json.dumps(unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def _names(paths: Sequence[Path]) -> dict[Path, str]:
    """Each file's name in the bundle: bundled policies by their name, the admin's relative to one another."""
    bundled = bundled_dir().resolve()
    own = [p for p in paths if p.parent != bundled]
    base = Path(os.path.commonpath([p.parent for p in own])) if own else None
    names = {}
    for path in paths:
        if path.parent == bundled:
            names[path] = f"{BUNDLE_BUNDLED_DIR}/{path.name}"
        else:
            assert base is not None
            names[path] = f"{SITE_DIR}/{path.relative_to(base).as_posix()}"
        if not _NAME.fullmatch(names[path]):
            raise BundleError(
                f"{path}: a bundle names its files with letters, digits, '.', '_' and '-' only, ending in .yaml"
            )
    if len({name.casefold() for name in names.values()}) != len(names):
        raise BundleError(f"{', '.join(sorted(str(p) for p in paths))}: {_TWICE}")
    return names


def sign_bundle(specs: Sequence[str], private_key: Ed25519PrivateKey, created: str) -> bytes:
    """The signed bundle of the policies ``specs`` name (as ``--policy`` takes them).

    The policies are checked first (``PolicyError`` with file, line and field, as ``policy validate``
    says it); then the bundle is unpacked and loaded as an agent will, and must compose the same files.
    """
    policy, sources = load_policy_sources(specs)
    if len(sources.files) > MAX_FILES:
        raise BundleError(
            f"a bundle holds at most {MAX_FILES} policy files; these policies compose {len(sources.files)}"
        )
    names = _names([path for path, _ in sources.files])
    document: dict[str, Any] = {
        "format": BUNDLE_FORMAT,
        "created": created,
        "signer": key_id(private_key.public_key()),
        "policies": [names[path] for path in sources.given],
        "files": [{"name": names[path], "text": raw.decode("utf-8")} for path, raw in sources.files],
    }
    document["signature"] = base64.b64encode(private_key.sign(_canonical(document))).decode("ascii")
    signed = json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8") + b"\n"
    if len(signed) > MAX_BUNDLE:
        raise BundleError(f"the bundle would be {len(signed)} bytes; agents take at most {MAX_BUNDLE}")
    unpacked = bundle_policy(parse_bundle(signed))
    if [f.sha256 for f in unpacked.files] != [f.sha256 for f in policy.files]:
        raise BundleError("the bundle does not compose the same files as the policies given (did one change?)")
    return signed


def _text(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise BundleError(f"{field}: expected a string")
    return value


def parse_bundle(raw: bytes) -> Bundle:
    """A bundle's contents, without verifying its signature (the collector serves and compares it)."""
    return _parse(raw)[0]


def _parse(raw: bytes) -> tuple[Bundle, dict[str, Any]]:
    if len(raw) > MAX_BUNDLE:
        raise BundleError(f"larger than {MAX_BUNDLE} bytes")
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise BundleError(f"not a policy bundle (JSON): {error}") from error
    if not isinstance(document, dict):
        raise BundleError("not a policy bundle: expected a JSON object")
    if document.get("format") != BUNDLE_FORMAT:
        raise BundleError(f"format {document.get('format')!r}: this scanner reads policy bundles of format 1")
    files = document.get("files")
    if not isinstance(files, list) or not files or len(files) > MAX_FILES:
        raise BundleError(f"files: expected a list of 1 to {MAX_FILES} policy files")
    read = []
    for index, item in enumerate(files):
        if not isinstance(item, dict):
            raise BundleError(f"files[{index}]: expected {{name, text}}")
        name, text = _text(item.get("name"), f"files[{index}].name"), _text(item.get("text"), f"files[{index}].text")
        if not _NAME.fullmatch(name) or not name.startswith((f"{BUNDLE_BUNDLED_DIR}/", f"{SITE_DIR}/")):
            raise BundleError(f"files[{index}].name: {name!r} is not a name a bundle may hold")
        try:
            size = len(text.encode("utf-8"))
        except UnicodeEncodeError as error:
            raise BundleError(f"files[{index}]: {name} is not UTF-8 text: {error}") from error
        if size > POLICY_FILE_CAP:
            raise BundleError(f"files[{index}]: {name} is larger than {POLICY_FILE_CAP} bytes")
        read.append(BundleFile(name, text))
    if len({f.name.casefold() for f in read}) != len(read):
        raise BundleError(f"files: {_TWICE}")
    policies = document.get("policies")
    if not isinstance(policies, list) or not policies:
        raise BundleError("policies: expected the list of the files to compose")
    for index, name in enumerate(policies):
        if not isinstance(name, str) or name not in {f.name for f in read}:
            raise BundleError(f"policies[{index}]: {name!r} is not one of the bundle's files")
    created = _text(document.get("created"), "created")
    signer = _text(document.get("signer", ""), "signer")
    return Bundle(created, signer, tuple(policies), tuple(read)), document


def verify_bundle(raw: bytes, public_key: Ed25519PublicKey) -> Bundle:
    """The bundle, if ``public_key`` signed exactly these bytes' contents; ``BundleError`` saying what is wrong."""
    bundle, document = _parse(raw)
    signature = document.get("signature")
    if not signature:
        raise BundleError("the bundle is not signed (no signature)")
    try:
        signed = base64.b64decode(_text(signature, "signature"), validate=True)
    except binascii.Error as error:
        raise BundleError(f"signature: not base64: {error}") from error
    expected = key_id(public_key)
    try:
        public_key.verify(signed, _canonical(document))
    except InvalidSignature:
        if bundle.signer and bundle.signer != expected:
            raise BundleError(
                f"the bundle is signed by another key ({bundle.signer}), not the configured one ({expected})"
            ) from None
        raise BundleError(
            "the signature does not match the bundle's contents: it was changed after signing (tampered or damaged)"
        ) from None
    return bundle


def bundle_policy(bundle: Bundle) -> Policy:
    """The policy a bundle composes: its files written to a private folder (0700), loaded, and removed."""
    with tempfile.TemporaryDirectory(prefix="scanner-bundle-") as folder:
        home = Path(folder)
        for file in bundle.files:
            path = home / PurePosixPath(file.name)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(file.text.encode("utf-8"))
        try:
            return load_policy([str(home / PurePosixPath(name)) for name in bundle.policies], home=home)
        except PolicyError as error:
            raise BundleError(f"the bundle's policy does not load: {error}") from error


def bundle_files(bundle: Bundle) -> tuple[PolicyFileInfo, ...]:
    """The files a bundle composes, named as a report names the files it was judged by."""
    return bundle_policy(bundle).files
