"""``scanner lineage``: explain one model file, folder or name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from scanner.cli.common import EXIT_FOUND, EXIT_OK, ListFormat, fail, policy_option, write
from scanner.errors import ScannerError
from scanner.explain import explain
from scanner.limits import shown_all
from scanner.policy.loader import load_policy
from scanner.printable import json_printable
from scanner.reporters.terminal import explanation_text
from scanner.vocabulary import Severity


def lineage(
    target: Annotated[str, typer.Argument(help="A model file or folder, or a model name such as deepseek-r1:7b.")],
    root: Annotated[Path | None, typer.Option(help="Treat DIR as the machine's / (as for audit).")] = None,
    policy: Annotated[list[str] | None, policy_option()] = None,
    format: Annotated[ListFormat, typer.Option("--format", "-f", help="Output format.")] = ListFormat.TABLE,
    online: Annotated[bool, typer.Option("--online", help="Follow base_model chains on the Hugging Face Hub.")] = False,
) -> None:
    """Explain one model: its names, declared lineage, fingerprints and the verdict with its chain.

    Example: scanner lineage ~/.cache/huggingface/hub/models--unsloth--DeepSeek-R1-Distill-Qwen-7B-GGUF
    """
    try:
        explanation = explain(target, load_policy(policy or []), str(root) if root else None, online)
    except ScannerError as error:
        fail(error)
    if format is ListFormat.JSON:
        data = {
            "models": [{"name": m.name, "version": m.version, **m.attributes()} for m in explanation.models],
            "findings": [f.to_dict() for f in explanation.findings],
            "skipped": [s.to_dict() for s in explanation.skipped],
        }
        write(json_printable(json.dumps(shown_all(data), indent=2, ensure_ascii=False)) + "\n")
    else:
        write(explanation_text(explanation))
    raise typer.Exit(EXIT_FOUND if any(f.severity is Severity.VIOLATION for f in explanation.findings) else EXIT_OK)
