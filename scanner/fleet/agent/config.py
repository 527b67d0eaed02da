"""The agent configuration file (``scanner audit --config /etc/scanner/agent.yaml``).

Its keys are ``scanner audit``'s own option names (``submit``, ``token_file``, ``policy``, ``paths``,
``exclude``, ``db``...; dashes or underscores), so that every option can be set there and a CLI
option always wins over the file. ``tags`` is a mapping (``department: finance``). ``retention`` is a
mapping (``keep_last``, ``older_than`` in days) applied after each audit, ``DEFAULT_RETENTION`` when
the file does not say (a scheduled agent must not grow its store for ever), ``{}`` to keep everything.
Unknown keys and wrong types are errors with the file and line, like a policy's.

``policy_key`` (``--policy-key``: an Ed25519 public key, e.g. ``/etc/scanner/policy.pub``) makes the
agent judge by the signed policy bundle of its ``submit`` collector instead of ``policy``; the last
verified bundle is kept beside the store and judges, saying so, when the collector cannot give one
(``scanner.fleet.agent.bundle``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import yaml

from scanner.errors import ConfigError
from scanner.fsview import FileRefused, RootFS, describe_refusal
from scanner.store.retention import DEFAULT_RETENTION

CONFIG_CAP = 1 << 20
RETENTION_KEYS = {"keep_last": "keep_last", "older_than": "older_than"}
"""``retention:``'s keys and the ``scanner audit`` parameters they set."""


def _retention(node: yaml.Node, file: str, line: int) -> dict[str, Any]:
    if not isinstance(node, yaml.MappingNode):
        raise ConfigError(file, line, "retention", "expected a mapping such as {keep_last: 10, older_than: 90}")
    found: dict[str, Any] = {"keep_last": None, "older_than": None}
    for key_node, value_node in node.value:
        key = str(key_node.value).replace("-", "_")
        where = key_node.start_mark.line + 1
        if key not in RETENTION_KEYS:
            raise ConfigError(file, where, f"retention.{key_node.value}", "unknown key; allowed: keep_last, older_than")
        value = _scalar(value_node, file, f"retention.{key}")
        if not isinstance(value, int) or isinstance(value, bool) or value < (1 if key == "keep_last" else 0):
            raise ConfigError(file, where, f"retention.{key}", "expected a whole number of scans or days")
        found[RETENTION_KEYS[key]] = value
    return found


def _scalar(node: yaml.Node, file: str, key: str) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        raise ConfigError(file, node.start_mark.line + 1, key, "expected a single value")
    return yaml.safe_load(yaml.serialize(node))


def load_agent_config(
    path: Path, options: Mapping[str, str], repeatable: Collection[str], elsewhere: Collection[str] = ()
) -> dict[str, Any]:
    """``parameter name -> value`` for click's ``default_map``.

    ``options`` maps each accepted key (an option's long name, ``hash`` for ``--hash``, or its parameter
    name, with underscores) to the command's parameter name. ``elsewhere``: keys of the file that are
    another command's (``scanner submit`` reads the agent's file, which is ``scanner audit``'s): passed over.
    """
    file = str(path)
    try:
        raw, truncated = RootFS().read_bytes(str(path.resolve()), CONFIG_CAP)
        if truncated:
            raise ConfigError(file, None, None, f"larger than {CONFIG_CAP} bytes")
        root = yaml.compose(raw.decode("utf-8"), Loader=yaml.SafeLoader)
    except (OSError, FileRefused) as error:
        raise ConfigError(file, None, None, f"cannot read: {describe_refusal(error)}") from error
    except UnicodeDecodeError as error:
        raise ConfigError(file, None, None, f"not UTF-8 text: {error}") from error
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        raise ConfigError(file, mark.line + 1 if mark else None, None, f"YAML syntax error: {error.problem}") from error
    if root is not None and not isinstance(root, yaml.MappingNode):
        raise ConfigError(file, root.start_mark.line + 1, None, "expected a mapping of option names to values")
    found: dict[str, Any] = {}
    prunes = set(RETENTION_KEYS.values()) <= set(options.values())  # ``scanner audit``, not ``submit``
    if prunes:
        found |= {"keep_last": DEFAULT_RETENTION.keep_last, "older_than": DEFAULT_RETENTION.older_than_days}
    if root is None:
        return found
    for key_node, value_node in root.value:
        written = str(key_node.value).replace("-", "_")
        line = key_node.start_mark.line + 1
        if written in elsewhere and written not in options:
            continue
        if written == "tags":
            if not isinstance(value_node, yaml.MappingNode):
                raise ConfigError(file, line, "tags", "expected a mapping such as {department: finance}")
            found["tag"] = [f"{k.value}={_scalar(v, file, f'tags.{k.value}')}" for k, v in value_node.value]
            continue
        if written == "retention" and prunes:
            found |= _retention(value_node, file, line)
            continue
        hidden = ("config", "tag", *RETENTION_KEYS.values())
        allowed = sorted(k for k, name in options.items() if name not in hidden)
        if written not in allowed:
            raise ConfigError(
                file,
                line,
                key_node.value,
                f"unknown option; allowed: {', '.join(allowed)}, tags{', retention' if prunes else ''}",
            )
        key = options[written]
        if isinstance(value_node, yaml.SequenceNode):
            if key not in repeatable:
                raise ConfigError(file, line, key_node.value, "takes a single value, not a list")
            found[key] = [str(_scalar(item, file, key)) for item in value_node.value]
        else:
            value = _scalar(value_node, file, key)
            found[key] = [str(value)] if key in repeatable else value
    return found
