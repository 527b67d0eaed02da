"""The times logs write, as ISO 8601 UTC (``2026-12-05T10:01:02Z``), to the second.

Syslog lines (``Dec  5 10:01:02``) carry no year: it is taken from the file's modification time, and a
date that would then fall after that time belongs to the year before (a log spanning New Year). Syslog
and BIND's default times are the local time of the machine that wrote them, read here as the local time
of the machine running the scan (where such logs normally are). Every result has the same shape, so
times compare as strings.
"""

from __future__ import annotations

import functools
import math
import re
from datetime import datetime, timedelta, timezone

_MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
_SYSLOG = re.compile(r"(?P<mon>[A-Z][a-z]{2}) +(?P<day>\d{1,2}) (?P<h>\d\d):(?P<m>\d\d):(?P<s>\d\d)")
_BIND = re.compile(
    r"(?P<day>\d\d)-(?P<mon>[A-Z][a-z]{2})-(?P<year>\d{4}) (?P<h>\d\d):(?P<m>\d\d):(?P<s>\d\d)(?:\.\d+)?"
)
_ISO = re.compile(
    r"(?P<year>\d{4})-(?P<mon>\d\d)-(?P<day>\d\d)[T ](?P<h>\d\d):(?P<m>\d\d):(?P<s>\d\d)(?:[.,]\d+)?"
    r"(?P<zone>Z|[+-]\d\d:?\d\d)?"
)
SYSLOG_TIME = r"[A-Z][a-z]{2} +\d{1,2} \d\d:\d\d:\d\d"
BIND_TIME = r"\d\d-[A-Z][a-z]{2}-\d{4} \d\d:\d\d:\d\d(?:\.\d+)?"
ISO_TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?"
"""The same shapes, for the line patterns of the log readers."""

CLOCK_SLACK = timedelta(minutes=1)
"""A line may be dated a little after its file's time (file systems that keep whole or even seconds)."""


def _utc(moment: datetime) -> str:
    """Naive times are local (``astimezone`` reads them so); raises ``ValueError`` for a time out of range."""
    try:
        return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError) as error:
        raise ValueError(f"not a time: {moment}") from error


def epoch_time(value: str) -> str:
    """Epoch seconds (Zeek, squid); ``ValueError`` for anything that is no time (``1e300``, ``inf``, ``nan``)."""
    try:
        seconds = math.floor(float(value))
    except OverflowError as error:
        raise ValueError(f"not a time: {value[:40]!r}") from error
    return _epoch_minute(seconds // 60) + f"{seconds % 60:02d}Z"


@functools.lru_cache(maxsize=256)
def _epoch_minute(minute: int) -> str:
    """``2026-12-05T10:01:``: a busy log's lines share their minute, and formatting a time is dear."""
    try:
        moment = datetime.fromtimestamp(minute * 60, tz=timezone.utc)
    except (OverflowError, OSError, ValueError) as error:
        raise ValueError(f"not a time: minute {minute}") from error
    return moment.strftime("%Y-%m-%dT%H:%M:")


def iso_time(value: str) -> str:
    """An ISO 8601 / RFC 3339 time (rsyslog's precise format, BIND's ``print-time iso8601``, Zeek's JSON
    ``TS_ISO8601``); without a zone it is local time."""
    match = _ISO.fullmatch(value)
    if not match:
        raise ValueError(f"not a time: {value[:40]!r}")
    zone = match["zone"]
    tz = None
    if zone == "Z":
        tz = timezone.utc
    elif zone:
        digits = zone[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        tz = timezone(-offset if zone[0] == "-" else offset)
    year, month, day, hour, minute, second = (int(match[k]) for k in ("year", "mon", "day", "h", "m", "s"))
    try:
        moment = datetime(year, month, day, hour, minute, second, tzinfo=tz)
    except ValueError as error:
        raise ValueError(f"not a time: {value[:40]!r}") from error
    return _utc(moment)


def bind_time(value: str) -> str:
    """BIND's default ``29-Nov-2026 10:00:01.123``, local time."""
    match = _BIND.fullmatch(value)
    if not match or match["mon"] not in _MONTHS:
        raise ValueError(f"not a time: {value[:40]!r}")
    day, hour, minute, second = (int(match[k]) for k in ("day", "h", "m", "s"))
    return _utc(datetime(int(match["year"]), _MONTHS[match["mon"]], day, hour, minute, second))


class SyslogClock:
    """Dates syslog lines by their file's modification time (see the module's docstring)."""

    def __init__(self, mtime: float) -> None:
        try:
            self.until = datetime.fromtimestamp(mtime) + CLOCK_SLACK
        except (OverflowError, OSError, ValueError):  # a file dated past year 9999: no year to lean on but now
            self.until = datetime.now() + CLOCK_SLACK
        self._minute = ("", "")  # a log's lines share their minute: its date and zone are worked out once

    def __call__(self, value: str) -> str:
        minute, seconds = value[:-3], value[-2:]
        if minute == self._minute[0] and seconds.isascii() and seconds.isdigit() and seconds < "60":
            return self._minute[1] + seconds + "Z"
        match = _SYSLOG.fullmatch(value)
        if not match or match["mon"] not in _MONTHS:
            raise ValueError(f"not a time: {value[:40]!r}")
        month, day, hour, minute_, second = (_MONTHS[match["mon"]], *(int(match[k]) for k in ("day", "h", "m", "s")))
        # The latest year that does not put the line after its file's time; Feb 29 looks back to a leap year.
        for year in range(self.until.year, self.until.year - 6, -1):
            try:
                moment = datetime(year, month, day, hour, minute_, second)
            except ValueError:
                continue
            if moment <= self.until:
                utc = _utc(moment)
                whole = moment.replace(second=0) <= self.until - timedelta(minutes=1)
                if whole and utc[-3:-1] == seconds:  # the minute is before the file's time; its offset whole minutes
                    self._minute = (minute, utc[:-3])
                return utc
        raise ValueError(f"not a time: {value[:40]!r}")
