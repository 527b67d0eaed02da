"""What a collector asks the walk for (``Interest``) and what the walk hands it (``Entry``).

The contract between the walk and the collectors, apart from the walk itself: collectors name what they
want by names only, so that handing it over costs no system call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Entry:
    """One path met by the walk."""

    real_path: str
    """Where it is on disk (under ``--root`` when one is given)."""
    path: str
    """Where it is as seen from inside the scanned root; the only path reports show."""
    name: str
    """The raw name, for matching; may hold undecodable bytes, so show ``path`` instead."""
    is_dir: bool
    parent_name: str


@dataclass(frozen=True)
class Interest:
    """Which entries a collector wants. Matching is by name only, so dispatch costs no system call."""

    dir_suffixes: frozenset[str] = frozenset()
    """Folders whose name ends with one of these (``.dist-info``)."""
    file_suffixes: frozenset[str] = frozenset()
    """Files whose name ends with one of these, compared in lower case (``.egg-info``, ``.gguf``)."""
    file_names: frozenset[str] = frozenset()
    """Files with exactly this name (``.env``)."""
    files_in_dirs: frozenset[str] = frozenset()
    """Every file directly inside a folder of this name (``conda-meta``, ``blobs``)."""
    files_below_dirs: frozenset[str] = frozenset()
    """Every file anywhere below a folder of this name (``manifests`` of an Ollama store)."""
    extensionless_files: bool = False
    """Every file whose name has no extension (a renamed GGUF, a blob); collectors sniff them."""
    extensionless_min_size: int = 0
    """Of those, only files of this size or more, measured by the walk below their open folder (``fstatat``,
    no open; one that grows past it only then is seen by the next scan). Most files without an extension
    are small (licences, time zones, git objects, scripts): 19,500 on this machine, each handed over to
    be measured and passed over, cost a tenth of a re-scan."""
    every_file_in: Callable[[str], bool] | None = None
    """Every file directly in a folder this accepts (given the folder's path as seen inside the root): the
    text scan reads every file people wrote, and leaves installed and system trees out by folder, once
    per folder rather than once per file."""


class Visitor(Protocol):
    """What the walker needs of a collector."""

    @property
    def id(self) -> str: ...

    @property
    def interest(self) -> Interest: ...

    def visit(self, entry: Entry) -> None: ...
