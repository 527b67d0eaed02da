"""Errors for bad *whole* inputs (policy, arguments, store).

One bad file met during a scan is not an error: it becomes a ``Skipped`` record and the scan goes
on. These exceptions are for inputs without which the scan cannot mean anything; ``cli.py`` is the
only place that turns them into a message and exit code 2.
"""

from __future__ import annotations


class ScannerError(Exception):
    """Base class; the message is complete and ready to show to a user."""


class UsageError(ScannerError):
    """Arguments that cannot work together, or a scan root that does not exist."""


class PolicyError(ScannerError):
    """A policy file that cannot be read or is invalid; the message starts with ``file:line:``."""

    def __init__(self, file: str, line: int | None, field: str | None, message: str) -> None:
        self.file = file
        self.line = line
        self.field = field
        self.message = message
        where = f"{file}:{line}" if line else file
        what = f"{field}: {message}" if field else message
        super().__init__(f"{where}: {what}")


class BundleError(ScannerError):
    """A signed policy bundle that cannot be made, fetched or trusted (unsigned, changed after signing, signed
    by another key, malformed), or a key file that cannot be used."""


class ReportError(ScannerError):
    """A report could not be written (for example an unwritable ``--output`` path)."""


class StoreError(ScannerError):
    """The local store cannot be opened, is damaged, or was written by a newer scanner; starts with its path."""


class ConfigError(PolicyError):
    """An agent configuration file (``--config``) that cannot be read or is invalid; starts with ``file:line:``."""
