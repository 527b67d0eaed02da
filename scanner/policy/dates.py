"""The policy's dates (a source's ``YYYY-MM-DD``, ``YYYY-MM`` or ``YYYY``; a waiver's expiry day), read.

Exactly what ``datetime.strptime`` accepts for these forms — its own patterns for ``%Y``, ``%m`` and
``%d`` (so ``2026-1-5`` and a space-padded day ``2026-01- 5`` too, and other scripts' digits), then the
calendar's check — without its locale set-up: importing ``_strptime`` and learning the locale's month
and day names cost 5 ms of every audit for the bundled policy's two hundred dates (start-up).
"""

from __future__ import annotations

import re
from datetime import date

_YEAR = r"(\d\d\d\d)"
_MONTH = r"(1[0-2]|0[1-9]|[1-9])"
_DAY = r"(3[01]|[12]\d|0[1-9]|[1-9]| [1-9])"
FORMS: dict[str, re.Pattern[str]] = {
    "%Y-%m-%d": re.compile(f"{_YEAR}-{_MONTH}-{_DAY}"),
    "%Y-%m": re.compile(f"{_YEAR}-{_MONTH}"),
    "%Y": re.compile(_YEAR),
}
"""``_strptime.TimeRE``'s patterns, matched whole as ``strptime`` requires (no unconverted data)."""


def read_date(value: str, form: str) -> date | None:
    """The first day ``value`` names in ``form`` (a key of ``FORMS``), or ``None`` where ``strptime`` fails."""
    found = FORMS[form].fullmatch(value)
    if found is None:
        return None
    year, month, day = (*map(int, found.groups()), 1, 1)[:3]
    try:
        return date(year, month, day)
    except ValueError:  # a day past the month's end, or the year 0
        return None
