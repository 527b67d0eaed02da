"""Which Python environment a ``site-packages`` folder or a conda prefix belongs to.

The layout says most of it (``<prefix>/lib/python3.11/site-packages``, Windows
``<prefix>/Lib/site-packages``, Debian ``/usr/lib/python3/dist-packages``); marker files say
the rest: ``pyvenv.cfg`` makes a venv (a pipx venv when under ``pipx/venvs``), ``conda-meta/``
a conda environment, ``~/.local`` a user site. Answers are cached per folder: every package in
one ``site-packages`` asks the same question.
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
        return Environment(path=self.fs.to_display(site_real), kind=EnvironmentKind.UNKNOWN)

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
