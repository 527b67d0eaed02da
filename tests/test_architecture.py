"""The pipeline is visible in the imports: no cycle, and every import points down the stages.

walk -> collect -> identify -> judge -> result -> store -> report, with the orchestrator, the fleet
and the CLI on top. Every import counts wherever it sits — in a function, under ``TYPE_CHECKING`` —
and importing ``a.b.c`` counts as importing the packages ``a.b`` and ``a`` too, because Python runs
their ``__init__`` first; so a package's ``__init__`` holds a docstring and no imports of its own.
The fleet's two sides, the agent and the collector, share a stage and never import each other.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "scanner"

LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "base",
        (
            "scanner",
            "scanner.vocabulary",
            "scanner.errors",
            "scanner.urls",
            "scanner.names",
            "scanner.places",
            "scanner.platforms",
            "scanner.syspaths",
            "scanner.ecosystems",
            "scanner.printable",
            "scanner.output",
            "scanner.patterns",
        ),
    ),
    ("data", ("scanner.records", "scanner.findings", "scanner.sqlite")),
    (
        "walk",
        (
            "scanner.placeholders",
            "scanner.beneath",
            "scanner.fsview",
            "scanner.mounts",
            "scanner.drives",
            "scanner.visitors",
            "scanner.listings",
            "scanner.walk",
        ),
    ),
    ("collect", ("scanner.formats", "scanner.collectors")),
    ("identify", ("scanner.lineage",)),
    ("judge", ("scanner.policy",)),
    ("result", ("scanner.result", "scanner.limits", "scanner.report", "scanner.changes")),
    ("store", ("scanner.store",)),
    ("report", ("scanner.reporters",)),
    ("orchestrate", ("scanner.audit", "scanner.explain")),
    ("fleet", ("scanner.fleet", "scanner.fleet.agent", "scanner.fleet.collector")),
    ("cli", ("scanner.cli", "scanner.__main__")),
)
"""Stages, lowest first: a module may import its own stage and the stages below it, never above."""
FLEET_SIDES = ("scanner.fleet.agent", "scanner.fleet.collector")
"""Installed apart (an agent on every machine, one collector), so neither may need the other."""


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = _modules()


def _imported(module: str, path: Path) -> set[str]:
    """Every ``scanner`` module this one makes Python load, parent packages included."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    loaded: set[str] = set()
    for name in names:
        parts = name.split(".")
        for end in range(1, len(parts) + 1):
            prefix = ".".join(parts[:end])
            if prefix in MODULES and prefix != module:
                loaded.add(prefix)
    return loaded


GRAPH = {module: _imported(module, path) for module, path in MODULES.items()}


def _stage(module: str) -> int:
    best, rank = -1, -1
    for number, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, rank = len(prefix), number
    return rank


def _cycles() -> list[list[str]]:
    """Strongly connected components larger than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in GRAPH[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(GRAPH):
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_itself_back_through_any_chain() -> None:
    assert _cycles() == []


def test_every_module_belongs_to_a_stage() -> None:
    assert [m for m in MODULES if _stage(m) < 0] == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down_the_pipeline(module: str) -> None:
    upward = sorted(o for o in GRAPH[module] if _stage(o) > _stage(module))
    assert upward == [], f"{module} ({LAYERS[_stage(module)][0]}) imports a later stage: {upward}"


def test_package_inits_hold_no_imports_of_the_project() -> None:
    """A registry or re-export in ``__init__`` would be loaded by every sibling module: a hidden cycle."""
    assert sorted(m for m, p in MODULES.items() if p.name == "__init__.py" and GRAPH[m]) == []


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


@pytest.mark.parametrize("side", FLEET_SIDES)
def test_the_fleet_sides_never_import_each_other(side: str) -> None:
    others = [s for s in FLEET_SIDES if s != side]
    crossing = sorted(
        f"{m} -> {o}" for m in MODULES if _within(m, side) for o in GRAPH[m] if any(_within(o, x) for x in others)
    )
    assert crossing == []


def test_every_fleet_module_is_on_one_side() -> None:
    """The ``scanner.fleet`` package itself holds only its docstring; every module is the agent's or the collector's."""
    loose = [m for m in MODULES if _within(m, "scanner.fleet") and m != "scanner.fleet"]
    assert [m for m in loose if not any(_within(m, side) for side in FLEET_SIDES)] == []


_AGENT_INSTALL = """
import sys

class NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {"starlette", "uvicorn", "fastjsonschema", "orjson", "msgspec", "isal", "psycopg", "psycopg_pool"}:
            raise ImportError(f"No module named {name!r} (an agent installed without the server extra)")
        return None

sys.meta_path.insert(0, NotInstalled())
from scanner.cli.app import app
try:
    app(["--help"])
except SystemExit as done:
    assert done.code == 0, done.code
heavy = sorted(m for m in sys.modules if m.partition(".")[0] in {"requests", "starlette", "uvicorn"})
assert heavy == [], heavy
"""


def test_an_agent_install_without_the_server_extra_starts_without_the_web_stack_or_requests() -> None:
    """``requests`` costs 60 ms at start-up and only sending needs it; the collector's web stack is
    not installed on agents at all: both are imported by the commands that use them, never at start."""
    done = subprocess.run([sys.executable, "-c", _AGENT_INSTALL], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]


_AUDIT_RUN = """
import os
import sys

from scanner.cli.app import main

root, *store = sys.argv[1:]
sys.argv = ["scanner", "audit", "--root", root, *store, "-f", "json", "-o", os.devnull, "--no-progress"]
try:
    main()
except SystemExit as done:
    assert done.code == 0, done.code
print("\\n".join(sorted(sys.modules)))
"""
UNUSED_BY_A_JSON_AUDIT = (
    *("scanner.reporters.html", "scanner.reporters.markdown", "scanner.reporters.csv", "scanner.reporters.sarif"),
    *("scanner.reporters.cyclonedx", "scanner.reporters.fleet_html", "scanner.reporters.fleet_markdown"),
    *("scanner.cli.fleet", "scanner.cli.history", "scanner.cli.lineage", "scanner.cli.policy"),
    "scanner.fleet.collector",
    *("sqlite_utils", "requests", "huggingface_hub", "cryptography", "tabulate", "numpy"),
    *("re2", "_strptime", "socket", "secrets", "concurrent.futures", "plistlib", "pyexpat", "tomllib"),
    *("scanner.lineage.hub", "scanner.fleet", "scanner.store.retention"),
    *("scanner.formats.gguf", "scanner.formats.safetensors", "scanner.formats.onnx", "scanner.formats.other"),
    *("scanner.formats.pytorch_zip", "scanner.formats.torch_pickle", "scanner.formats.protobuf"),
)
"""What ``scanner audit -f json`` of an empty root never uses: the other formats and commands, the
migrations' library (a store already up to date), the network, signing and the table library; the text
scan's accelerator (for the first text file), ``strptime`` (the policy's dates are read without it), the
resolver and its threads (``--resolve``), the secrets module (a salt is ``os.urandom``), and the parsers of
plists and TOML (for those files); the Hub client (``--online``), the agent's configuration and spool
(``--config``, ``--submit``) and the store's retention (``--keep-last``, ``--older-than``); the weight
formats' parsers (for the first file read as a model: most machines have none). (PyYAML too,
from an installed wheel, which ships the bundled policies composed: ``test_packaging``.)"""
UNUSED_WITHOUT_A_STORE = ("scanner.store", "scanner.sqlite", "sqlite3")
"""What ``--no-store`` never uses: the store, and SQLite (the root holds no database to read)."""


@pytest.mark.parametrize("store", ["--no-store", "--db"])
def test_an_audit_imports_only_what_it_uses_at_start_up(store: str, tmp_path: Path) -> None:
    """Each is imported where it is used, never by the command's start (every run pays every import)."""
    options = ["--no-store"] if store == "--no-store" else ["--db", str(tmp_path / "scanner.db")]
    (tmp_path / "root").mkdir()  # empty: the store lies beside it, not in it
    command = [sys.executable, "-c", _AUDIT_RUN, str(tmp_path / "root"), *options]
    if store == "--db":  # the first audit creates the store: its migrations use sqlite_utils
        assert subprocess.run(command, capture_output=True, text=True, check=False).returncode == 0
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = set(done.stdout.split())
    assert "scanner.reporters.json" in loaded and "scanner.collectors.registry" in loaded
    unused = UNUSED_BY_A_JSON_AUDIT + (UNUSED_WITHOUT_A_STORE if store == "--no-store" else ())
    assert sorted(m for m in loaded for x in unused if m == x or m.startswith(x + ".")) == []


def test_no_module_is_longer_than_600_lines() -> None:
    """Small modules with one job: a module past 600 lines holds more than one idea."""
    long = {m: n for m, p in MODULES.items() if (n := len(p.read_text(encoding="utf-8").splitlines())) > 600}
    assert long == {}
