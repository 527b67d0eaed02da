"""The scanner's own files, known by their content: what it shipped, what it wrote, what it was given.

A clone of this project names every banned host in its tests; a report names what it found; a policy
names what it bans. None of them is use. They are recognised by content digest only — never by how a
file starts, which anyone can imitate to hide a setting: the digests of every file of the project as
built (shipped in the wheel as ``_own_files.txt``, or computed from the source tree when the package
runs from one), of the policy and waiver files a scan was given, and of the reports it wrote
(``-o``), which the store remembers. A local user cannot make a file with a digest on that list
without making it the very file the scanner shipped or wrote.
"""

from __future__ import annotations

import hashlib
import os
from functools import cache
from pathlib import Path

SHIPPED = "_own_files.txt"
"""The project's digests inside the installed package (written by ``hatch_build.py``)."""
PROJECT_PARTS = (
    "scanner", "policies", "tests", "bench", "installers", "docs", ".ci", "README.md", "pyproject.toml", "hatch_build.py",
)  # fmt: skip
"""What a clone or a source archive of the project holds (``tool.hatch.build.targets.sdist``)."""
_LEFT_OUT_DIRS = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"})
_LEFT_OUT_PATHS = ("tests/wild/cases", "bench/out")
"""Not part of the project: the in-the-wild set's materialised copies of public files (real use, which
the scanner must find) and benchmark output."""
_LARGEST = 16 << 20


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def project_digests(root: Path) -> list[str]:
    """The sha256 of every file of the project under ``root``, sorted: the list the wheel ships."""
    found: set[str] = set()
    for part in PROJECT_PARTS:
        top = root / part
        paths = [top] if top.is_file() else sorted(_files(root, top))
        for path in paths:
            if path.is_file() and not path.is_symlink() and path.stat().st_size <= _LARGEST:
                found.add(digest(path.read_bytes()))
    return sorted(found)


def _files(root: Path, top: Path) -> list[Path]:
    files: list[Path] = []
    for folder, dirs, names in os.walk(top):
        here = Path(folder)
        relative = here.relative_to(root).as_posix()
        dirs[:] = [d for d in dirs if d not in _LEFT_OUT_DIRS and f"{relative}/{d}" not in _LEFT_OUT_PATHS]
        files += [here / name for name in names if not name.endswith(".pyc") and name != SHIPPED]
    return files


@cache
def shipped_digests() -> frozenset[str]:
    """The project's digests: shipped with an installed wheel, or computed from the source tree the
    package runs from (an editable install, a clone); empty when neither is there."""
    package = Path(__file__).resolve().parent
    try:
        return frozenset((package / SHIPPED).read_text(encoding="ascii").split())
    except OSError:
        pass
    source = package.parent
    if (source / "pyproject.toml").is_file() and (source / "policies").is_dir():
        return frozenset(project_digests(source))
    return frozenset()


@cache
def code_identity() -> str:
    """A digest of the scanner's own files: what a memo of the scanner's conclusions about a file (``found
    nothing``) is kept under, so that another build of the scanner looks again. A scanner that does not know
    its files (a build without the list) gets one of its own each run: its memos are never trusted."""
    digests = sorted(shipped_digests())
    return hashlib.sha256("\n".join(digests).encode()).hexdigest()[:32] if digests else os.urandom(16).hex()


class OwnDigests:
    """The digests of the scanner's own files as the collectors ask for them: ``given`` (what it wrote or
    was given), then what it shipped, looked up only when a collector first asks (a source tree's
    digests take 10 ms to compute, which an audit that meets no file naming a provider never needs)."""

    __slots__ = ("given",)

    def __init__(self, given: frozenset[str]) -> None:
        self.given = given

    def __contains__(self, digest: object) -> bool:
        return digest in self.given or digest in shipped_digests()
