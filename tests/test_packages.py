"""Installed Python packages in every environment layout, read from real metadata files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from conftest import Machine, run_scanner, write_conda_record, write_dist_info

from scanner.collectors.packages.collector import PythonPackageCollector
from scanner.collectors.packages.metadata import parse_core_metadata
from scanner.fsview import RootFS
from scanner.records import PackageRecord
from scanner.walk import Walker, WalkOptions, WalkRoot


def collect(root: Path) -> tuple[list[PackageRecord], list]:  # type: ignore[type-arg]
    fs = RootFS(str(root))
    collector = PythonPackageCollector(fs)
    coverage = Walker(fs, [collector], WalkOptions(mounts=[])).walk([WalkRoot(fs.root)])
    result = collector.finish()
    return sorted(result.records, key=lambda r: r.identity), coverage.skipped + result.skipped  # type: ignore[return-value, arg-type]


def by_name(records: list[PackageRecord]) -> dict[str, PackageRecord]:
    return {r.normalized_name: r for r in records}


def test_dist_info_metadata_becomes_a_complete_record(machine: Machine) -> None:
    site = machine.venv("/opt/venvs/agent")
    write_dist_info(
        site,
        "Langchain_DeepSeek",
        "1.1.1",
        summary="An integration package connecting DeepSeek and LangChain",
        author_email='"LangChain" <support@LangChain.dev>, Other <x@deepseek.com>',
        home_page="https://www.langchain.com",
        project_urls=[("Source Code", "https://github.com/langchain-ai/langchain")],
        installer="uv",
    )
    (record,) = collect(machine.root)[0]
    assert record.name == "Langchain_DeepSeek"
    assert record.normalized_name == "langchain-deepseek"
    assert record.version == "1.1.1"
    assert record.summary == "An integration package connecting DeepSeek and LangChain"
    assert record.home_page == "https://www.langchain.com"
    assert record.project_urls == (("Source Code", "https://github.com/langchain-ai/langchain"),)
    assert record.author_email_domains == ("langchain.dev", "deepseek.com")
    assert record.installer == "uv"
    assert record.environment.to_dict() == {"path": "/opt/venvs/agent", "kind": "venv", "python": "3.11"}
    assert (
        record.locations[0].path == "/opt/venvs/agent/lib/python3.11/site-packages/Langchain_DeepSeek-1.1.1.dist-info"
    )
    assert record.found_by == "python-package-collector"


def test_every_environment_layout_is_recognised(machine: Machine) -> None:
    write_dist_info(machine.venv("/srv/app/.venv", python="3.12"), "a", "1")
    write_dist_info(machine.venv("/home/bob/.local/share/pipx/venvs/kimi-cli"), "b", "1")
    write_dist_info(machine.user_site("/home/bob"), "c", "1")
    write_dist_info(machine.conda_env("/opt/conda/envs/ml"), "d", "1")
    write_dist_info(machine.system_dist_packages(), "e", "1", installer="debian")
    pyenv = machine.path("/root/.pyenv/versions/3.10.13/lib/python3.10/site-packages")
    pyenv.mkdir(parents=True)
    write_dist_info(pyenv, "f", "1")
    windows = machine.path("/win/Python312/Lib/site-packages")
    windows.mkdir(parents=True)
    write_dist_info(windows, "g", "1")
    odd = machine.path("/weird/site-packages")
    odd.mkdir(parents=True)
    write_dist_info(odd, "h", "1")
    user_sites = {
        "i": "/Users/alice/AppData/Roaming/Python/Python311/site-packages",  # pip install --user on Windows
        "j": "/Users/alice/AppData/Local/Packages/PythonSoftwareFoundation.Python.3.12_qbz5n2kfra8p0/LocalCache/"
        "local-packages/Python312/site-packages",  # the Microsoft Store's Python
        "k": "/Users/alice/Library/Python/3.9/lib/python/site-packages",  # macOS's framework Python
    }
    for name, place in user_sites.items():
        machine.path(place).mkdir(parents=True)
        write_dist_info(machine.path(place), name, "1")
    envs = {name: r.environment.to_dict() for name, r in by_name(collect(machine.root)[0]).items()}
    assert envs == {
        "a": {"path": "/srv/app/.venv", "kind": "venv", "python": "3.12"},
        "b": {"path": "/home/bob/.local/share/pipx/venvs/kimi-cli", "kind": "pipx", "python": "3.11"},
        "c": {"path": "/home/bob/.local", "kind": "user-site", "python": "3.11"},
        "d": {"path": "/opt/conda/envs/ml", "kind": "conda", "python": "3.11"},
        "e": {"path": "/usr", "kind": "system", "python": "3"},
        "f": {"path": "/root/.pyenv/versions/3.10.13", "kind": "pyenv", "python": "3.10"},
        "g": {"path": "/win/Python312", "kind": "system", "python": None},
        "h": {"path": "/weird/site-packages", "kind": "unknown", "python": None},
        "i": {"path": "/Users/alice/AppData/Roaming/Python/Python311", "kind": "user-site", "python": "3.11"},
        "j": {
            "path": "/Users/alice/AppData/Local/Packages/PythonSoftwareFoundation.Python.3.12_qbz5n2kfra8p0/"
            "LocalCache/local-packages/Python312",
            "kind": "user-site",
            "python": "3.12",
        },
        "k": {"path": "/Users/alice/Library/Python/3.9", "kind": "user-site", "python": "3.9"},
    }


def test_egg_info_folders_files_and_eggs_are_read(machine: Machine) -> None:
    site = machine.venv("/opt/legacy")
    folder = site / "oldpkg-0.9-py3.11.egg-info"
    folder.mkdir()
    (folder / "PKG-INFO").write_text("Metadata-Version: 1.2\nName: oldpkg\nVersion: 0.9\nSummary: old\n")
    (site / "single-2.0-py3.11.egg-info").write_text("Metadata-Version: 1.1\nName: single\nVersion: 2.0\n")
    egg = site / "eggy-3.1-py3.11.egg" / "EGG-INFO"
    egg.mkdir(parents=True)
    (egg / "PKG-INFO").write_text("Metadata-Version: 1.1\nName: eggy\nVersion: 3.1\n")
    records = by_name(collect(machine.root)[0])
    assert {n: (r.version, dict(r.extra)["metadata_format"]) for n, r in records.items()} == {
        "oldpkg": ("0.9", "egg-info"),
        "single": ("2.0", "egg-info-file"),
        "eggy": ("3.1", "egg"),
    }


def test_dist_info_outside_site_packages_is_not_an_installed_package(machine: Machine) -> None:
    build = machine.path("/home/bob/project/build")
    build.mkdir(parents=True)
    write_dist_info(build, "notinstalled", "1.0")
    assert collect(machine.root)[0] == []


def test_missing_metadata_falls_back_to_the_folder_name(machine: Machine) -> None:
    site = machine.venv("/opt/v")
    (site / "kimi_cli-1.52.0.dist-info").mkdir()
    (record,) = collect(machine.root)[0]
    assert (record.normalized_name, record.version) == ("kimi-cli", "1.52.0")
    assert dict(record.extra)["metadata_problem"] == "missing"


def test_a_fifo_posing_as_metadata_is_skipped_with_a_reason(machine: Machine) -> None:
    site = machine.venv("/opt/v")
    folder = site / "minimax_mcp-0.0.19.dist-info"
    folder.mkdir()
    os.mkfifo(folder / "METADATA")
    os.mkfifo(site / "trap-1.0.egg-info")
    records, skipped = collect(machine.root)
    assert {r.normalized_name for r in records} == {"minimax-mcp", "trap"}  # still inventoried by folder name
    reasons = sorted((s.path.rsplit("/", 2)[-2:][-1], s.reason) for s in skipped)
    assert reasons == [
        ("METADATA", "package metadata unreadable: not a regular file (FIFO)"),
        ("trap-1.0.egg-info", "package metadata unreadable: not a regular file (FIFO)"),
    ]


def test_huge_metadata_is_read_only_up_to_its_cap(machine: Machine) -> None:
    site = machine.venv("/opt/v")
    folder = write_dist_info(site, "bloated", "1.0")
    with open(folder / "METADATA", "a") as handle:
        handle.write("x" * (8 * 1024 * 1024))
    (record,) = collect(machine.root)[0]
    assert (record.name, record.version) == ("bloated", "1.0")


def test_conda_records_are_inventoried_and_merged_with_their_dist_info(machine: Machine) -> None:
    site = machine.conda_env("/opt/conda/envs/ml")
    prefix = machine.path("/opt/conda/envs/ml")
    write_dist_info(site, "litellm", "1.80.0", installer="conda")
    write_conda_record(prefix, "litellm", "1.80.0", summary="Call all LLM APIs")
    write_conda_record(prefix, "openssl", "3.5.0", build="h26f9b46_0", subdir="linux-64")
    records = by_name(collect(machine.root)[0])
    assert set(records) == {"litellm", "openssl"}
    litellm = records["litellm"]
    assert litellm.ecosystem == "pypi"
    assert [(loc.path.rsplit("/", 1)[-1], loc.role) for loc in litellm.locations] == [
        ("litellm-1.80.0.dist-info", "primary"),
        ("litellm-1.80.0-pyhd8ed1ab_0.json", "supporting"),
    ]
    assert dict(litellm.extra)["conda_channel"] == "https://conda.anaconda.org/conda-forge/noarch"
    openssl = records["openssl"]
    assert (openssl.ecosystem, openssl.version, openssl.environment.kind) == ("conda", "3.5.0", "conda")


def test_broken_conda_record_falls_back_to_its_file_name(machine: Machine) -> None:
    meta = machine.path("/opt/conda/conda-meta")
    meta.mkdir(parents=True)
    (meta / "zhipuai-2.1.5-pyhd8ed1ab_0.json").write_text("[" * 100000)  # hostile nesting
    (meta / "history").write_text("")
    (record,) = collect(machine.root)[0]
    assert (record.name, record.version, record.ecosystem) == ("zhipuai", "2.1.5", "conda")


def _build_wheel(directory: Path, name: str, version: str) -> Path:
    """A minimal but valid wheel, so that pip itself installs it."""
    dist = f"{name.replace('-', '_')}-{version}"
    wheel = directory / f"{dist}-py3-none-any.whl"
    files = {
        f"{name.replace('-', '_')}/__init__.py": "raise SystemExit('scanned code must never be imported')\n",
        f"{dist}.dist-info/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: Kimi CLI test build\n"
            "Author-email: Moonshot AI <dev@moonshot.cn>\n"
        ),
        f"{dist}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(f"{path},,\n" for path in files) + f"{dist}.dist-info/RECORD,,\n"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
        archive.writestr(f"{dist}.dist-info/RECORD", record)
    return wheel


def test_a_package_installed_by_pip_into_a_real_venv_is_found(tmp_path: Path) -> None:
    root = tmp_path / "machine"
    venv = root / "opt" / "tools"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    wheel = _build_wheel(tmp_path, "kimi-cli", "1.52.0")
    python = venv / "bin" / "python"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-index",
            "--no-deps",
            "-q",
            str(wheel),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"pip --python unavailable: {done.stderr.strip()[:200]}")
    (record,) = collect(root)[0]
    assert (record.normalized_name, record.version, record.installer) == ("kimi-cli", "1.52.0", "pip")
    assert record.environment.kind == "venv" and record.environment.path == "/opt/tools"
    assert record.author_email_domains == ("moonshot.cn",)


def test_only_the_header_block_is_read_and_folded_lines_are_joined() -> None:
    text = (
        "Metadata-Version: 2.1\r\nName: real-name\r\nSummary: first part\r\n  second part\r\n"
        "Author-email: A <a@Example.ORG>, b@mail.example.net\r\n"
        "Project-URL: Docs, https://docs.example.org\r\nProject-URL: Source, https://github.com/x/y\r\n"
        "\r\nName: body-is-not-headers\r\nAuthor-email: evil@deepseek.com\r\n"
    )
    parsed = parse_core_metadata(text)
    assert parsed.name == "real-name"
    assert parsed.summary == "first part second part"
    assert parsed.author_email_domains == ("example.org", "mail.example.net")
    assert parsed.project_urls == (("Docs", "https://docs.example.org"), ("Source", "https://github.com/x/y"))


def test_live_scans_also_look_in_the_running_interpreters_environments() -> None:
    roots = PythonPackageCollector(RootFS(None)).extra_roots()
    purelib = os.path.realpath(sysconfig.get_paths()["purelib"])
    assert any(r.real_path == purelib and r.max_depth == 1 and r.supplementary for r in roots)
    assert PythonPackageCollector(RootFS("/tmp")).extra_roots() == []  # a --root scan is not this machine


def test_zipped_eggs_are_inventoried_by_file_name(machine: Machine) -> None:
    site = machine.venv("/opt/old")
    with zipfile.ZipFile(site / "deepseek_sdk-1.0-py3.11.egg", "w") as archive:
        archive.writestr("EGG-INFO/PKG-INFO", "Metadata-Version: 1.1\nName: deepseek-sdk\nVersion: 1.0\n")
    (record,) = collect(machine.root)[0]
    assert (record.normalized_name, record.version) == ("deepseek-sdk", "1.0")
    assert dict(record.extra)["metadata_problem"].startswith("zipped egg")


def test_an_egg_info_link_never_leads_out_of_the_root(tmp_path: Path) -> None:
    secret = tmp_path / "host" / "EGG-INFO"
    secret.mkdir(parents=True)
    (secret / "PKG-INFO").write_text("Metadata-Version: 1.1\nName: host-secret\nVersion: 6.6.6\n")
    machine = Machine(tmp_path / "machine")
    site = machine.venv("/opt/v")
    egg = site / "innocent-1.0-py3.11.egg"
    egg.mkdir()
    (egg / "EGG-INFO").symlink_to(secret)  # absolute: inside the root it means <root>/<that path>
    (record,) = collect(machine.root)[0]
    assert (record.name, record.version) == ("innocent", "1.0")
    assert dict(record.extra)["metadata_problem"] == "missing"


def test_symlinked_package_folders_are_read_through_the_link(machine: Machine) -> None:
    store = machine.path("/nix/store/abc-langchain-deepseek")
    store.mkdir(parents=True)
    real = write_dist_info(store, "langchain-deepseek", "1.1.1")
    legacy = store / "old_pkg-0.1.egg-info"
    legacy.mkdir()
    (legacy / "PKG-INFO").write_text("Metadata-Version: 1.1\nName: old-pkg\nVersion: 0.1\n")
    site = machine.venv("/opt/app")
    (site / real.name).symlink_to(f"../../../../../nix/store/abc-langchain-deepseek/{real.name}")
    (site / legacy.name).symlink_to("/nix/store/abc-langchain-deepseek/old_pkg-0.1.egg-info")
    records, skipped = collect(machine.root)
    assert skipped == []
    assert {(r.normalized_name, r.version, r.environment.path) for r in records} == {
        ("langchain-deepseek", "1.1.1", "/opt/app"),
        ("old-pkg", "0.1", "/opt/app"),
    }


def test_undecodable_folder_names_are_reported_printably(machine: Machine) -> None:
    site = machine.venv("/opt/caf\udce9")  # the byte 0xE9 (latin-1 é), not valid UTF-8
    folder = site / "pkg\udcff-1.0.dist-info"
    folder.mkdir()
    (record,) = collect(machine.root)[0]
    assert record.environment.path == "/opt/caf\\xe9"
    assert record.locations[0].path.endswith("/pkg\\xff-1.0.dist-info")
    assert record.id  # hashing the identity works


def test_one_version_in_two_metadata_layouts_gives_two_distinct_records(machine: Machine) -> None:
    site = machine.venv("/opt/v")
    write_dist_info(site, "dup", "1.0")
    (site / "dup-1.0-py3.11.egg-info").write_text("Metadata-Version: 1.1\nName: dup\nVersion: 1.0\n")
    records = collect(machine.root)[0]
    assert len(records) == 2 and records[0].id != records[1].id


def test_a_rebranded_client_is_known_by_what_its_metadata_says(machine: Machine) -> None:
    """A republish of Kimi's CLI under another name, a client whose summary says what it is, a package
    whose author writes from the provider's API domain, and a wrapper that needs the provider's SDK;
    the minimax algorithm and AI Verify's Project Moonshot stay clean."""
    site = machine.venv("/opt/venv")
    write_dist_info(site, "bhu-cli", "1.49.0", summary="Kimi Code CLI is your next CLI agent.")
    write_dist_info(site, "parrot-moonshot", "0.4.4", summary="Moonshot AI (Kimi) LLM client for AI-Parrot")
    write_dist_info(site, "coding-plan-mcp", "0.0.5", summary="MCP server", author_email="Roy <roy@minimax.chat>")
    write_dist_info(site, "chess-minimax", "0.1.8", summary="A pure Python chess AI (minimax algorithm)")
    write_dist_info(site, "moonshot-eval", "0.7.6", summary="AI Verify advances Gen AI testing with Project Moonshot.")
    write_dist_info(site, "ds-wrapper", "0.1", requires=["langchain-deepseek>=1.0", "requests"])
    write_dist_info(site, "langchain", "0.3.27", requires=["langchain-deepseek; extra == 'deepseek'"])
    write_dist_info(site, "tictactoe-ai", "1.0", summary="Tic-tac-toe AI using the MiniMax algorithm")
    write_dist_info(site, "f1-stats", "1.0", summary="Race data model for Kimi Antonelli and other drivers")
    done = run_scanner("audit", "--root", str(machine.root), "-f", "json")
    found = {(f["subject"], f["provider"], f["rule_id"], f["severity"]) for f in json.loads(done.stdout)["findings"]}
    assert found == {
        ("bhu-cli 1.49.0", "moonshot", "package-described", "warning"),
        ("parrot-moonshot 0.4.4", "moonshot", "package-described", "warning"),
        ("coding-plan-mcp 0.0.5", "minimax", "package-publisher", "violation"),
        ("ds-wrapper 0.1", "deepseek", "package-depends", "warning"),
    }


