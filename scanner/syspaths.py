"""Where each operating system keeps the files we read by their place, however a disk shows them.

The same place is written ``/etc/hosts`` on Linux, ``/private/etc/hosts`` on macOS (``/etc`` is a link
there) and ``C:\\Windows\\System32\\drivers\\etc\\hosts`` on Windows — which a scan of a mounted Windows
disk meets as ``/Windows/System32/...`` or ``/C:/Windows/System32/...`` and a native Windows scan as
``C:\\Windows\\...``. ``canonical`` writes all of these one way, so each place is named once here.
"""

from __future__ import annotations

import re

_DRIVE = re.compile(r"^/?[A-Za-z]:(?=/|$)")

HOSTS_FILES = frozenset({"/etc/hosts", "/windows/system32/drivers/etc/hosts"})
SYSTEM_SHELL_FILES = frozenset(
    {"/etc/environment", "/etc/profile", "/etc/bashrc", "/etc/bash.bashrc", "/etc/zshrc", "/etc/zprofile",
     "/etc/zshenv", "/etc/zlogin", "/etc/zsh/zshrc", "/etc/zsh/zprofile", "/etc/zsh/zshenv", "/etc/zsh/zlogin"}
)  # fmt: skip
"""Start-up files every user's shell reads (Debian's ``/etc/zsh/``, macOS's ``/etc/zshrc``)."""
LAUNCHD_CONF = "/etc/launchd.conf"
"""Older macOS: ``setenv NAME value`` lines launchd applied to every process."""


def canonical(path: str) -> str:
    """``path`` with ``/`` separators, no drive letter, macOS's ``/private`` folded into ``/etc`` and
    ``/var``, in lower case when it is a Windows path (Windows names ignore case)."""
    path = path.replace("\\", "/")
    drive = _DRIVE.match(path)
    if drive:
        path = path[drive.end() :] or "/"
    if not path.startswith("/"):
        path = "/" + path
    if path.startswith(("/private/etc/", "/private/var/")):
        path = path[len("/private") :]
    lower = path.lower()
    return lower if drive or lower.startswith(("/windows/", "/users/", "/program files", "/programdata/")) else path


def is_hosts_file(path: str) -> bool:
    return canonical(path) in HOSTS_FILES


def is_system_shell_file(path: str) -> bool:
    return canonical(path) in SYSTEM_SHELL_FILES


def is_powershell_profile(name: str) -> bool:
    """The four profiles of Windows PowerShell 5.1 and PowerShell 7 are ``profile.ps1`` and
    ``<host>_profile.ps1`` (``Microsoft.PowerShell_profile.ps1``, ``Microsoft.VSCode_profile.ps1``)."""
    lower = name.lower()
    return lower == "profile.ps1" or lower.endswith("_profile.ps1")
