"""Findings grouped by what they have in common and the folder they are in, for result sets too large
to read one by one.

The terminal table and the officials' pages group alike: a group is a key (severity, provider, kind...)
and a folder, and folders are cut to fewer parts until the groups fit the room there is, so ten
thousand findings in one tree read as one line rather than ten thousand.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

Finding = dict[str, Any]


@dataclass(frozen=True)
class Group:
    """Findings that share a key and a folder, in report order."""

    key: tuple[str, ...]
    folder: str
    findings: tuple[Finding, ...]


def group_by_folder(findings: Sequence[Finding], key: Callable[[Finding], tuple[str, ...]], most: int) -> list[Group]:
    """The findings in groups of one key and one folder, the folders cut to as few parts as it takes to
    make at most ``most`` groups (never less than one part: there may still be more groups than that).
    Groups come in the order of their first finding."""
    folders = [folder_parts(f["location"]["path"]) for f in findings]
    depth = max((len(parts) for parts in folders), default=0)
    while True:
        grouped: dict[tuple[tuple[str, ...], str], list[Finding]] = {}
        for finding, parts in zip(findings, folders, strict=True):
            grouped.setdefault((key(finding), joined(parts[:depth])), []).append(finding)
        if len(grouped) <= most or depth <= 1:
            return [Group(k, folder, tuple(members)) for (k, folder), members in grouped.items()]
        depth -= 1


def folder_parts(path: str) -> tuple[str, ...]:
    """The folder of a finding's place (``env:``, ``registry:`` and other non-paths are their own folder)."""
    if not path.startswith("/"):
        return (path.split(":", 1)[0] + ":",) if ":" in path else (path,)
    return PurePosixPath(path).parent.parts


def joined(parts: tuple[str, ...]) -> str:
    if not parts:
        return "-"
    if parts[0] == "/":
        return "/" + "/".join(parts[1:])
    return "/".join(parts)


def inside(folder: str, place: str) -> str:
    """``place`` as seen from ``folder`` (``/home`` and ``/home/a/.env:1`` give ``a/.env:1``), so a grouped
    table need not repeat the folder on every row; a place outside it is given whole."""
    if folder == "/":
        return place.removeprefix("/") or place
    return place[len(folder) + 1 :] if place.startswith(folder + "/") else place
