"""The policy engine: which records become findings, at what severity and confidence, and why."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from scanner.ecosystems import ECOSYSTEMS, Ecosystem, EnvironmentKind
from scanner.errors import PolicyError
from scanner.policy.engine import evaluate
from scanner.policy.loader import load_policy
from scanner.policy.schema import Policy
from scanner.records import Environment, Location, PackageRecord

POLICY = """\
schema_version: 1
id: test
version: "1"
title: Test policy
sources:
  cable: {title: State Department cable, date: "2026-04-24", urls: ["https://example.org/c"], confidence: secondary, kind: diplomatic-warning}
  pypi: {title: PyPI index listing, date: "2026-11", urls: ["https://pypi.org/simple/"], confidence: verified, kind: package-registry}
providers:
  - id: deepseek
    name: DeepSeek
    severity: violation
    reason: Named in bans on institutional use.
    sources: [cable]
    packages:
      - {name: langchain-deepseek, source: pypi}
    package_name_patterns:
      - {pattern: deepseek, source: pypi}
    web_hosts:
      - {host: deepseek.com, source: cable}
    github_orgs:
      - {name: deepseek-ai, source: cable}
  - id: minimax
    name: MiniMax
    severity: violation
    reason: Named in the cable.
    sources: [cable]
    packages:
      - {name: minimax-mcp, source: pypi}
    package_false_positives:
      - {name: minimax, source: pypi, note: game-theory library}
    package_name_patterns:
      - {pattern: minimax, source: pypi}
  - id: zhipu
    name: Zhipu AI
    severity: warning
    reason: For review.
    sources: [cable]
    packages:
      - {name: zhipuai, source: pypi}
      - {name: zhipu-cli, ecosystem: conda, source: pypi}
  - id: openai
    name: OpenAI
    packages:
      - {name: openai, source: pypi}
ai_packages:
  - {name: litellm, source: pypi}
