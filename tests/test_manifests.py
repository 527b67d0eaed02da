"""Dependencies projects declare in their manifests and lock files, as their own tools write them
(``tests/manifests/PROVENANCE.md``): found with the file and line, weighed by the policy's
``declared_severity``, and the unrelated ``minimax`` packages stay clean."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import run_scanner

MANIFESTS = Path(__file__).parent / "manifests"


def audit(root: Path, tmp_path: Path, *options: str) -> dict[str, Any]:
    report = tmp_path / "report.json"
    result = run_scanner("audit", "--root", str(root), "--no-store", "-o", str(report), *options)
    assert result.returncode in (0, 1), result.stderr
    return json.loads(report.read_text())


@pytest.fixture
def projects(tmp_path: Path) -> Path:
    """The projects as they would be on someone's machine: the scanner knows its own test files by their
    content (``scanner.own``) and leaves them alone, so each copy ends with one more newline."""
    for source in MANIFESTS.rglob("*"):
        if source.is_file() and source.suffix != ".md":
            copy = tmp_path / "tree" / source.relative_to(MANIFESTS)
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_bytes(source.read_bytes() + b"\n")
    return tmp_path / "tree"


def places(finding: dict[str, Any], report: dict[str, Any]) -> list[str]:
    record = next(r for r in report["inventory"] if r["id"] == finding["record_id"])
    return [f"{at['path']}:{at['line']}" for at in record["attributes"]["locations"]]


def test_every_manifest_and_lock_file_gives_its_banned_dependency_with_file_and_line(
    projects: Path, tmp_path: Path
) -> None:
    report = audit(projects, tmp_path)
    found = {
        f["location"]["path"].split("/")[1]: (f["provider"], f["subject"].split()[0], f["severity"], places(f, report))
        for f in report["findings"]
        if f["kind"] == "package"
    }
    ai_sdk = ("deepseek", "@ai-sdk/deepseek", "warning")
    assert found == {
        "node-npm": (*ai_sdk, ["/node-npm/package.json:6", "/node-npm/package-lock.json:18"]),
        "node-pnpm": (*ai_sdk, ["/node-pnpm/package.json:6", "/node-pnpm/pnpm-lock.yaml:24"]),
        "node-yarn": (*ai_sdk, ["/node-yarn/package.json:6", "/node-yarn/yarn.lock:5"]),
        "python-uv": ("moonshot", "kimi-code", "warning", found["python-uv"][3]),
        "python-poetry": (
            "minimax", "minimax-cli", "warning", ["/python-poetry/pyproject.toml:9", "/python-poetry/poetry.lock:256"]
        ),
        "python-pipenv": ("moonshot", "kimi-code", "warning", ["/python-pipenv/Pipfile:7", "/python-pipenv/Pipfile.lock:60"]),
        "go": ("deepseek", "github.com/cohesion-org/deepseek-go", "warning", ["/go/go.mod:6"]),
        "conda": ("deepseek", "langchain-deepseek", "warning", ["/conda/environment.yml:11"]),
    }  # fmt: skip
    assert set(found["python-uv"][3]) == {
        "/python-uv/pyproject.toml:6", "/python-uv/uv.lock:24", "/python-uv/requirements.txt:3"
    }  # fmt: skip
    names = {r["name"] for r in report["inventory"] if r["kind"] == "package"}
    assert "minimax" in names  # read, and judged clean on npm, PyPI and crates alike
    assert not [f for f in report["findings"] if f["subject"].split()[0] == "minimax"]


def test_a_declared_dependency_weighs_what_the_policy_says_and_an_installed_one_its_providers_severity(
    projects: Path, tmp_path: Path
) -> None:
    installed = projects / "node-npm/node_modules/@ai-sdk/deepseek"
    installed.mkdir(parents=True)
    (installed / "package.json").write_text('{"name": "@ai-sdk/deepseek", "version": "1.0.60"}')
    report = audit(projects, tmp_path)
    npm = sorted(
        (f["severity"], f["location"]["path"]) for f in report["findings"] if "node-npm" in f["location"]["path"]
    )
    assert npm == [
        ("violation", "/node-npm/node_modules/@ai-sdk/deepseek"),
        ("warning", "/node-npm/package.json"),
    ]
    strict = tmp_path / "strict.yaml"
    strict.write_text(
        'schema_version: 1\nid: strict\nversion: "1"\ntitle: Strict\ninclude: [default]\ndeclared_severity: violation\n'
    )
    report = audit(projects, tmp_path, "--policy", str(strict))
    declared = [f for f in report["findings"] if f["kind"] == "package" and "node_modules" not in f["location"]["path"]]
    assert declared and {f["severity"] for f in declared} == {"violation"}


def test_cargo_manifests_and_lock_files_are_read_by_a_policy_that_lists_a_crate(projects: Path, tmp_path: Path) -> None:
    """The bundled policy lists no crate (none could be checked on crates.io from here); a site policy can."""
    site = tmp_path / "crates.yaml"
    site.write_text(
        "schema_version: 1\nid: crates\nversion: '1'\ntitle: Crates\n"
        "sources:\n  own-review: {title: Our review, date: '2026-12-05', urls: ['https://example.org'], kind: research, confidence: verified}\n"
        "providers:\n  - id: deepseek\n    name: DeepSeek\n    severity: violation\n    reason: Banned here.\n    sources: [own-review]\n"
        "    packages:\n      - {name: deepseek_api, ecosystem: cargo, source: own-review}\n"
    )
    report = audit(projects / "rust", tmp_path, "--policy", str(site))
    (finding,) = [f for f in report["findings"] if f["kind"] == "package"]
    assert places(finding, report) == ["/Cargo.toml:7", "/Cargo.lock:6"]
    record = next(r for r in report["inventory"] if r["id"] == finding["record_id"])
    assert record["attributes"]["ecosystem"] == "cargo"


def test_manifests_inside_installed_trees_are_the_libraries_own_and_are_not_read(tmp_path: Path) -> None:
    library = tmp_path / "tree/srv/app/node_modules/some-lib"
    library.mkdir(parents=True)
    (library / "package.json").write_text(
        '{"name": "some-lib", "version": "1.0.0", "dependencies": {"@ai-sdk/deepseek": "1.0.0"}}'
    )
    site = tmp_path / "tree/srv/app/.venv/lib/python3.11/site-packages/some_lib"
    site.mkdir(parents=True)
    (site / "requirements.txt").write_text("langchain-deepseek==1.1.1\n")
    report = audit(tmp_path / "tree", tmp_path)
    assert not [r for r in report["inventory"] if r["attributes"].get("found_by") == "manifest-collector"]


def test_a_lock_file_past_its_budget_is_a_gap_not_a_stall(tmp_path: Path) -> None:
    project = tmp_path / "tree/srv/app"
    project.mkdir(parents=True)
    entries = "".join(f'"pkg-{i}@^1.0.0":\n  version "1.0.0"\n\n' for i in range(25_000))
    (project / "yarn.lock").write_text(
        "# yarn lockfile v1\n\n" + entries + '"@ai-sdk/deepseek@^1.0.0":\n  version "1.0.60"\n'
    )
    report = audit(tmp_path / "tree", tmp_path)
    gaps = [s for s in report["scan"]["coverage"]["skipped"] if s["path"] == "/srv/app/yarn.lock"]
    assert gaps and "first 20000 declared dependencies" in gaps[0]["reason"]
    assert report["scan"]["coverage"]["complete"] is False


def test_declared_go_and_cargo_packages_have_their_package_urls_in_cyclonedx(projects: Path, tmp_path: Path) -> None:
    bom = tmp_path / "bom.json"
    result = run_scanner("audit", "--root", str(projects), "--no-store", "-f", "cyclonedx", "-o", str(bom))
    assert result.returncode in (0, 1), result.stderr
    purls = {c.get("purl") for c in json.loads(bom.read_text())["components"]}
    assert "pkg:golang/github.com/cohesion-org/deepseek-go@v1.3.2" in purls
    assert "pkg:cargo/deepseek-api@0.1.5" in purls
    assert "pkg:npm/%40ai-sdk/deepseek@1.0.60" in purls
