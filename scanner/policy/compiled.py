"""The bundled policies, composed and checked when the wheel is built, shipped beside their YAML.

Every audit reads its policy: for the bundled default, importing PyYAML, composing 125 KB of YAML and
checking it into dataclasses took 30 ms of each run's start-up, where decoding the same policy from JSON
takes 7 ms. The wheel's build (``hatch_build.py``) composes each bundled policy with the code it ships and
writes it as ``NAME.composed.json`` beside ``NAME.yaml``: it lies in the installed package, written by its
build, and is trusted as the YAML and the code beside it are — nothing is written or read anywhere else
(a cache folder a user can write would let them change the policy). Each YAML file it was composed from is
hashed again before it is used: a bundled file edited in place is read as YAML, and so is a source checkout,
which has no composition. Anything else it cannot use is read as YAML too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

from scanner.policy.schema import Policy
from scanner.records import plain, rebuilt

SUFFIX = ".composed.json"
"""``default`` composed: ``default.composed.json``, beside ``default.yaml``."""


def composition(policy: Policy, files: Sequence[tuple[Path, bytes]], bundled: Path) -> bytes:
    """What the build ships for ``policy``, composed from ``files`` (path, the bytes read) in ``bundled``."""
    entry = {
        "files": [[path.relative_to(bundled).as_posix(), hashlib.sha256(data).hexdigest()] for path, data in files],
        "policy": plain(policy),
    }
    return json.dumps(entry, separators=(",", ":")).encode()


def load(name: str, bundled: Path) -> Policy | None:
    """The bundled policy ``name`` as the build composed it, while every file it was composed from is as it
    was then; else ``None`` (it is read from YAML)."""
    try:
        entry = json.loads((bundled / f"{name}{SUFFIX}").read_bytes())
        files = entry["files"]
        if not files:
            return None
        for relative, sha256 in files:
            source = bundled / relative
            if source.parent != bundled or hashlib.sha256(source.read_bytes()).hexdigest() != sha256:
                return None
        policy = rebuilt(Policy, entry["policy"])
    except (OSError, ValueError, TypeError, KeyError, AttributeError, RecursionError):
        return None  # none shipped (a checkout), or one this code cannot read: the policy is read from YAML
    return policy if isinstance(policy, Policy) else None