def test_a_client_is_known_by_the_one_api_its_description_calls(machine: Machine) -> None:
    """kosong's description configures only Moonshot's API; a gateway's calls several vendors' APIs."""
    site = machine.venv("/opt/venv")
    example = '```python\nkimi = Kimi(\n    base_url="https://api.moonshot.ai/v1",\n    model="kimi-k2-turbo-preview",\n)\n```'
    write_dist_info(site, "kosong", "0.56.0", summary="The LLM abstraction layer for AI agents.", description=example)
    gateway = 'Set `api_base="https://api.deepseek.com"` or `api_base="https://api.openai.com/v1"`.'
    write_dist_info(site, "some-gateway", "1.0", summary="Call any LLM API.", description=gateway)
    done = run_scanner("audit", "--root", str(machine.root), "-f", "json")
    found = {(f["subject"], f["provider"], f["rule_id"], f["severity"]) for f in json.loads(done.stdout)["findings"]}
    assert found == {("kosong 0.56.0", "moonshot", "package-described", "warning")}


POM = """<project>
  <dependencies>
    <dependency>
      <groupId>org.springframework.ai</groupId>
      <artifactId>spring-ai-starter-model-deepseek</artifactId>
      <exclusions><exclusion><groupId>x</groupId><artifactId>y</artifactId></exclusion></exclusions>
    </dependency>
    <dependency>
      <groupId>org.springframework.boot</groupId>
      <artifactId>spring-boot-starter-web</artifactId>
      <version>${boot.version}</version>
    </dependency>
  </dependencies>
</project>
"""


