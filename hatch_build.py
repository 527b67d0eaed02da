"""Build hook: ship with the wheel the digests of every file of the project (``scanner/_own_files.txt``),
so that an installed scanner knows a clone or source archive of its own version by content and does not
judge its tests and policies as use (``scanner/own.py``), and each bundled policy composed and checked by
the code it ships with (``NAME.composed.json``, ``scanner/policy/compiled.py``), so that no run spends
its start-up reading YAML."""

from __future__ import annotations

import hashlib
import sys
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class OwnFilesHook(BuildHookInterface):  # type: ignore[misc]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version == "editable":
            return  # an editable install computes the digests from its source tree, and reads YAML
        sys.path.insert(0, self.root)
        try:
            from scanner.own import SHIPPED, project_digests
            from scanner.policy.compiled import SUFFIX, composition
            from scanner.policy.loader import bundled_dir, bundled_names, load_policy_sources
        finally:
            sys.path.remove(self.root)
        made = Path(tempfile.mkdtemp())
        digests = project_digests(Path(self.root))
        for name in bundled_names():
            policy, sources = load_policy_sources([name])
            if len(sources.files) != 1:
                continue  # an included file is shown by where it lies, which only the installed scanner knows
            out = made / f"{name}{SUFFIX}"
            out.write_bytes(composition(policy, sources.files, bundled_dir()))
            build_data["force_include"][str(out)] = f"scanner/_bundled_policies/{out.name}"
            digests.append(hashlib.sha256(out.read_bytes()).hexdigest())  # it names what it bans: the scanner's own
        out = made / SHIPPED
        out.write_text("\n".join(sorted(set(digests))) + "\n", encoding="ascii")
        build_data["force_include"][str(out)] = f"scanner/{SHIPPED}"
