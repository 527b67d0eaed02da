"""Settings of AI developer tools, in every user's home (and under ``--root``).

Recognised by where they live (policy-facts §4): Continue, Cline, aider, Claude Code, Codex CLI,
opencode, Kimi CLI and Kimi Code, Qwen Code, DeepSeek-TUI, Cursor and VS Code settings, the state
databases of VS Code and its forks (where the Roo Code, Cline and Kilo Code extensions keep their
provider profiles; their keys are in the OS keyring, out of reach and out of scope), Jupyter AI,
Open WebUI's database (``webui.db``, wherever it is: a pip install keeps it inside
``site-packages``, yet it is the user's settings, not library code) — and LiteLLM proxy configs
anywhere (any ``config.yaml`` with a ``model_list``). Each file is parsed as what it is (JSON, JSONC,
YAML, TOML, SQLite) and every object in it that configures an endpoint, provider, model or key
becomes a record, with the line it is written on.
"""

from __future__ import annotations

import re

from scanner.collectors.endpoints.base import RECORDS_PER_FILE, record_of
from scanner.collectors.endpoints.settings import Setting
from scanner.collectors.endpoints.sqlitedb import keyed_json, latest_json
from scanner.collectors.endpoints.structured import NotStructured, TooLarge, objects, parse, settings_of
from scanner.collectors.interface import CollectOptions, Collector, CollectorResult
from scanner.fsview import FileRefused, RootFS, describe_refusal, refusal_kind
from scanner.patterns import LazyPattern
from scanner.records import Record, Skipped
from scanner.visitors import Entry, Interest
from scanner.vocabulary import EndpointSource, SkipKind

CONFIG_CAP = 4 << 20
CONFIG_CAPS = {"yaml": 1 << 20, "toml": 256 << 10}
"""Smaller caps where the parser is slower than JSON's (YAML and TOML build every node in Python): a
planted file must cost well under a second. Others: ``CONFIG_CAP``."""
TOOLS: tuple[tuple[str, LazyPattern[str], str], ...] = tuple(
    (tool, LazyPattern(pattern), kind)
    for tool, pattern, kind in (
        ("continue", r"/\.continue/config\.ya?ml$", "yaml"),
        ("continue", r"/\.continue/config\.json$", "jsonc"),
        ("cline", r"/\.cline/data/(?:globalState|secrets|settings/providers)\.json$", "json"),
        ("aider", r"/\.aider\.conf\.ya?ml$", "yaml"),
        ("claude-code", r"/\.claude/settings(?:\.local)?\.json$|/managed-settings\.json$|/\.claude\.json$", "jsonc"),
        ("codex", r"/\.codex/config\.toml$", "toml"),
        ("opencode", r"/opencode\.jsonc?$", "jsonc"),
        ("opencode", r"/opencode/auth\.json$", "json"),
        ("kimi-cli", r"/\.kimi/config\.toml$", "toml"),
        ("kimi-code", r"/\.kimi-code/config\.toml$", "toml"),
        ("qwen-code", r"/\.qwen/settings\.json$|/qwen-code/settings\.json$", "jsonc"),
        ("deepseek-tui", r"/\.deepseek/config\.toml$", "toml"),
        ("cursor", r"/Cursor/User/settings\.json$", "jsonc"),
        ("vscode", r"/Code/User/settings\.json$", "jsonc"),
        ("jupyter-ai", r"/jupyter_ai/config\.json$", "json"),
        ("open-webui", r"/webui\.db$", "sqlite"),
        (
            "vscode-extension",
            r"/(?:Code|Code - Insiders|VSCodium|Cursor|Windsurf)/User/globalStorage/state\.vscdb$",
            "vscdb",
        ),
        ("litellm", r"\.ya?ml$", "yaml"),
    )
)
NAMES = frozenset(
    {
        "config.yaml", "config.yml", "config.json", "globalState.json", "secrets.json", "providers.json",
        ".aider.conf.yml", ".aider.conf.yaml", "settings.json", "settings.local.json", "managed-settings.json",
        ".claude.json", "config.toml", "opencode.json", "opencode.jsonc", "litellm_config.yaml", "proxy_config.yaml",
        "webui.db", "state.vscdb", "auth.json",
    }
)  # fmt: skip


EXTENSIONS = {
    "rooveterinaryinc.roo-cline": "roo-code",
    "saoudrizwan.claude-dev": "cline",
    "kilocode.kilo-code": "kilo-code",
    "continue.continue": "continue",
}
"""Extension ids whose state (``ItemTable`` rows) in ``state.vscdb`` holds provider settings."""


GENERIC = {".json": "jsonc", ".yaml": "yaml", ".yml": "yaml", ".toml": "toml"}
"""A project's own ``config.json``/``settings.json``/``config.toml``...: read as structured data too."""
_PROVIDER_MAP = LazyPattern(r"(?:^|\.)(?:provider|providers|model_providers|modelProviders)\.([^.\[]+)$")
"""An entry of a map keyed by provider id (opencode ``provider.deepseek``, Codex ``model_providers.x``,
Kimi CLI ``providers.moonshot``): the key names the provider, more surely than a ``type`` inside."""


def tool_of(path: str) -> tuple[str, str] | None:
    for tool, pattern, kind in TOOLS:
        if pattern.search(path):
            return tool, kind
    return None


