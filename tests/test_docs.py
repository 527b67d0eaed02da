"""The docs stay true: README commands, CLI commands and options, policy keys and rule ids."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import typer.main

from scanner.cli.app import app
from scanner.policy import schema
from scanner.vocabulary import RULES

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
POLICY_README = (ROOT / "policies" / "README.md").read_text()


def readme_commands() -> list[str]:
    block = re.search(r"```sh\n(.*?)```", README, re.S)
    assert block and README.index(block.group(0)) < README.index("\n## "), "the two commands open the README"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_readme_opens_with_exactly_two_commands_and_ci_runs_the_second() -> None:
    install_and_audit, test = readme_commands()
    assert "pip install ." in install_and_audit and install_and_audit.endswith("scanner audit")
    assert "[test]" in test and "pytest" in test
    ci = (ROOT / ".ci" / "run").read_text()
    assert test in ci.splitlines()


def _commands() -> dict[str, Any]:
    """Every command as its click-style object, nested groups included (``fleet token add``)."""
    found: dict[str, Any] = {}

    def collect(prefix: str, group: Any) -> None:
        for name, command in group.commands.items():
            if hasattr(command, "commands"):
                collect(f"{prefix}{name} ", command)
            else:
                found[prefix + name] = command

    collect("", typer.main.get_command(app))
    return found


def test_every_cli_command_and_option_is_documented_in_the_readme() -> None:
    commands = _commands()
    assert set(commands) == {
        "audit",
        "diff",
        "fleet hosts",
        "fleet prune",
        "fleet show",
        "fleet summary",
        "fleet token add",
        "fleet token revoke",
        "fleet user add",
        "fleet user list",
        "fleet user remove",
        "fleet user token",
        "history",
        "ingest",
        "lineage",
        "policy digests",
        "policy keygen",
        "policy list",
        "policy show",
        "policy sign",
        "policy validate",
        "prune",
        "serve",
        "show",
        "submit",
    }
    for name, command in commands.items():
        assert f"scanner {name}" in README, name
        assert command.help and "Example: scanner" in command.help, f"{name} --help ends with an example"
        for param in command.params:
            for option in getattr(param, "opts", []):
                if option.startswith("--") and option != "--help":
                    assert option in README, f"{name} {option} is not in README.md"


def _schema_keys() -> set[str]:
    classes = [
        schema.PolicyDocument,
        schema.Source,
        schema.Provider,
        schema.Lineage,
        schema.Allow,
        schema.NamedFact,
        schema.PackageFact,
        schema.HostFact,
        schema.EndpointFact,
        schema.PatternFact,
        schema.Fingerprint,
        schema.Digest,
        schema.Waiver,
    ]
    return {f.name for cls in classes for f in dataclasses.fields(cls) if not f.metadata.get("internal")}


def test_every_policy_key_is_documented() -> None:
    missing = sorted(key for key in _schema_keys() if f"`{key}`" not in POLICY_README)
    assert missing == []


def test_every_rule_id_is_documented() -> None:
    assert sorted(r for r in RULES if f"`{r}`" not in POLICY_README) == []
