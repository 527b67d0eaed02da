"""Policy files: strict validation with file, line and field; includes and composition."""

from __future__ import annotations

import os
import textwrap
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from scanner.errors import PolicyError
from scanner.policy.dates import FORMS, read_date
from scanner.policy.loader import load_policy
from scanner.policy.typed_yaml import compose, convert

VALID = """\
schema_version: 1
id: site
version: "1"
title: Site policy
sources:
  cable:
    title: State Department cable
    date: 2026-04-24
    urls: ["https://example.org/cable"]
    confidence: secondary
    kind: diplomatic-warning
providers:
  - id: deepseek
    name: DeepSeek
    severity: violation
    reason: Banned.
    sources: [cable]
    packages:
      - {name: langchain-deepseek, source: cable}
    model_patterns:
      - {pattern: "deepseek[-_.]", source: cable}
"""


def write(tmp_path: Path, text: str, name: str = "policy.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def error_of(path: Path) -> PolicyError:
    with pytest.raises(PolicyError) as caught:
        load_policy([str(path)])
    return caught.value


def test_a_valid_policy_loads_with_its_facts_and_where_they_were_written(tmp_path: Path) -> None:
    path = write(tmp_path, VALID)
    policy = load_policy([str(path)])
    provider = policy.providers["deepseek"]
    assert provider.packages[0].name == "langchain-deepseek"
    assert str(provider.packages[0].where) == f"{path}:19"
    assert policy.sources["cable"].date == "2026-04-24"  # an unquoted date stays text
    assert policy.fact_confidence(provider.packages[0]) == "secondary"
    assert policy.files[0].id == "site" and len(policy.files[0].sha256) == 64


@pytest.mark.parametrize(
    ("old", "new", "line", "message"),
    [
        (
            "    severity: violation",
            "    severity: high",
            15,
            "providers[0].severity: expected one of violation, warning, info; got 'high'",
        ),
        (
            "    name: DeepSeek",
            "    name: DeepSeek\n    colour: red",
            15,
            "providers[0].colour: unknown key (did you mean 'country'?)",
        ),
        (
            '{pattern: "deepseek[-_.]"',
            '{pattern: "deepseek[-_."',
            21,
            "providers[0].model_patterns[0].pattern: invalid regular expression 'deepseek[-_.': ",
        ),
        ('version: "1"', "version: 1.0", 3, "version: expected text, got a number (quote it)"),
        ("    sources: [cable]", "    sources: cable", 17, "providers[0].sources: expected a list, got text"),
        (
            "  - id: deepseek",
            "  - id: DeepSeek AI",
            13,
            "providers[0].id: 'DeepSeek AI' does not match the required form",
        ),
        ("    reason: Banned.\n", "", 13, "providers[0].reason: a provider with a severity needs a reason"),
        (
            "source: cable}\n    model",
            "source: nowhere}\n    model",
            19,
            "providers[0].packages[0].source: unknown source 'nowhere' (define it under sources:)",
        ),
        ("schema_version: 1", "schema_version: 2", 1, "schema_version: unsupported schema_version 2"),
        (
            "    kind: diplomatic-warning",
            "    kind: diplomatic-warning\n    kind: ban",
            12,
            "sources.cable.kind: duplicate key",
        ),
        ("    confidence: secondary\n", "", 7, "sources.cable.confidence: required key is missing"),
        ("title: Site policy", "title: [oops", 5, "YAML syntax error"),
        ("schema_version: 1", "schema_version: !!int abc", 1, "schema_version: unsupported schema_version abc"),
        ("schema_version: 1", "schema_version: 1" + "0" * 5000, 1, "unsupported schema_version 1000"),
        (
            '{pattern: "deepseek[-_.]"',
            '{pattern: "a{4294967296}"',
            21,
            "model_patterns[0].pattern: invalid regular expression",
        ),
        ('{pattern: "deepseek[-_.]"', '{pattern: ""', 21, "matches an empty name, so it would match anything"),
        ('{pattern: "deepseek[-_.]"', '{pattern: "x?"', 21, "matches an empty name, so it would match anything"),
        ("date: 2026-04-24", "date: 2026-13-45", 8, "sources.cable.date: '2026-13-45' is not a date"),
        ("date: 2026-04-24", 'date: "2026-99"', 8, "sources.cable.date: '2026-99' is not a date"),
        (
            "schema_version: 1",
            "schema_version: 2\nnew_feature: true",
            1,
            "schema_version: unsupported schema_version 2",
        ),
        ("providers:\n", "allow: {models: ['gpt-(']}\nproviders:\n", 12, "allow.models[0]: invalid regular expression"),
    ],
)
def test_each_mistake_is_reported_with_file_line_and_field(
    tmp_path: Path, old: str, new: str, line: int, message: str
) -> None:
    assert old in VALID
    path = write(tmp_path, VALID.replace(old, new, 1))
    error = error_of(path)
    assert str(error).startswith(f"{path}:{line}: ")
    assert message in str(error)


def _strptime_day(value: str, form: str) -> date | None:
    try:
        return datetime.strptime(value, form).date()
    except ValueError:
        return None


_NEAR_DATES = st.from_regex(r"\A[0-9\u0660-\u0669 +]{0,5}(-[0-9 \t]{0,3}){0,2}\n?\Z")
"""Strings shaped like dates: digits (other scripts' too), spaces and signs, up to three parts."""


@given(st.one_of(_NEAR_DATES, st.text(max_size=12)), st.sampled_from(sorted(FORMS)))
@example("2026-1-5", "%Y-%m-%d")  # one-digit month and day
@example("2026-01- 5", "%Y-%m-%d")  # a space-padded day
@example("2024-02-29", "%Y-%m-%d")
@example("2026-02-29", "%Y-%m-%d")  # no such day
@example("0000", "%Y")  # no year 0
@example("\u0662\u0660\u0662\u0666-\u0660\u0661", "%Y-%m")  # Arabic-Indic digits
@example("2026-01-01\n", "%Y-%m-%d")
def test_a_policy_date_is_read_exactly_as_strptime_reads_it(value: str, form: str) -> None:
    """The loader checks dates without ``strptime`` (start-up): the same strings pass, the same days result."""
    assert read_date(value, form) == _strptime_day(value, form)


def test_an_empty_file_is_an_error(tmp_path: Path) -> None:
    assert "the policy file is empty" in str(error_of(write(tmp_path, "")))


def test_a_missing_file_is_an_error_naming_it(tmp_path: Path) -> None:
    error = error_of(tmp_path / "nope.yaml")
    assert str(error).startswith(f"{tmp_path / 'nope.yaml'}: cannot read policy")


def test_alias_bombs_are_refused_before_they_expand(tmp_path: Path) -> None:
    fact = "&k {name: a, source: s}"
    provider = "&p {id: x, name: x, packages: [" + ", ".join([fact] + ["*k"] * 999) + "]}"
    path = write(
        tmp_path,
        "schema_version: 1\nid: bomb\nversion: '1'\ntitle: t\n"
        "providers: [" + ", ".join([provider] + ["*p"] * 999) + "]\n",
    )
    error = error_of(path)  # a million facts from 2,000 aliases
    assert str(error).startswith(f"{path}:5: providers[")
    assert str(error).endswith("document too large or uses recursive aliases")


def test_includes_compose_in_order_and_resolve_relative_to_the_including_file(tmp_path: Path) -> None:
    (tmp_path / "base").mkdir()
    write(tmp_path / "base", VALID, "base.yaml")
    write(
        tmp_path,
        """\
        schema_version: 1
        id: site
        version: "2"
        title: Site
        include: [base/base.yaml, "bundled:default"]
        providers:
          - {id: local-ai, name: Local AI, severity: warning, reason: Review it., sources: [cable]}
        """,
        "site.yaml",
    )
    (tmp_path / "base" / "base.yaml").write_text(
        VALID.replace("id: site", "id: base").replace("id: deepseek", "id: deepseek-x")
    )
    policy = load_policy([str(tmp_path / "site.yaml")])
    assert [f.id for f in policy.files] == ["base", "default", "site"]
    assert list(policy.providers)[:1] == ["deepseek-x"] and "local-ai" in policy.providers


def test_include_cycles_are_errors(tmp_path: Path) -> None:
    write(tmp_path, "schema_version: 1\nid: a\nversion: '1'\ntitle: a\ninclude: [b.yaml]\n", "a.yaml")
    write(tmp_path, "schema_version: 1\nid: b\nversion: '1'\ntitle: b\ninclude: [a.yaml]\n", "b.yaml")
    assert "include cycle: a.yaml -> b.yaml -> a.yaml" in str(error_of(tmp_path / "a.yaml"))


def test_a_provider_defined_twice_names_both_places(tmp_path: Path) -> None:
    write(tmp_path, VALID, "one.yaml")
    two = write(
        tmp_path,
        VALID.replace("id: site", "id: two")
        .replace("  cable:", "  cable2:")
        .replace("[cable]", "[cable2]")
        .replace("source: cable", "source: cable2"),
        "two.yaml",
    )
    with pytest.raises(PolicyError) as caught:
        load_policy([str(tmp_path / "one.yaml"), str(two)])
    assert (
        str(caught.value)
        == f"{two}:13: providers[0]: provider 'deepseek' is already defined at {tmp_path / 'one.yaml'}:13"
    )


def test_an_unknown_bundled_policy_lists_the_known_ones() -> None:
    with pytest.raises(PolicyError, match=r"no bundled policy named 'nope' \(bundled: .*default"):
        load_policy(["nope"])


def test_a_source_may_be_repeated_word_for_word_but_not_changed(tmp_path: Path) -> None:
    write(tmp_path, VALID, "one.yaml")
    same = VALID.replace("id: site", "id: two").replace("id: deepseek", "id: deepseek-2")
    write(tmp_path, same, "two.yaml")
    assert len(load_policy([str(tmp_path / "one.yaml"), str(tmp_path / "two.yaml")]).sources) == 1
    write(tmp_path, same.replace("State Department cable", "Another cable"), "three.yaml")
    with pytest.raises(PolicyError, match="source 'cable' is already defined differently at"):
        load_policy([str(tmp_path / "one.yaml"), str(tmp_path / "three.yaml")])


def test_deeply_nested_yaml_is_an_error_not_a_crash(tmp_path: Path) -> None:
    path = write(tmp_path, "include: " + "[" * 3000 + "]" * 3000 + "\n")
    message = str(error_of(path))  # in our words, or libyaml's with its line where PyYAML uses it
    assert message in (
        f"{path}: YAML nested too deeply",
        f"{path}:1: YAML syntax error: while increasing flow level exceeded maximum nesting depth",
    )


def test_include_errors_point_at_the_include_line(tmp_path: Path) -> None:
    write(tmp_path, "schema_version: 1\nid: a\nversion: '1'\ntitle: a\n\ninclude:\n  - b.yaml\n", "a.yaml")
    write(tmp_path, "schema_version: 1\nid: b\nversion: '1'\ntitle: b\ninclude: [a.yaml]\n", "b.yaml")
    assert str(error_of(tmp_path / "a.yaml")).startswith(f"{tmp_path / 'b.yaml'}:5: include[0]: include cycle")
    write(
        tmp_path, "schema_version: 1\nid: c\nversion: '1'\ntitle: c\ninclude:\n  - base.yaml\n  - gone.yaml\n", "c.yaml"
    )
    write(tmp_path, VALID.replace("id: site", "id: base"), "base.yaml")
    assert str(error_of(tmp_path / "c.yaml")).startswith(
        f"{tmp_path / 'c.yaml'}:7: include[1]: included policy {tmp_path / 'gone.yaml'} does not exist "
        "(a bundled one is named bundled:NAME: "
    )


def test_a_fifo_given_as_a_policy_is_refused_without_hanging(tmp_path: Path) -> None:
    fifo = tmp_path / "policy.yaml"
    os.mkfifo(fifo)
    assert str(error_of(fifo)) == f"{fifo}: cannot read policy: not a regular file (FIFO)"


@dataclass(frozen=True)
class _Counted:
    count: int


def test_integers_yaml_cannot_build_are_field_errors() -> None:
    for text in ("count: !!int abc", 'count: !!int ""', "count: 1" + "0" * 5000):
        node = compose(text, "x.yaml")
        assert node is not None
        with pytest.raises(PolicyError, match=r"^x.yaml:1: count: not a usable whole number"):
            convert(node, _Counted, "x.yaml")


@pytest.mark.parametrize(
    ("fingerprint", "message"),
    [
        (
            "{kind: gguf-pre, value: deepseek-r1-qwen, providers: [nobody], source: cable}",
            "fingerprints[0].providers[0]: unknown provider 'nobody'",
        ),
        (
            "{kind: config-shape, value: 'n_routed_experts 384', providers: [deepseek], source: cable}",
            "fingerprints[0].value: a config-shape is key=value pairs",
        ),
        (
            "{kind: gguf-pre, value: x, format: gguf, providers: [deepseek], source: cable}",
            "fingerprints[0].format: format applies to architecture fingerprints only",
        ),
        (
            "{kind: vibes, value: x, providers: [deepseek], source: cable}",
            "fingerprints[0].kind: expected one of gguf-pre",
        ),
    ],
)
def test_fingerprint_mistakes_are_reported(tmp_path: Path, fingerprint: str, message: str) -> None:
    path = write(tmp_path, VALID + f"fingerprints:\n  - {fingerprint}\n")
    error = str(error_of(path))
    assert error.startswith(f"{path}:23: ") and message in error


def test_fingerprint_strength_defaults_by_kind(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        VALID
        + "fingerprints:\n"
        + "  - {kind: architecture, value: deepseek2, format: gguf, providers: [deepseek], source: cable}\n"
        + "  - {kind: gguf-pre, value: deepseek-v3, providers: [deepseek], source: cable}\n"
        + "  - {kind: architecture, value: qwen2, providers: [deepseek], strength: strong, source: cable}\n",
    )
    assert [f.effective_strength for f in load_policy([str(path)]).fingerprints] == ["weak", "strong", "strong"]