class LineFinder:
    """The line a setting is written on: ``key: value`` / ``"key": value`` first, else the value alone.

    Comment lines (``//``, ``#``) are passed over, and a pair written several times (two Continue
    models with ``provider: deepseek``) is found at its first, second... place in turn.
    """

    BUDGET = 2_000_000
    """Lines examined in all, per file: a hostile file with 20,000 distinct settings on 20,000 lines
    would otherwise cost 400 million regex searches. Past it, settings are reported without a line."""

    def __init__(self, text: str) -> None:
        self._lines = [
            (n, line) for n, line in enumerate(text.splitlines(), start=1) if not line.lstrip().startswith(("//", "#"))
        ]
        self._seen: dict[tuple[str, str | None], int] = {}
        self._cache: dict[tuple[str, str | None], list[int]] = {}
        self._spent = 0

    def __call__(self, key: str, value: str | None) -> int | None:
        pair = (key, value)
        if pair not in self._cache:
            self._cache[pair] = self._find(key, value)
        places = self._cache[pair]
        if not places:
            return None
        turn = self._seen.get(pair, 0)
        self._seen[pair] = turn + 1
        return places[min(turn, len(places) - 1)]

    def _find(self, key: str, value: str | None) -> list[int]:
        self._spent += len(self._lines)
        if self._spent > self.BUDGET:
            return []
        assignment = re.compile(rf"(?:^|[\s{{,\[\"'.])[\"']?{re.escape(key)}[\"']?\s*[:=]")
        lines = self._lines
        places = [n for n, line in lines if (value is None or value in line) and assignment.search(line)]
        return places or [n for n, line in lines if value and value in line]


class ToolConfigCollector(Collector):
    """Endpoint, provider, model and key settings in AI tools' configuration files (and projects' own)."""

    id = "tool-config-collector"
    interest = Interest(file_names=NAMES)

    def __init__(self, fs: RootFS, options: CollectOptions | None = None) -> None:
        super().__init__(fs, options)
        self._records: list[Record] = []
        self._skipped: list[Skipped] = []

    def visit(self, entry: Entry) -> None:
        found = tool_of(entry.path)
        generic = GENERIC.get(entry.name[entry.name.rfind(".") :])
        if found is None and generic is None:
            return
        tool, kind = found or ("", generic or "")
        text = ""
        try:
            if kind == "sqlite":
                trees = [(tool, latest_json(self.fs, entry.real_path, "config", "data"))]
            elif kind == "vscdb":
                rows = keyed_json(self.fs, entry.real_path, "ItemTable", tuple(EXTENSIONS))
                trees = [(EXTENSIONS[key], tree) for key, tree in sorted(rows.items())]
            else:
                cap = CONFIG_CAPS.get(kind, CONFIG_CAP)
                text, truncated = self.fs.read_text(entry.real_path, cap)
                if truncated:
                    size = f"{cap >> 20} MiB" if cap >= 1 << 20 else f"{cap >> 10} KiB"
                    reason = f"settings file larger than {size}; not read"
                    self._skipped.append(
                        Skipped(entry.path, reason, SkipKind.PARTIAL if not tool else SkipKind.UNSUPPORTED)
                    )
                    return
                tree = parse(text, kind)
                keyed_by_provider = tool == "opencode" and entry.name == "auth.json"  # {"deepseek": {"key": ...}}
                trees = [(tool, {"provider": tree} if keyed_by_provider else tree)]
        except (OSError, FileRefused) as error:
            reason = f"{tool or 'settings'} file unreadable: {describe_refusal(error)}"
            self._skipped.append(Skipped(entry.path, reason, refusal_kind(error)))
            return
        except TooLarge as error:  # like a file past the cap: a tool's own file is a gap, another file was chosen
            reason = f"{tool or 'settings'} file not read: {error}"
            self._skipped.append(Skipped(entry.path, reason, SkipKind.UNSUPPORTED if tool else SkipKind.PARTIAL))
            return
        except NotStructured as error:
            if tool and tool != "litellm":  # any other file may be anything; a tool's own file should parse
                self._skipped.append(Skipped(entry.path, f"{tool} settings: {error}", SkipKind.UNSUPPORTED))
            return
        for name, tree in trees:
            # A YAML file without a model_list is no LiteLLM config: a project's own settings, as no tool's.
            litellm = name != "litellm" or (isinstance(tree, dict) and isinstance(tree.get("model_list"), list))
            tool_name = name if name and litellm else None
            lines = LineFinder(text)
            settings = self._settings(entry.path, tree, lines if text else None, tool_name, kind)
            if len(settings) > RECORDS_PER_FILE:
                reason = f"{len(settings)} settings; only the first {RECORDS_PER_FILE} recorded"
                self._skipped.append(Skipped(entry.path, reason, SkipKind.PARTIAL))
            self._records += settings[:RECORDS_PER_FILE]

    def _settings(self, path: str, tree: object, lines: LineFinder | None, tool: str | None, kind: str) -> list[Record]:
        """Every object in the tree that configures something, as records with their lines."""
        records: list[Record] = []
        for key_path, node in objects(tree):
            settings = settings_of(node, self.options.watch, provider_keys=tool is not None)
            entry = _PROVIDER_MAP.search(key_path)
            if entry:
                settings = [s for s in settings if not (s.provider and s.name == "type")]
                if not any(s.provider for s in settings):
                    settings.append(Setting(entry.group(1), provider=entry.group(1)))
            if not settings:
                continue

            def line(setting: Setting, lines: LineFinder | None = lines) -> int | None:
                return lines(setting.name, setting.url or setting.model or setting.provider) if lines else None

            records += record_of(
                settings,
                name=key_path,
                source=EndpointSource.TOOL_CONFIG,
                path=path,
                line=line,
                found_by=self.id,
                tool=tool,
                library=False if kind in ("sqlite", "vscdb") else None,
            )
        return records

    def finish(self) -> CollectorResult:
        return CollectorResult(records=self._records, skipped=self._skipped)