def test_dependencies_declared_in_maven_and_gradle_build_files_are_packages(machine: Machine) -> None:
    """The forms the Spring AI documentation gives: a POM's <dependency>, and Gradle's Groovy and Kotlin lines."""
    files = {
        "/home/dev/chat/pom.xml": POM,
        "/home/dev/rag/build.gradle": "dependencies {\n    implementation 'org.springframework.ai:spring-ai-starter-model-minimax'\n}\n",
        "/home/dev/app/build.gradle.kts": 'dependencies {\n    implementation("org.springframework.ai:spring-ai-starter-model-moonshot:1.0.0-M6")\n}\n',
        "/home/dev/.m2/repository/x/pom.xml": POM,
    }
    for inside, text in files.items():
        machine.path(inside).parent.mkdir(parents=True, exist_ok=True)
        machine.path(inside).write_text(text)
    report = json.loads(run_scanner("audit", "--root", str(machine.root), "-f", "json").stdout)
    found = {(f["subject"], f["provider"], f["rule_id"], f["location"]["path"]) for f in report["findings"]}
    assert found == {
        (
            "org.springframework.ai:spring-ai-starter-model-deepseek",
            "deepseek",
            "package-listed",
            "/home/dev/chat/pom.xml",
        ),
        (
            "org.springframework.ai:spring-ai-starter-model-minimax",
            "minimax",
            "package-listed",
            "/home/dev/rag/build.gradle",
        ),
        (
            "org.springframework.ai:spring-ai-starter-model-moonshot 1.0.0-M6",
            "moonshot",
            "package-listed",
            "/home/dev/app/build.gradle.kts",
        ),
    }
    declared = {i["name"] for i in report["inventory"] if i["kind"] == "package"}
    assert "org.springframework.boot:spring-boot-starter-web" in declared and "x:y" not in declared
    sbom = run_scanner("audit", "--root", str(machine.root), "-f", "cyclonedx").stdout
    assert '"pkg:maven/org.springframework.ai/spring-ai-starter-model-moonshot@1.0.0-M6"' in sbom
