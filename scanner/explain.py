"""``scanner lineage``: explain one model — what its files say, what it descends from, and the verdict.

A path is scanned like an audit limited to that path (so its own files and any local base models
under it count); anything else is taken as a model name (``deepseek-ai/DeepSeek-R1-Distill-Qwen-7B``,
``deepseek-r1:7b``) and judged by what the policy knows about that name.
"""

from __future__ import annotations

import os
import re

from scanner.audit import AuditOptions, run_audit
from scanner.errors import UsageError
from scanner.fsview import RootFS
from scanner.lineage.graph import identify
from scanner.lineage.hub import Hub
from scanner.policy.engine import evaluate
from scanner.policy.schema import Policy
from scanner.records import Clue, Location, ModelRecord, Skipped
from scanner.result import Explanation
from scanner.vocabulary import ModelStore, SkipKind


def _is_path(target: str, root: str | None) -> bool:
    if root is None:
        return os.path.lexists(target)
    fs = RootFS(root)
    return os.path.lexists(fs.to_real(os.path.normpath("/" + target.lstrip("/"))))


_PATH_LIKE = re.compile(r"^(?:[/\\~]|\.\.?(?:[/\\]|$)|[A-Za-z]:[/\\])|\\")
"""Absolute, home-relative, dot-relative and Windows paths: no model name is written like that
(``deepseek-ai/DeepSeek-R1`` and ``deepseek-r1:7b`` are not)."""


def explain(target: str, policy: Policy, root: str | None = None, online: bool = False) -> Explanation:
    """Raises ``UsageError`` for a path that does not exist: a mistyped path must not read as a clean model."""
    if _is_path(target, root):
        result = run_audit(AuditOptions(paths=(target,), root=root, online=online), policy)
        models = tuple(r for r in result.records if isinstance(r, ModelRecord))
        findings = tuple(f for f in result.findings if f.kind == "model")
        return Explanation(target, models, findings, tuple(result.coverage.skipped))
    if _PATH_LIKE.search(target):
        where = f" under --root {root}" if root else ""
        raise UsageError(f"{target}: no such file or folder{where} (a model name is written like deepseek-r1:7b)")
    named = ModelRecord(
        name=target,
        version=None,
        store=ModelStore.REFERENCE,
        format="name only",
        files=(),
        clues=(Clue("name", target, "command line", "-"),),
        locations=(Location(target),),
        found_by="scanner lineage",
    )
    hub = Hub() if online else None
    models = tuple(r for r in identify([named], hub) if isinstance(r, ModelRecord))
    failures = tuple(Skipped(hub.endpoint, f, SkipKind.UNREADABLE) for f in hub.failures) if hub else ()
    return Explanation(target, models, tuple(evaluate(models, policy)), failures)
