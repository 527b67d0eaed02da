r"""Which Python environment a ``site-packages`` folder or a conda prefix belongs to.

The layout says most of it (``<prefix>/lib/python3.11/site-packages``, Windows
``<prefix>/Lib/site-packages``, Debian ``/usr/lib/python3/dist-packages``); marker files say
the rest: ``pyvenv.cfg`` makes a venv (a pipx venv when under ``pipx/venvs``), ``conda-meta/``
a conda environment, ``~/.local`` a user site. User sites have their own layouts on Windows
(``%APPDATA%\Python\Python311\site-packages``, the Microsoft Store's ``local-packages\Python311``)
and on macOS (``~/Library/Python/3.11/lib/python/site-packages``). Answers are cached per folder:
every package in one ``site-packages`` asks the same question.
"""

from __future__ import annotations

import os
import re

from scanner.ecosystems import EnvironmentKind
from scanner.fsview import FileRefused, RootFS
from scanner.records import Environment

SITE_DIR_NAMES = frozenset({"site-packages", "dist-packages"})
_PYTHON_DIR = re.compile(r"^python(\d+(?:\.\d+)?)t?$")
_LIB_DIRS = frozenset({"lib", "lib64", "lib32"})
_WINDOWS_USER_DIR = re.compile(r"^python(\d)(\d+)(?:-32|-arm64)?$", re.IGNORECASE)
"""``Python311``, ``Python311-32``: a Windows user site's folder, under ``Python`` or ``local-packages``."""
_WINDOWS_USER_PARENTS = frozenset({"python", "local-packages"})
_MACOS_VERSION = re.compile(r"^(\d+\.\d+)$")
_PYVENV_VERSION = re.compile(r"^\s*version(?:_info)?\s*=\s*(\d+\.\d+)", re.MULTILINE)


class EnvironmentResolver:
    """Resolves and caches environments for one scan."""

    def __init__(self, fs: RootFS) -> None:
        self.fs = fs
        self._cache: dict[str, Environment] = {}

    def for_site_dir(self, site_real: str) -> Environment:
        """The environment owning a ``site-packages``/``dist-packages`` folder (real path)."""
        cached = self._cache.get(site_real)
        if cached is None:
            cached = self._cache[site_real] = self._resolve_site_dir(site_real)
        return cached

    def for_prefix(self, prefix_real: str) -> Environment:
        """The environment whose prefix is this folder (used for ``conda-meta``)."""
        key = "prefix:" + prefix_real
        cached = self._cache.get(key)
        if cached is None:
            cached = self._cache[key] = self._classify(prefix_real, None)
        return cached

    def _resolve_site_dir(self, site_real: str) -> Environment:
        parent = os.path.dirname(site_real)
        parent_name = os.path.basename(parent)
        python_dir = _PYTHON_DIR.match(parent_name)
        grandparent = os.path.dirname(parent)
        if python_dir and os.path.basename(grandparent).lower() in _LIB_DIRS:
            return self._classify(os.path.dirname(grandparent), python_dir.group(1))
        if parent_name.lower() == "lib":  # Windows layout: <prefix>\Lib\site-packages
            return self._classify(grandparent, None)
        user = self._user_site(parent, parent_name, grandparent)
        if user is not None:
            return user
        return Environment(path=self.fs.to_display(site_real), kind=EnvironmentKind.UNKNOWN)

    def _user_site(self, parent: str, parent_name: str, grandparent: str) -> Environment | None:
        """A Windows or macOS user site (``pip install --user``), or ``None``."""
        windows = _WINDOWS_USER_DIR.match(parent_name)
        if windows and os.path.basename(grandparent).lower() in _WINDOWS_USER_PARENTS:
            python = f"{windows.group(1)}.{windows.group(2)}"
            return Environment(path=self.fs.to_display(parent), kind=EnvironmentKind.USER_SITE, python=python)
        version_dir = os.path.dirname(grandparent)
        macos = _MACOS_VERSION.match(os.path.basename(version_dir))
        if (
            parent_name == "python"
            and os.path.basename(grandparent) == "lib"
            and macos
            and os.path.basename(os.path.dirname(version_dir)) == "Python"
        ):
            return Environment(
                path=self.fs.to_display(version_dir), kind=EnvironmentKind.USER_SITE, python=macos.group(1)
            )
        return None

    def _classify(self, prefix_real: str, python: str | None) -> Environment:
        display = self.fs.to_display(prefix_real)
        kind: EnvironmentKind
        pyvenv = os.path.join(prefix_real, "pyvenv.cfg")
        if self.fs.exists(pyvenv):
            kind = (
                EnvironmentKind.PIPX if "/pipx/venvs/" in display.replace(os.sep, "/") + "/" else EnvironmentKind.VENV
            )
            python = python or self._pyvenv_version(pyvenv)
        elif os.path.isdir(os.path.join(prefix_real, "conda-meta")):
            kind = EnvironmentKind.CONDA
        elif display.replace(os.sep, "/").endswith("/.local"):
            kind = EnvironmentKind.USER_SITE
        elif "/.pyenv/versions/" in display.replace(os.sep, "/"):
            kind = EnvironmentKind.PYENV
        else:
            kind = EnvironmentKind.SYSTEM
        return Environment(path=display, kind=kind, python=python)

    def _pyvenv_version(self, pyvenv_real: str) -> str | None:
        try:
            text, _ = self.fs.read_text(pyvenv_real, 64 * 1024)
        except (OSError, FileRefused):
            return None
        match = _PYVENV_VERSION.search(text)
        return match.group(1) if match else None