"""


@pytest.fixture
def policy(tmp_path: Path) -> Policy:
    path = tmp_path / "test.yaml"
    path.write_text(POLICY)
    return load_policy([str(path)])


def package(
    name: str, version: str = "1.0", env: str = "/opt/venv", ecosystem: Ecosystem = Ecosystem.PYPI, **fields: object
) -> PackageRecord:
    return PackageRecord(
        name=name,
        normalized_name=ECOSYSTEMS[ecosystem].normalize(name),
        version=version,
        ecosystem=ecosystem,
        environment=Environment(env, EnvironmentKind.VENV, "3.11"),
        locations=(Location(f"{env}/lib/python3.11/site-packages/{name}-{version}.dist-info"),),
        found_by="python-package-collector",
        **fields,  # type: ignore[arg-type]
    )


def test_a_listed_package_is_a_confirmed_violation_that_explains_itself(policy: Policy) -> None:
    (finding,) = evaluate([package("LangChain_DeepSeek", "1.1.1")], policy)
    assert (finding.rule_id, finding.severity, finding.confidence, finding.provider) == (
        "package-listed",
        "violation",
        "confirmed",
        "deepseek",
    )
    assert finding.subject == "langchain-deepseek 1.1.1"
    assert finding.location.path == "/opt/venv/lib/python3.11/site-packages/LangChain_DeepSeek-1.1.1.dist-info"
    evidence = "\n".join(finding.evidence)
    assert "package `LangChain_DeepSeek` 1.1.1 is installed in the virtual environment /opt/venv" in evidence
    assert (
        "lists `langchain-deepseek` as a package of DeepSeek; source: PyPI index listing, 2026-11 (verified)."
        in evidence
    )
    assert "DeepSeek is rated violation by this policy: Named in bans on institutional use." in evidence
    assert "State Department cable (2026-04-24)" in evidence
    assert finding.matches[0].matcher == "package-name-exact"
    assert finding.matches[0].policy_location.endswith("test.yaml:15")


def test_one_finding_per_package_and_provider_keeps_the_strongest_rule_and_all_evidence(
    policy: Policy,
) -> None:
    record = package("langchain-deepseek", author_email_domains=("deepseek.com",))
    (finding,) = evaluate([record], policy)
    assert finding.rule_id == "package-listed"
    assert [m.matcher for m in finding.matches] == [
        "package-name-exact",
        "package-publisher",
        "package-name-pattern",
    ]


def test_publisher_domain_or_github_org_identifies_an_unlisted_package_with_strong_confidence(
    policy: Policy,
) -> None:
    by_mail = package("ds-tools", author_email_domains=("research.deepseek.com",))
    by_url = package("vl-kit", project_urls=(("Source", "https://github.com/deepseek-ai/DeepSeek-VL"),))
    look_alike = package("other", author_email_domains=("notdeepseek.com",), home_page="https://deepseek.com.evil.org")
    findings = {f.subject: f for f in evaluate([by_mail, by_url, look_alike], policy)}
    assert set(findings) == {"ds-tools 1.0", "vl-kit 1.0"}
    assert {(f.rule_id, f.confidence, f.severity) for f in findings.values()} == {
        ("package-publisher", "strong", "violation")
    }
    assert "GitHub organisation `deepseek-ai`" in " ".join(findings["vl-kit 1.0"].evidence)


def test_a_name_pattern_alone_is_a_weak_warning(policy: Policy) -> None:
    (finding,) = evaluate([package("deepseek-helper")], policy)
    assert (finding.rule_id, finding.severity, finding.confidence) == (
        "package-name-pattern",
        "warning",
        "weak",
    )


def test_known_false_positives_are_never_reported(policy: Policy) -> None:
    assert evaluate([package("minimax", "0.0.2"), package("openai"), package("litellm")], policy) == []
    (finding,) = evaluate([package("minimax-mcp", "0.0.19")], policy)
    assert finding.provider == "minimax"


def test_fingerprint_is_stable_across_versions_and_scans_but_not_environments(policy: Policy) -> None:
    old = evaluate([package("langchain-deepseek", "1.0")], policy)[0]
    new = evaluate([package("langchain-deepseek", "1.1.1")], policy)[0]
    elsewhere = evaluate([package("langchain-deepseek", "1.0", env="/srv/other")], policy)[0]
    assert old.fingerprint == new.fingerprint != elsewhere.fingerprint
    assert old.id != new.id


def test_allowlist_mode_reports_ai_packages_that_are_not_approved(tmp_path: Path, policy: Policy) -> None:
    (tmp_path / "test.yaml").write_text(POLICY)
    (tmp_path / "allow.yaml").write_text(
        textwrap.dedent(
            """\
            schema_version: 1
            id: lab
            version: "1"
            title: Lab allow-list
            mode: allowlist
            include: [test.yaml]
            allow: {providers: [openai], packages: [transformers], severity: warning}
            """
        )
    )
    allow = load_policy([str(tmp_path / "allow.yaml")])
    findings = {
        f.subject: f
        for f in evaluate(
            [
                package("openai"),
                package("litellm"),
                package("transformers"),
                package("requests"),
                package("langchain-deepseek"),
            ],
            allow,
        )
    }
    assert set(findings) == {"litellm 1.0", "langchain-deepseek 1.0"}
    assert (findings["litellm 1.0"].rule_id, findings["litellm 1.0"].severity) == (
        "package-not-allowed",
        "warning",
    )
    assert findings["langchain-deepseek 1.0"].rule_id == "package-listed"  # the ban outranks the allow-list


def test_findings_are_sorted_most_severe_first(policy: Policy) -> None:
    findings = evaluate([package("deepseek-helper"), package("minimax-mcp"), package("langchain-deepseek")], policy)
    assert [(f.severity, f.provider) for f in findings] == [
        ("violation", "deepseek"),
        ("violation", "minimax"),
        ("warning", "deepseek"),
    ]


def test_allowlist_never_rates_an_unapproved_provider_milder_than_unapproved_software(tmp_path: Path) -> None:
    (tmp_path / "test.yaml").write_text(POLICY)
    (tmp_path / "allow.yaml").write_text(
        "schema_version: 1\nid: lab\nversion: '1'\ntitle: Lab\nmode: allowlist\ninclude: [test.yaml]\n"
        "allow: {providers: [openai], severity: violation}\n"
    )
    allow = load_policy([str(tmp_path / "allow.yaml")])
    (finding,) = evaluate([package("zhipuai")], allow)
    assert (finding.rule_id, finding.severity) == ("package-listed", "violation")
    assert finding.evidence[-1].endswith("and neither Zhipu AI nor `zhipuai` is approved.")
    (plain,) = evaluate([package("zhipuai")], load_policy([str(tmp_path / "test.yaml")]))
    assert plain.severity == "warning"


ALLOW_WITH_CATALOGUE = """\
schema_version: 1
id: lab
version: "1"
title: Lab
mode: allowlist
include: [test.yaml]
sources:
  wheel: {title: mistralai wheel, date: "2026-11", urls: ["https://pypi.org/project/mistralai/"], confidence: verified, kind: package-registry}
