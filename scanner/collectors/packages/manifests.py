"""Dependencies projects declare: Python, Node, Go and Rust manifests and lock files.

A project that will call DeepSeek says so before anything is installed: ``langchain-deepseek`` in its
``requirements.txt``, ``@ai-sdk/deepseek`` in its ``package.json``, and again in the lock file that
pins it. Each declared dependency is a package record in the environment ``manifest`` (the project's
folder), with the file and line that declare it; the policy decides what a declaration weighs against
an installed package (``declared_severity``, a warning by default).

Read: ``requirements*.txt`` (and ``*.txt`` in a ``requirements/`` folder), ``pyproject.toml`` (PEP 621,
dependency groups, Poetry), ``Pipfile``, ``Pipfile.lock``, ``uv.lock``, ``poetry.lock``, ``pdm.lock``,
conda's ``environment.yml``, ``package.json``, ``package-lock.json``/``npm-shrinkwrap.json``,
``pnpm-lock.yaml``, ``yarn.lock`` (classic and Berry), ``go.mod``, ``Cargo.toml`` and ``Cargo.lock``.
Every reader is a single pass over bounded lines with our own few expressions (JSON files through the
``json`` module, whose keys are then found in the same pass), so a planted file costs time linear in
its size; nothing is resolved, installed or run. Manifests inside installed trees (``node_modules``,
``site-packages``, the Cargo and Go module caches) are the libraries' own, not the project's choices,
and are not read.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from scanner.collectors.endpoints.text import written_here
from scanner.collectors.interface import CollectOptions, Collector, CollectorResult
from scanner.ecosystems import ECOSYSTEMS, Ecosystem, EnvironmentKind
from scanner.fsview import FileRefused, RootFS, describe_refusal, refusal_kind
from scanner.own import digest
from scanner.patterns import LazyPattern
from scanner.records import Environment, Location, PackageRecord, Skipped
from scanner.visitors import Entry, Interest
from scanner.vocabulary import SkipKind

MANIFEST_CAP = 1 << 20
LOCK_CAP = 16 << 20
"""Lock files of large projects run to megabytes (``package-lock.json``); manifests are small."""
DEPENDENCIES_PER_FILE = 20_000
LINE_CAP = 4096
"""No dependency line is longer; a longer one is data and is not examined."""


@dataclass(frozen=True)
class Declared:
    """One dependency a file declares."""

    name: str
    version: str | None
    ecosystem: Ecosystem
    line: int | None


Reader = Callable[[str], Iterator[Declared]]

_PEP508_NAME = LazyPattern(
    r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(?:(===?|~=|>=?|<=?|!=)\s*([\w.*+!-]+))?"
)
_QUOTED = LazyPattern(r"""["']([^"'\n]{1,300})["']""")
_TOML_HEADER = LazyPattern(r"^\s*\[\[?([^\]]+)\]\]?\s*(?:#.*)?$")
r"""One way to match each character: ``\[\s*([^\]]+?)\s*\]`` had three ways to share a run of spaces
(one 4 KiB line ``[`` and spaces cost 48 s); the name is stripped afterwards."""
_TOML_CODE = LazyPattern(r"""(?:[^#"']|"(?:[^"\\\n]|\\.)*"|'[^'\n]*')*""")
"""A TOML line up to its comment: a ``#`` outside a string."""
_INLINE_TABLE = LazyPattern(r"\{[^{}]*\}")
_TOML_KEY = LazyPattern(r"""^\s*["']?([A-Za-z0-9@][\w.@/-]*)["']?\s*=\s*(.*)$""")
_TOML_VERSION = LazyPattern(r"""(?:^|[{,]\s*)version\s*=\s*["']([^"']+)["']|^["']([^"']+)["']""")


def _lines(text: str) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(text.split("\n"), start=1):
        if len(line) <= LINE_CAP:
            yield number, line


def _exact(operator: str | None, version: str | None) -> str | None:
    return version if operator in ("==", "===") and version and "*" not in version else None


def _requirement(line: str, number: int) -> Declared | None:
    """One requirement line (``name[extra] ==1.0 ; marker  # comment``); options (``-r``, ``-e``,
    ``--index-url``), URLs (``hg+https://``, ``file:``) and paths (``wheels/x.whl``, ``C:\\x``) are not names."""
    code = line.split(" #", 1)[0].strip()
    if not code or code.startswith(("#", "-", ".", "/", "~")):
        return None
    match = _PEP508_NAME.match(code)
    if not match or code[match.end(1) : match.end(1) + 1] in ("+", ":", "/", "\\"):
        return None
    return Declared(match.group(1), _exact(match.group(2), match.group(3)), Ecosystem.PYPI, number)


def requirements(text: str) -> Iterator[Declared]:
    """``requirements.txt`` lines (``_requirement``)."""
    for number, line in _lines(text):
        declared = _requirement(line, number)
        if declared:
            yield declared


def _toml_tables(text: str) -> Iterator[tuple[str, int, str]]:
    """``(table, line number, line)`` for each line of a TOML file, with the table it is in."""
    table = ""
    for number, line in _lines(text):
        header = _TOML_HEADER.match(line)
        if header:
            table = header.group(1).replace('"', "").replace("'", "").strip()
            continue
        yield table, number, line


def _toml_version(value: str) -> str | None:
    """The version a TOML requirement pins (``"==1.2"``, ``"=1.2"``); a range (``"^1.2"``, Cargo's bare
    ``"1.2"``, which means ``^1.2``) pins none."""
    match = _TOML_VERSION.search(value.strip())
    written = (match.group(1) or match.group(2)) if match else None
    return written.lstrip("=").strip() or None if written and written.startswith("=") else None


_PEP621_LISTS = LazyPattern(
    r"^(?:project|dependency-groups|project\.optional-dependencies|tool\.pdm\.dev-dependencies)$"
)
_POETRY_TABLE = LazyPattern(r"^tool\.poetry\.(?:group\.[\w.-]+\.)?(?:dev-)?dependencies$")


def pyproject(text: str) -> Iterator[Declared]:
    """PEP 621 ``dependencies`` and ``optional-dependencies``, PEP 735 ``dependency-groups``, PDM's dev
    dependencies (arrays of requirement strings) and Poetry's dependency tables (keys)."""
    in_array = False
    for table, number, full_line in _toml_tables(text):
        line = _toml_code(full_line)
        stripped = line.strip()
        if _POETRY_TABLE.match(table):
            key = _TOML_KEY.match(line)
            if key and key.group(1).lower() != "python":
                yield Declared(key.group(1), _toml_version(key.group(2)), Ecosystem.PYPI, number)
            continue
        if not _PEP621_LISTS.match(table):
            in_array = False
            continue
        key = _TOML_KEY.match(line)
        if key and not in_array:
            is_list = table != "project" or key.group(1) == "dependencies"
            rest = key.group(2)
            if not (is_list and rest.lstrip().startswith("[")):
                continue
            in_array = "]" not in _QUOTED.sub("", rest)
            stripped = rest
        elif not in_array:
            continue
        for quoted in _QUOTED.findall(_INLINE_TABLE.sub("", stripped)):  # not {include-group = "name"}
            match = _PEP508_NAME.match(quoted)
            if match and not quoted.startswith(("-", "{")):
                yield Declared(match.group(1), _exact(match.group(2), match.group(3)), Ecosystem.PYPI, number)
        if "]" in _QUOTED.sub("", stripped):
            in_array = False


def _toml_code(line: str) -> str:
    """The line without its comment (a commented-out ``"deepseek-sdk",`` declares nothing)."""
    code = _TOML_CODE.match(line)
    end = code.end() if code else 0
    return line[:end] if line[end : end + 1] == "#" else line


def pipfile(text: str) -> Iterator[Declared]:
    """The keys of Pipfile's ``[packages]`` and ``[dev-packages]``."""
    for table, number, line in _toml_tables(text):
        key = _TOML_KEY.match(line) if table in ("packages", "dev-packages") else None
        if key:
            yield Declared(key.group(1), _toml_version(key.group(2)), Ecosystem.PYPI, number)


def _locked_packages(ecosystem: Ecosystem) -> Reader:
    """``[[package]]`` tables with ``name`` and ``version`` (uv, Poetry, PDM and Cargo lock files)."""

    def read(text: str) -> Iterator[Declared]:
        name: tuple[str, int] | None = None
        for table, number, line in _toml_tables(text):
            if table != "package":
                continue
            key = _TOML_KEY.match(line)
            if not key:
                continue
            value = key.group(2).strip().strip("\"'")
            if key.group(1) == "name":
                name = (value, number)
            elif key.group(1) == "version" and name is not None:
                yield Declared(name[0], value, ecosystem, name[1])
                name = None

    return read


def _json_key_lines(text: str, objects: bool = False) -> dict[str, int]:
    """The line of the first ``"key":`` of each key in a JSON text (one pass); with ``objects``, of the
    first whose value is an object: a package's own entry in a lock file, not an earlier
    ``"requires": {"name": "^1.0"}`` that mentions it."""
    lines: dict[str, int] = {}
    number = 1
    last = 0
    for match in re.finditer(r'"((?:[^"\\\n]|\\.){1,300})"\s*:\s*(\{)?', text):
        number += text.count("\n", last, match.start())
        last = match.start()
        if match.group(2) or not objects:
            lines.setdefault(match.group(1), number)
    return lines


def _json(text: str) -> object:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def package_json(text: str) -> Iterator[Declared]:
    """The keys of ``dependencies``, ``devDependencies``, ``peerDependencies`` and ``optionalDependencies``."""
    data = _json(text)
    if not isinstance(data, dict):
        return
    lines = _json_key_lines(text)
    for field in ("dependencies", "devDependencies", "peerDependencies", "optionalDependencies"):
        table = data.get(field)
        if isinstance(table, dict):
            for name, spec in table.items():
                version = spec if isinstance(spec, str) and re.fullmatch(r"\d[\w.+-]*", spec) else None
                yield Declared(name, version, Ecosystem.NPM, lines.get(name))


def package_lock(text: str) -> Iterator[Declared]:
    """npm's lock file: ``packages`` keyed by ``node_modules/<name>`` (lockfile v2, v3) or the nested
    ``dependencies`` of v1."""
    data = _json(text)
    if not isinstance(data, dict):
        return
    lines = _json_key_lines(text, objects=True)
    packages = data.get("packages")
    if isinstance(packages, dict):
        for key, facts in packages.items():
            if isinstance(key, str) and "node_modules/" in key and isinstance(facts, dict):
                name = key.rsplit("node_modules/", 1)[1]
                version = facts.get("version") if isinstance(facts.get("version"), str) else None
                yield Declared(name, version, Ecosystem.NPM, lines.get(key))
        return
    stack = [data.get("dependencies")]
    while stack:
        table = stack.pop()
        if not isinstance(table, dict):
            continue
        for name, facts in table.items():
            if isinstance(facts, dict):
                version = facts.get("version") if isinstance(facts.get("version"), str) else None
                yield Declared(name, version, Ecosystem.NPM, lines.get(name))
                stack.append(facts.get("dependencies"))


def pipfile_lock(text: str) -> Iterator[Declared]:
    data = _json(text)
    if not isinstance(data, dict):
        return
    lines = _json_key_lines(text, objects=True)
    for section in ("default", "develop"):
        table = data.get(section)
        if isinstance(table, dict):
            for name, facts in table.items():
                pinned = facts.get("version") if isinstance(facts, dict) else None
                version = pinned[2:] if isinstance(pinned, str) and pinned.startswith("==") else None
                yield Declared(name, version, Ecosystem.PYPI, lines.get(name))


_PNPM_PACKAGE = LazyPattern(r"""^ {2}['"]?/?((?:@[^@/\s'"]+/)?[^@/\s'"(]+)@([^:'"(\s]+)""")
_PNPM_V5_PACKAGE = LazyPattern(r"""^ {2}['"]?/((?:@[^@/\s'"]+/)?[^@/\s'"(]+)/(\d[^:'"(_/\s]*)""")
"""Lockfile v5 (pnpm 7 and older): ``  /name/1.0.0:``, ``  /@scope/name/1.0.0_peer@2.0.0:``."""


def pnpm_lock(text: str) -> Iterator[Declared]:
    """``packages:`` entries ``  /name/1.0.0:`` (lockfile v5), ``  /name@1.0.0(peer@1):`` (v6) and
    ``  name@1.0.0:`` (v9)."""
    in_packages = False
    for number, line in _lines(text):
        if line and not line[0].isspace():
            in_packages = line.rstrip().rstrip(":") == "packages"  # v9 repeats them under snapshots:
            continue
        match = (_PNPM_PACKAGE.match(line) or _PNPM_V5_PACKAGE.match(line)) if in_packages else None
        if match:
            yield Declared(match.group(1), match.group(2), Ecosystem.NPM, number)


_YARN_ENTRY = LazyPattern(r"""^"?((?:@[^@/\s",]+/)?[^@/\s",]+)@""")
_YARN_VERSION = LazyPattern(r"""^\s+version:?\s+"?([^"\s]+)"?""")


def yarn_lock(text: str) -> Iterator[Declared]:
    """Entries ``"name@^1.0.0", name@^1.1:`` each followed by ``  version "1.1.0"`` (classic) or
    ``  version: 1.1.0`` (Berry)."""
    pending: tuple[str, int] | None = None
    for number, line in _lines(text):
        if line and not line[0].isspace() and line.rstrip().endswith(":") and not line.startswith("#"):
            entry = _YARN_ENTRY.match(line)
            pending = (entry.group(1), number) if entry and entry.group(1) != "__metadata" else None
            continue
        version = _YARN_VERSION.match(line) if pending else None
        if version and pending:
            yield Declared(pending[0], version.group(1), Ecosystem.NPM, pending[1])
            pending = None


_GO_REQUIRE = LazyPattern(r"^\s*(?:require\s+)?([a-z0-9.-]+\.[a-z]{2,}(?:/[\w.~-]+)+)\s+(v[\w.+-]+)", re.IGNORECASE)


def go_mod(text: str) -> Iterator[Declared]:
    """``require module v1.2.3`` lines and the lines of ``require ( ... )`` blocks."""
    block = False
    for number, line in _lines(text):
        code = line.split("//", 1)[0]
        stripped = code.strip()
        if stripped.startswith("require") and stripped.endswith("("):
            block = True
            continue
        if block and stripped == ")":
            block = False
            continue
        if block or stripped.startswith("require "):
            match = _GO_REQUIRE.match(code)
            if match:
                yield Declared(match.group(1), match.group(2), Ecosystem.GO, number)


_CARGO_TABLE = LazyPattern(r"^(?:(?:workspace|target\.[^.]+(?:\.[^.]+)*)\.)?(?:dev-|build-)?dependencies(?:\.(.+))?$")


def cargo_toml(text: str) -> Iterator[Declared]:
    """Keys of ``[dependencies]`` (and dev, build, target and workspace variants), and the crate of a
    ``[dependencies.name]`` table."""
    named: set[str] = set()
    for table, number, line in _toml_tables(text):
        match = _CARGO_TABLE.match(table)
        if not match:
            continue
        if match.group(1):
            crate = match.group(1)
            if crate not in named:
                named.add(crate)
                yield Declared(crate, None, Ecosystem.CARGO, number - 1)
            continue
        key = _TOML_KEY.match(line)
        if key:
            package = re.search(r"""package\s*=\s*["']([^"']+)["']""", key.group(2))  # a renamed dependency
            yield Declared(
                package.group(1) if package else key.group(1), _toml_version(key.group(2)), Ecosystem.CARGO, number
            )


_CONDA_SPEC = LazyPattern(r"^\s*-\s+(?:([\w.-]+)::)?([A-Za-z0-9_][\w.-]*)\s*(?:(==?|>=?|<=?|!=|~=)?\s*([\w.*+!-]+))?")


def conda_environment(text: str) -> Iterator[Declared]:
    """conda's ``dependencies:`` list (``name=1.0``, ``channel::name``) and its ``pip:`` sub-list."""
    section = ""
    pip_indent: int | None = None
    for number, line in _lines(text):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        indent = len(line) - len(line.lstrip())
        if indent == 0 and not line.startswith("-"):  # "- numpy" at the margin is still the section's list
            section = line.split(":", 1)[0].strip()
            pip_indent = None
            continue
        if section != "dependencies":
            continue
        if line.strip() in ("- pip:", "-  pip:"):
            pip_indent = indent
            continue
        if pip_indent is not None and indent <= pip_indent:
            pip_indent = None
        if pip_indent is not None:
            item = line.strip()
            declared = _requirement(item[1:], number) if item.startswith("-") else None  # "- --index-url ...": no
            if declared:
                yield declared
            continue
        spec = _CONDA_SPEC.match(line)
        if spec and spec.group(2) not in ("pip", "python"):
            version = spec.group(4) if spec.group(3) in (None, "=", "==") and spec.group(4) else None
            yield Declared(spec.group(2), version, Ecosystem.CONDA, number)


READERS: dict[str, tuple[Reader, int]] = {
    "pyproject.toml": (pyproject, MANIFEST_CAP),
    "Pipfile": (pipfile, MANIFEST_CAP),
    "Pipfile.lock": (pipfile_lock, LOCK_CAP),
    "uv.lock": (_locked_packages(Ecosystem.PYPI), LOCK_CAP),
    "poetry.lock": (_locked_packages(Ecosystem.PYPI), LOCK_CAP),
    "pdm.lock": (_locked_packages(Ecosystem.PYPI), LOCK_CAP),
    "environment.yml": (conda_environment, MANIFEST_CAP),
    "environment.yaml": (conda_environment, MANIFEST_CAP),
    "package.json": (package_json, MANIFEST_CAP),
    "package-lock.json": (package_lock, LOCK_CAP),
    "npm-shrinkwrap.json": (package_lock, LOCK_CAP),
    "pnpm-lock.yaml": (pnpm_lock, LOCK_CAP),
    "yarn.lock": (yarn_lock, LOCK_CAP),
    "go.mod": (go_mod, MANIFEST_CAP),
    "Cargo.toml": (cargo_toml, MANIFEST_CAP),
    "Cargo.lock": (_locked_packages(Ecosystem.CARGO), LOCK_CAP),
}
"""Each manifest's reader and read cap, by file name."""
_LOCKS = (".lock", "-lock.json", "-lock.yaml", "shrinkwrap.json")
"""Lock files: a dependency is shown first where the project declares it, then where it is pinned."""
_REQUIREMENTS = LazyPattern(r"^(?:.*requirements.*|constraints.*)\.(?:txt|in)$", re.IGNORECASE)


def reader_of(entry: Entry) -> tuple[Reader, int] | None:
    if entry.name in READERS:
        return READERS[entry.name]
    if _REQUIREMENTS.match(entry.name) or (
        entry.parent_name == "requirements" and entry.name.endswith((".txt", ".in"))
    ):
        return requirements, MANIFEST_CAP
    return None


class ManifestCollector(Collector):
    """The dependencies Python, Node, Go and Rust projects declare in their manifests and lock files."""

    id = "manifest-collector"
    interest = Interest(file_names=frozenset(READERS), file_suffixes=frozenset({".txt", ".in"}))

    def __init__(self, fs: RootFS, options: CollectOptions | None = None) -> None:
        super().__init__(fs, options)
        self._records: dict[tuple[str, Ecosystem, str], PackageRecord] = {}
        self._skipped: list[Skipped] = []

    def visit(self, entry: Entry) -> None:
        chosen = reader_of(entry)
        project = entry.path.rsplit("/", 1)[0] or "/"
        if chosen is None or not written_here(project):
            return
        reader, cap = chosen
        try:
            data, truncated = self.fs.read_bytes(entry.real_path, cap)
        except (OSError, FileRefused) as error:
            self._skipped.append(
                Skipped(entry.path, f"manifest unreadable: {describe_refusal(error)}", refusal_kind(error))
            )
            return
        if digest(data) in self.options.own:
            return  # the scanner's own test projects (``scanner.own``)
        text = data.decode("utf-8", "replace")
        if truncated:
            reason = f"manifest read only up to {cap >> 20} MiB: dependencies declared past it are not seen"
            self._skipped.append(Skipped(entry.path, reason, SkipKind.UNREADABLE))
        for count, declared in enumerate(reader(text)):
            if count == DEPENDENCIES_PER_FILE:
                reason = f"only the first {DEPENDENCIES_PER_FILE} declared dependencies are read"
                self._skipped.append(Skipped(entry.path, reason, SkipKind.UNREADABLE))
                break
            self._add(entry, project, declared)

    def _add(self, entry: Entry, project: str, declared: Declared) -> None:
        rules = ECOSYSTEMS[declared.ecosystem]
        normalized = rules.normalize(declared.name)
        key = (project, declared.ecosystem, normalized)
        where = Location(entry.path, declared.line)
        known = self._records.get(key)
        if known is not None:  # the manifest and its lock file: one dependency, both places
            if where not in known.locations and len(known.locations) < 10:
                pinned = entry.name.endswith(_LOCKS) and declared.version
                version = declared.version if pinned else known.version or declared.version  # the lock file's pin
                places = sorted((*known.locations, where), key=lambda at: at.path.endswith(_LOCKS))
                self._records[key] = _with(known, version, tuple(places))
            return
        home = f"https://{declared.name}" if declared.ecosystem is Ecosystem.GO else None
        self._records[key] = PackageRecord(
            name=declared.name,
            normalized_name=normalized,
            version=declared.version,
            ecosystem=declared.ecosystem,
            environment=Environment(project, EnvironmentKind.MANIFEST),
            locations=(where,),
            found_by=self.id,
            home_page=home,  # a Go module is named by where it is published
        )

    def finish(self) -> CollectorResult:
        return CollectorResult(records=list(self._records.values()), skipped=self._skipped)


def _with(record: PackageRecord, version: str | None, locations: tuple[Location, ...]) -> PackageRecord:
    return dataclasses.replace(record, version=version, locations=locations)
