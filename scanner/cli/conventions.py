"""What every command's help and errors look like: real placeholders, and "did you mean" for a mistyped choice.

Applied to the command tree as Typer hands out its commands (``ScannerGroup``), so that no command can
forget it: ``--exclude GLOB`` rather than ``<list[str]>``, ``--policy POLICY``, and ``--format jsn``
answered with ``Did you mean 'json'?``. Typer's own classes are reached by their attributes only (the
parameters' ``is_flag``, a group's ``commands``): Typer has moved between click and its own copy of it.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

import typer
from typer.core import TyperGroup

PLACEHOLDERS: dict[str, str] = {
    "paths": "PATH",
    "root": "DIR",
    "exclude": "GLOB",
    "policy": "POLICY",
    "policies": "POLICY",
    "format": "FORMAT",
    "fail_on": "SEVERITY",
    "include_fstype": "TYPE",
    "submit": "URL",
    "url": "URL",
    "tag": "KEY=VALUE",
    "host": "HOST",
    "scan_id": "SCAN",
    "old": "SCAN",
    "new": "SCAN",
    "target": "MODEL",
    "limit": "N",
    "stale_days": "DAYS",
    "listen": "ADDRESS",
    "port": "PORT",
}
"""Placeholders by parameter name; a file by its name (``--token-file FILE``), anything else its name."""


class ScannerGroup(TyperGroup):
    """Every group of the ``scanner`` command: conforms the commands it hands out, and answers a
    mistyped choice with the nearest one."""

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _conform(command)
        return command

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except typer.BadParameter as error:
            error.message = with_suggestion(error.message)
            raise


def _conform(command: Any) -> None:
    for param in command.params:
        if getattr(param, "is_flag", False) or getattr(param, "count", False):
            continue
        placeholder = PLACEHOLDERS.get(param.name or "") or _by_name(param.name or "")
        if getattr(param, "param_type_name", "") == "argument":
            param.display_type_rich = _no_type  # the name column says it
        param.metavar = placeholder
        names = [str(getattr(c, "value", c)) for c in _choices(param)]
        if names and param.help is not None and "One of:" not in param.help:
            param.help = f"{param.help.rstrip()} One of: {', '.join(names)}."


def _choices(param: Any) -> tuple[Any, ...]:
    described = getattr(param, "type_descriptor", None)  # Typer's own parameter types
    if described is not None and getattr(described, "is_choice", False):
        return tuple(described.choices or ())
    return tuple(getattr(getattr(param, "type", None), "choices", None) or ())


def _no_type(ctx: Any) -> None:
    return None


def _by_name(name: str) -> str:
    if name.endswith(("_file", "_log", "_cert", "waivers", "output", "config", "db", "files")):
        return "FILE"
    return name.upper()


_NOT_ONE_OF = re.compile(r"'(?P<value>[^']*)' is not one of (?P<choices>.*)\.$")


def with_suggestion(message: str) -> str:
    """``'jsn' is not one of 'table', 'json', ….`` with ``Did you mean 'json'?`` after it."""
    found = _NOT_ONE_OF.search(message)
    if found is None:
        return message
    choices = re.findall(r"'([^']*)'", found.group("choices"))
    near = difflib.get_close_matches(found.group("value").lower(), choices, n=1, cutoff=0.5)
    return f"{message} Did you mean {near[0]!r}?" if near else message