providers:
  - id: mistral
    name: Mistral AI
    web_hosts:
      - {host: mistral.ai, source: wheel}
allow: {providers: [openai], severity: violation}
"""


def test_allowlist_findings_keep_the_evidence_and_confidence_of_what_matched(tmp_path: Path) -> None:
    (tmp_path / "test.yaml").write_text(POLICY)
    (tmp_path / "lab.yaml").write_text(ALLOW_WITH_CATALOGUE)
    lab = load_policy([str(tmp_path / "lab.yaml")])
    (finding,) = evaluate([package("mistral-helper", author_email_domains=("mistral.ai",))], lab)
    assert (finding.rule_id, finding.confidence, finding.provider) == ("package-not-allowed", "strong", "mistral")
    assert [m.matcher for m in finding.matches] == ["package-publisher", "allowlist"]
    assert "author e-mail domain `mistral.ai` is a Mistral AI domain" in " ".join(finding.evidence)


def test_a_weak_name_hint_stays_a_warning_even_in_allowlist_mode(tmp_path: Path) -> None:
    (tmp_path / "test.yaml").write_text(POLICY)
    (tmp_path / "lab.yaml").write_text(ALLOW_WITH_CATALOGUE)
    (finding,) = evaluate([package("deepseek-helper")], load_policy([str(tmp_path / "lab.yaml")]))
    assert (finding.rule_id, finding.severity, finding.confidence) == ("package-name-pattern", "warning", "weak")


def test_approving_more_in_a_second_file_does_not_raise_the_allowlist_severity(tmp_path: Path) -> None:
    (tmp_path / "test.yaml").write_text(POLICY)
    (tmp_path / "a.yaml").write_text(
        "schema_version: 1\nid: a\nversion: '1'\ntitle: A\nmode: allowlist\ninclude: [test.yaml]\n"
        "allow: {severity: warning}\n"
    )
    (tmp_path / "b.yaml").write_text(
        "schema_version: 1\nid: b\nversion: '1'\ntitle: B\ninclude: [a.yaml]\nallow: {packages: [torch]}\n"
    )
    policy = load_policy([str(tmp_path / "b.yaml")])
    assert policy.allow_severity == "warning"
    (finding,) = evaluate([package("litellm")], policy)
    assert (finding.rule_id, finding.severity, finding.provider) == ("package-not-allowed", "warning", None)


def test_a_pypi_entry_covers_the_conda_package_of_its_name_and_a_conda_entry_only_conda(policy: Policy) -> None:
    found = {
        (record.ecosystem.value, record.name): [f.rule_id.value for f in evaluate([record], policy)]
        for record in (
            package("langchain-deepseek", ecosystem=Ecosystem.CONDA),
            package("zhipu-cli", ecosystem=Ecosystem.CONDA),
            package("zhipu-cli", ecosystem=Ecosystem.PYPI),
        )
    }
    assert found == {
        ("conda", "langchain-deepseek"): ["package-listed"],
        ("conda", "zhipu-cli"): ["package-listed"],
        ("pypi", "zhipu-cli"): [],
    }


def test_an_unknown_ecosystem_in_a_policy_is_refused_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(POLICY.replace("{name: zhipu-cli, ecosystem: conda,", "{name: zhipu-cli, ecosystem: hackage,"))
    with pytest.raises(PolicyError) as caught:
        load_policy([str(path)])
    assert str(caught.value) == (
        f"{path}:40: providers[2].packages[1].ecosystem: expected one of pypi, conda, npm, maven, go, cargo, app, vscode, chrome, firefox; got 'hackage'"
    )
