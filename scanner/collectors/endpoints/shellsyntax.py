"""Environment assignments in the shells of Windows and macOS, read as data with one regular expression
pass per line (linear in the line's length; nothing is run or expanded).

PowerShell: ``$env:NAME = value``, ``${env:NAME} = value``, ``[Environment]::SetEnvironmentVariable("NAME",
"value", "User")`` (``[System.Environment]`` too) and ``Set-Item``/``New-Item``/``Set-Content`` on
``env:NAME``. Batch files: ``set NAME=value``, ``set "NAME=value"`` and ``setx NAME value [/M]`` (which
writes the user's or the machine's environment in the registry). launchd: ``setenv NAME value`` lines of
``/etc/launchd.conf`` and ``launchctl setenv NAME value`` in any shell file.
"""

from __future__ import annotations

import re

from scanner.patterns import LazyPattern

_VALUE = r"""(?:"((?:[^"`]|`.)*)"|'((?:[^']|'')*)'|([^\s;)'"]+))"""
_PS_ASSIGN = LazyPattern(r"\$\{?env:([A-Za-z_][\w.]*)\}?\s*=\s*" + _VALUE, re.IGNORECASE)
_PS_SET_VARIABLE = LazyPattern(
    r"\[(?:System\.)?Environment\]::SetEnvironmentVariable\(\s*[\"']([A-Za-z_][\w.]*)[\"']\s*,\s*" + _VALUE,
    re.IGNORECASE,
)
_PS_ITEM = LazyPattern(
    r"\b(?:Set-Item|New-Item|Set-Content|Add-Content|si|ni)\b(?:\s+-(?:Path|LiteralPath))?\s+[\"']?env:\\?"
    r"([A-Za-z_][\w.]*)[\"']?(?:\s+-(?:Value|Force))*\s+" + _VALUE,
    re.IGNORECASE,
)
_BATCH_SET = LazyPattern(r"^\s*@?set\s+(?!/[ap]\b)(?:\"([A-Za-z_][\w.]*)=([^\"]*)\"|([A-Za-z_][\w.]*)=(.*))$", re.I)
_BATCH_SETX = LazyPattern(r"^\s*@?setx\s+([A-Za-z_][\w.]*)\s+" + _VALUE, re.IGNORECASE)
_BATCH_COMMENT = LazyPattern(r"^\s*@?(?:rem\b|::)", re.IGNORECASE)
_LAUNCHCTL = LazyPattern(r"(?:^|[\s;&|])(?:launchctl\s+)?setenv\s+([A-Za-z_]\w*)\s+" + _VALUE)
_PS_COMMENT = LazyPattern(r"(?:^|\s)#")
_COMMANDS = LazyPattern(r"&&|\|\||&")
r"""No ``\s*`` around it: tried at every position, one would rescan a run of blanks from each of its
characters (2.5 s for one 16 KiB line of spaces); each command is stripped instead."""
LINE_CAP = 16 << 10
"""Longer lines are not configuration anyone typed; the expressions stay linear, this keeps them short."""


def _value(match: re.Match[str], first: int) -> str:
    double, single, bare = match.group(first, first + 1, first + 2)
    if double is not None:
        return double.replace("`", "")
    if single is not None:
        return single.replace("''", "'")
    return bare or ""


def powershell_pairs(line: str) -> list[tuple[str, str]]:
    """Every variable a PowerShell line sets (several may be set on one line, after ``;``)."""
    code = _PS_COMMENT.split(line[:LINE_CAP], maxsplit=1)[0]
    pairs = [(m.group(1), _value(m, 2)) for m in _PS_ASSIGN.finditer(code)]
    pairs += [(m.group(1), _value(m, 2)) for m in _PS_SET_VARIABLE.finditer(code)]
    pairs += [(m.group(1), _value(m, 2)) for m in _PS_ITEM.finditer(code)]
    return pairs


def batch_pairs(line: str) -> list[tuple[str, str]]:
    """The variables a batch line sets with ``set`` or ``setx`` (commands joined by ``&``/``&&`` too)."""
    if _BATCH_COMMENT.match(line):
        return []
    pairs = []
    for command in _COMMANDS.split(line[:LINE_CAP]):
        command = command.strip()
        match = _BATCH_SET.match(command)
        if match:
            quoted = match.group(1) is not None
            name, value = match.group(1, 2) if quoted else match.group(3, 4)
            pairs.append((name, value.strip()))
            continue
        setx = _BATCH_SETX.match(command)
        if setx:
            pairs.append((setx.group(1), _value(setx, 2)))
    return pairs


def launchd_pairs(line: str) -> list[tuple[str, str]]:
    """``setenv NAME value`` (``/etc/launchd.conf``) and ``launchctl setenv NAME value`` (any shell file)."""
    code = line[:LINE_CAP]
    return [(m.group(1), _value(m, 2)) for m in _LAUNCHCTL.finditer(code)] if "setenv" in code else []
