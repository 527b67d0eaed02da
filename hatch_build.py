"""Build hook: ship the digests of every file of the project with the wheel (``scanner/_own_files.txt``),
so that an installed scanner knows a clone or source archive of its own version by content and does
not judge its tests and policies as use (``scanner/own.py``)."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class OwnFilesHook(BuildHookInterface):  # type: ignore[misc]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version == "editable":
            return  # an editable install computes the digests from the source tree it runs from
        sys.path.insert(0, self.root)
        try:
            from scanner.own import SHIPPED, project_digests
        finally:
            sys.path.remove(self.root)
        out = Path(tempfile.mkdtemp()) / SHIPPED
        out.write_text("\n".join(project_digests(Path(self.root))) + "\n", encoding="ascii")
        build_data["force_include"][str(out)] = f"scanner/{SHIPPED}"
