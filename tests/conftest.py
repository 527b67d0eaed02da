"""Shared fixtures: a builder for fake machines made of real files, and a runner for the real CLI."""

from __future__ import annotations

import base64
import hashlib
import importlib
import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import postgres
import pytest
from typer.testing import CliRunner

from scanner import fsview
from scanner.cli.app import app

SCANNER = shutil.which("scanner", path=os.path.dirname(sys.executable)) or shutil.which("scanner")


def _record_line(root: Path, path: Path) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(path.read_bytes()).digest()).rstrip(b"=").decode()
    return f"{path.relative_to(root).as_posix()},sha256={digest},{path.stat().st_size}"


def write_dist_info(
    site: Path,
    name: str,
    version: str,
    *,
    summary: str = "",
    author_email: str | None = None,
    home_page: str | None = None,
    project_urls: Iterable[tuple[str, str]] = (),
    installer: str | None = "pip",
    metadata_version: str = "2.1",
    requires: Iterable[str] = (),
    description: str = "Long description.",
) -> Path:
    """A dist-info folder laid out the way pip installs one (METADATA, WHEEL, INSTALLER, RECORD)."""
    folder = site / f"{name.replace('-', '_')}-{version}.dist-info"
    folder.mkdir(parents=True)
    headers = [f"Metadata-Version: {metadata_version}", f"Name: {name}", f"Version: {version}"]
    if summary:
        headers.append(f"Summary: {summary}")
    if home_page:
        headers.append(f"Home-page: {home_page}")
    if author_email:
        headers.append(f"Author-email: {author_email}")
    headers += [f"Project-URL: {label}, {url}" for label, url in project_urls]
    headers += [f"Requires-Dist: {requirement}" for requirement in requires]
    headers += ["License: MIT", "Requires-Python: >=3.9", "Description-Content-Type: text/markdown"]
    (folder / "METADATA").write_text("\n".join(headers) + f"\n\n# {name}\n\n{description}\n", encoding="utf-8")
    (folder / "WHEEL").write_text(
        "Wheel-Version: 1.0\nGenerator: hatchling 1.25.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    if installer:
        (folder / "INSTALLER").write_text(installer + "\n")
    lines = [_record_line(site, p) for p in sorted(folder.iterdir())]
    (folder / "RECORD").write_text("\n".join([*lines, f"{folder.name}/RECORD,,"]) + "\n")
    return folder


def write_conda_record(prefix: Path, name: str, version: str, build: str = "pyhd8ed1ab_0", **extra: object) -> Path:
    """A conda-meta/<name>-<version>-<build>.json record as conda writes it."""
    meta = prefix / "conda-meta"
    meta.mkdir(parents=True, exist_ok=True)
    record = {
        "build": build,
        "build_number": 0,
        "channel": "https://conda.anaconda.org/conda-forge/noarch",
        "name": name,
        "version": version,
        "subdir": "noarch",
        "fn": f"{name}-{version}-{build}.conda",
        "files": [f"lib/python3.11/site-packages/{name}/__init__.py"],
        "requested_spec": name,
        **extra,
    }
    path = meta / f"{name}-{version}-{build}.json"
    path.write_text(json.dumps(record, indent=2))
    return path


class Machine:
    """A directory standing in for a machine's ``/``, with Python environments built from real files."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, inside: str) -> Path:
        return self.root / inside.lstrip("/")

    def venv(self, prefix: str, python: str = "3.11") -> Path:
        base = self.path(prefix)
        site = base / "lib" / f"python{python}" / "site-packages"
        site.mkdir(parents=True)
        (base / "pyvenv.cfg").write_text(
            f"home = /usr/bin\ninclude-system-site-packages = false\nversion = {python}.7\n"
        )
        return site

    def user_site(self, home: str, python: str = "3.11") -> Path:
        site = self.path(home) / ".local" / "lib" / f"python{python}" / "site-packages"
        site.mkdir(parents=True)
        return site

    def conda_env(self, prefix: str, python: str = "3.11") -> Path:
        base = self.path(prefix)
        (base / "conda-meta").mkdir(parents=True)
        (base / "conda-meta" / "history").write_text("==> 2026-11-01 <==\n")
        site = base / "lib" / f"python{python}" / "site-packages"
        site.mkdir(parents=True)
        return site

    def system_dist_packages(self) -> Path:
        site = self.path("/usr/lib/python3/dist-packages")
        site.mkdir(parents=True, exist_ok=True)
        return site


@pytest.fixture
def settled_files(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files the test has just written count as settled. The scanner keeps nothing learnt from a file
    changed in the last two seconds (``fsview.SETTLING_NS``), and every file of a test is that new; the
    tests of what the store keeps would otherwise wait two seconds each."""
    monkeypatch.setattr(fsview, "SETTLING_NS", 0)


@pytest.fixture
def machine(tmp_path: Path) -> Machine:
    root = tmp_path / "machine"
    root.mkdir()
    return Machine(root)


def require(part: str, present: object) -> None:
    """A test that needs a part of the machine (Chromium, shellcheck, setpriv...) skips without it on a
    developer's machine, but fails under ``CI=true``: ``.ci/run`` installs every part, so a skip there
    would hide a test that never ran."""
    if present:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{part} is needed and CI=true: .ci/run should have installed it")
    pytest.skip(f"{part} is not installed")


def require_module(name: str) -> Any:
    """``pytest.importorskip`` that fails instead of skipping under ``CI=true`` (see ``require``)."""
    try:
        return importlib.import_module(name)
    except ImportError:
        require(f"the Python module {name}", False)


def drop_dac_prefix() -> list[str]:
    """Root reads everything; to see 'permission denied' as root, drop the override capabilities."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    require("setpriv (to read as root without the override capabilities)", setpriv)
    assert setpriv is not None
    caps = "-dac_override,-dac_read_search"
    return [setpriv, "--bounding-set", caps, "--inh-caps", caps]


def run_scanner(
    *args: str,
    unprivileged: bool = False,
    cwd: Path | None = None,
    process: bool = False,
    columns: int = 200,
) -> subprocess.CompletedProcess[str]:
    """Run ``scanner ARGS`` as users do and return what it printed and its exit code.

    In process by default (Typer's ``CliRunner``: the same app, parser and exit codes, without the
    half-second start of a new interpreter); as the installed console script when the test needs a
    real process (``process=True``) or dropped privileges (``unprivileged``). ``columns`` is the width
    of the terminal it is given (``COLUMNS``).
    """
    if unprivileged or process:
        assert SCANNER, "the scanner console script is not installed (pip install -e '.[test]')"
        prefix = drop_dac_prefix() if unprivileged else []
        env = {**os.environ, "COLUMNS": str(columns)}
        return subprocess.run(
            [*prefix, SCANNER, *args], capture_output=True, text=True, timeout=300, env=env, cwd=cwd, check=False
        )
    before = os.getcwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        result = CliRunner().invoke(app, list(args), env={"COLUMNS": str(columns)}, catch_exceptions=True)
    finally:
        os.chdir(before)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a crash is a test failure with its traceback, not an exit code
    return subprocess.CompletedProcess(["scanner", *args], result.exit_code, result.stdout, result.stderr)


@pytest.fixture(autouse=True, scope="session")
def _dev_null_stays_a_device() -> Iterator[None]:
    """The scanner runs as root: no test may leave /dev/null replaced by a file (``-o`` once did)."""
    yield
    assert stat.S_ISCHR(os.lstat("/dev/null").st_mode), "/dev/null is no longer a character device"


@pytest.fixture(autouse=True)
def _private_caches(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test writes to the real user or system cache (the Hub cache) or store (history, file cache)."""
    monkeypatch.setenv("SCANNER_CACHE_DIR", str(tmp_path_factory.mktemp("scanner-cache")))
    monkeypatch.setenv("SCANNER_DB", str(tmp_path_factory.mktemp("scanner-store") / "scanner.db"))


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str | None]:
    """The URL of a PostgreSQL server the tests may create databases on (see ``postgres.py``); ``None``
    when there is none here (the PostgreSQL tests then skip, or fail under ``CI=true``)."""
    if os.environ.get(postgres.VARIABLE):
        yield os.environ[postgres.VARIABLE]
        return
    tools = postgres.server_tools()
    if tools is None:
        yield None
        return
    with postgres.throwaway_cluster(tools) as cluster:
        yield cluster.url


@pytest.fixture(params=["sqlite", "postgresql"])
def fleet_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty fleet database as ``--db`` names it: a SQLite file, or a PostgreSQL URL."""
    if request.param == "sqlite":
        yield str(tmp_path / "fleet.db")
        return
    server = request.getfixturevalue("postgres_server")
    require("PostgreSQL (the server tools, or $SCANNER_TEST_POSTGRES)", server)
    with postgres.fresh_database(server) as url:
        yield url


def build_wheel(dest: Path) -> Path:
    """The project's wheel, built as an admin's ``pip wheel`` would (no network, no build isolation)."""
    project = Path(__file__).resolve().parents[1]
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dest)]
    subprocess.run([*command, str(project)], check=True, capture_output=True)
    (wheel,) = dest.glob("scanner-*.whl")
    return wheel
