"""The bundled policies, composed and checked, kept as JSON in the cache folder for the next run.

Every audit reads its policy: for the bundled default, importing PyYAML, composing 125 KB of YAML and
checking it into dataclasses took 30 ms of each run's start-up, where decoding the same policy from JSON
takes 7 ms. Only bundled policies are kept (they lie inside the installed package, beside the code that
reads them); a file named on the command line is read from YAML each time.

An entry is used only by the same code, for the same files: its name is a digest of the scanner's
version, of the policy stage's source files and of the names asked for, and it lists the digest of every
file the policy was composed from, each read and hashed again before the entry is trusted. An entry
that is missing, unreadable, damaged or of another shape is a miss: the policy is read from YAML as
before and the entry written again. It holds data only (JSON, never pickle), written atomically.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import typing
from collections.abc import Sequence
from enum import Enum
from functools import cache
from pathlib import Path
from typing import Any

from scanner import __version__
from scanner.output import replace_atomically
from scanner.places import default_cache_dir
from scanner.policy.schema import Policy, type_shape

FOLDER = "policies"
"""Under the cache folder (``places.default_cache_dir``)."""


def entry_path(names: Sequence[str], bundled: Path) -> Path:
    """Where the policy composed from the bundled ``names`` is kept, for this code and this installation."""
    code = Path(__file__).resolve().parent
    digest = hashlib.sha256(repr((__version__, str(bundled), tuple(names))).encode())
    for module in sorted(code.glob("*.py")):
        digest.update(module.read_bytes())
    return default_cache_dir() / FOLDER / f"{digest.hexdigest()[:32]}.json"


def load(path: Path, bundled: Path) -> Policy | None:
    """The policy kept at ``path``, if every file it was composed from is a ``bundled`` one, unchanged;
    else ``None``. An entry naming any other file is not read further (nothing outside the package is
    opened on an entry's word)."""
    try:
        entry = json.loads(path.read_bytes())
        for name, sha256 in entry["files"]:
            source = Path(name)
            if not source.is_relative_to(bundled) or ".." in source.parts:
                return None
            if hashlib.sha256(source.read_bytes()).hexdigest() != sha256:
                return None
        policy = _decode(entry["policy"], Policy)
    except (OSError, ValueError, TypeError, KeyError, AttributeError, RecursionError):
        return None  # no entry, or one this code cannot read: the policy is read from YAML
    return policy if isinstance(policy, Policy) else None


def keep(path: Path, policy: Policy, files: Sequence[tuple[Path, bytes]]) -> None:
    """Keep ``policy``, composed from ``files`` (path, the bytes read), for the next run; never fails a run."""
    entry = {
        "files": [[str(name), hashlib.sha256(data).hexdigest()] for name, data in files],
        "policy": _encode(policy),
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        replace_atomically(path, json.dumps(entry, separators=(",", ":")).encode())
    except OSError:
        return  # a read-only cache folder: the next run reads YAML again


def _encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple):
        return [_encode(item) for item in value]
    if isinstance(value, dict):
        return {key: _encode(item) for key, item in value.items()}
    return value


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _decode(value: Any, tp: Any) -> Any:
    """``value`` (as ``_encode`` wrote it) as an instance of the schema type ``tp``."""
    kind, argument = type_shape(tp)
    if kind == "optional":
        return None if value is None else _decode(value, argument)
    if kind == "enum":
        return tp(value)
    if kind == "sequence":
        return tuple(_decode(item, argument) for item in value)
    if kind == "mapping":
        return {key: _decode(item, argument) for key, item in value.items()}
    if kind == "dataclass":
        hints = _hints(tp)
        return tp(**{key: _decode(item, hints[key]) for key, item in value.items()})
    if not isinstance(value, (str, int)):  # bool is an int; a list or mapping here is another shape
        raise TypeError(f"{tp!r}: {type(value).__name__}")
    return value
