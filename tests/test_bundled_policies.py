"""The bundled policies: they load, cite only verified or secondary sources, and do not cry wolf."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from scanner.policy.loader import bundled_names, load_policy
from scanner.policy.schema import Policy

HARMLESS = [
    "minimax", "openai", "anthropic", "transformers", "litellm", "langchain-community", "langchain-openai",
    "kimimaro", "glm", "yi", "sparkai", "torch", "numpy", "huggingface-hub", "ollama", "vllm", "requests",
    "aiverify-moonshot", "stepfunctions",
]  # fmt: skip


@pytest.fixture(scope="module", params=bundled_names())
def bundled(request: pytest.FixtureRequest) -> Policy:
    return load_policy([request.param])


def test_the_bundled_set_is_what_the_docs_promise() -> None:
    assert set(bundled_names()) == {"default", "extended", "catalog", "allowlist-example"}


def test_default_bans_the_three_cable_providers_and_nothing_else() -> None:
    policy = load_policy([])
    assert {p: v.severity for p, v in policy.providers.items()} == {
        "deepseek": "violation",
        "moonshot": "violation",
        "minimax": "violation",
    }
    for provider in policy.providers.values():
        assert provider.reason and provider.sources
        assert provider.packages and provider.endpoints and provider.web_hosts and provider.hf_orgs
    assert "minimax" in {f.name for f in policy.providers["minimax"].package_false_positives}
    assert policy.lineages, "known distilled lineages are part of the default policy"


def test_extended_adds_the_other_prc_providers_for_review() -> None:
    policy = load_policy(["extended"])
    extra = {p: v.severity for p, v in policy.providers.items() if p not in {"deepseek", "moonshot", "minimax"}}
    assert set(extra) == {
        "zhipu", "alibaba", "baidu", "bytedance", "tencent", "iflytek", "zeroone", "baichuan", "stepfun", "sensetime",
    }  # fmt: skip
    assert set(extra.values()) == {"warning"}


def test_every_source_is_verified_or_secondary_and_has_a_web_address(bundled: Policy) -> None:
    for source_id, source in bundled.sources.items():
        assert source.confidence in {"verified", "secondary"}, source_id
        assert all(re.match(r"https?://", url) for url in source.urls), source_id


def test_no_fact_is_marked_unverified(bundled: Policy) -> None:
    for provider in bundled.providers.values():
        for name in ("packages", "endpoints", "web_hosts", "hf_orgs", "model_patterns"):
            for fact in getattr(provider, name):
                assert bundled.fact_confidence(fact) != "unverified", (provider.id, fact)
    for fingerprint in bundled.fingerprints:
        assert bundled.fact_confidence(fingerprint) != "unverified", fingerprint
    for lineage in bundled.lineages:
        assert bundled.fact_confidence(lineage) != "unverified", lineage.id


def test_package_name_heuristics_do_not_match_known_harmless_names(bundled: Policy) -> None:
    for provider in bundled.providers.values():
        for fact in provider.package_name_patterns:
            for name in HARMLESS:
                assert not re.search(fact.pattern, name, re.IGNORECASE), (provider.id, fact.pattern, name)


def test_bundled_files_are_valid_yaml_on_their_own(tmp_path: Path) -> None:
    folder = Path(__file__).resolve().parents[1] / "policies"
    for path in folder.glob("*.yaml"):
        assert load_policy([str(path)]).files[-1].path == str(path)
