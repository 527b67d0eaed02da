"""One vocabulary: every table keyed by a kind, store, source or severity covers all of them, and every
registry holds exactly the implementations that declare an id."""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Callable
from enum import Enum
from typing import Any, get_args

import pytest

import scanner
from scanner.collectors.interface import Collector
from scanner.collectors.registry import COLLECTORS
from scanner.ecosystems import ECOSYSTEMS, ENVIRONMENT_WORDS, Ecosystem, EnvironmentKind
from scanner.policy.engine import JUDGES
from scanner.policy.schema import Relation
from scanner.policy.wording import RELATION_WORDS
from scanner.reporters import fleet_html, fleet_markdown
from scanner.reporters.cyclonedx import RATINGS
from scanner.reporters.fleet_html import STATE_COLOURS
from scanner.reporters.fleet_summary import STATE_LABELS, Section
from scanner.reporters.html import SEVERITY_COLOURS
from scanner.reporters.interface import FleetFormat, FleetReporter, Format, Reporter
from scanner.reporters.next_steps import (
    ACTION_OF,
    ECOSYSTEM_COMMANDS,
    MODEL_STEPS,
    REMOVE_COMMANDS,
    REMOVE_NOTES,
    SETTING_STEPS,
    WAIVER_STEPS,
)
from scanner.reporters.registry import FLEET_REPORTERS, REPORTERS
from scanner.reporters.sarif import LEVELS
from scanner.reporters.summary import SEVERITY_TITLES, SKIP_MEANINGS
from scanner.vocabulary import (
    INVENTORY_KINDS,
    RULES,
    SOURCE_WORDS,
    STORE_WORDS,
    Confidence,
    EndpointSource,
    HostState,
    ModelStore,
    RecordKind,
    RuleId,
    Severity,
    SkipKind,
)

KEBAB = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def _all_modules() -> None:
    for info in pkgutil.walk_packages(scanner.__path__, "scanner."):
        if not info.name.startswith(("scanner.fleet.collector.server", "scanner.cli", "scanner.__main__")):
            importlib.import_module(info.name)


def test_severities_and_confidences_are_ordered_by_meaning_not_by_spelling() -> None:
    assert sorted(Severity) == [Severity.INFO, Severity.WARNING, Severity.VIOLATION]
    assert max(Confidence) is Confidence.CONFIRMED and min(Confidence) is Confidence.WEAK
    assert f"{Severity.VIOLATION}" == str(Severity.VIOLATION) == "violation"


def test_wording_tables_cover_every_kind_store_and_source() -> None:
    assert set(ENVIRONMENT_WORDS) == set(EnvironmentKind)
    assert set(STORE_WORDS) == set(ModelStore)
    assert set(SOURCE_WORDS) == set(EndpointSource)
    steps = {"named", "base model", "trained on", "loaded-from"}
    assert set(RELATION_WORDS) == set(get_args(Relation)) | steps


def test_severity_tables_of_every_format_cover_every_severity() -> None:
    for table in (LEVELS, RATINGS, SEVERITY_COLOURS, SEVERITY_TITLES):
        assert set(table) == set(Severity)


def test_the_pages_say_what_to_do_about_every_kind_of_place_and_what_every_coverage_entry_means() -> None:
    assert set(REMOVE_COMMANDS) == set(REMOVE_NOTES) == set(EnvironmentKind)
    assert set(ECOSYSTEM_COMMANDS) == set(Ecosystem)
    assert set(MODEL_STEPS) == set(ModelStore)
    assert set(SETTING_STEPS) == set(EndpointSource)
    assert set(ACTION_OF) == set(RecordKind)
    assert set(WAIVER_STEPS) == {rule for rule in RuleId if rule.startswith("waiver-")}
    assert set(SKIP_MEANINGS) == set(SkipKind)


def test_host_state_tables_of_the_fleet_pages_cover_every_state() -> None:
    for table in (STATE_LABELS, STATE_COLOURS):
        assert set(table) == set(HostState)


def test_both_forms_of_the_fleet_page_render_every_section() -> None:
    assert set(fleet_html.BODIES) == set(fleet_markdown.BODIES) == set(Section)


def test_every_rule_id_has_one_rule_with_a_title() -> None:
    assert set(RULES) == set(RuleId)
    assert all(KEBAB.fullmatch(rule.id) and rule.title for rule in RULES.values())


def test_every_record_kind_has_a_judge() -> None:
    assert set(JUDGES) == set(INVENTORY_KINDS)
    assert all(judge.kind is kind for kind, judge in JUDGES.items())


def test_every_collector_is_registered_once_under_its_own_id() -> None:
    _all_modules()
    defined = {cls for cls in _subclasses(Collector) if not getattr(cls, "__abstractmethods__", None)}
    assert set(COLLECTORS.values()) == defined
    assert all(KEBAB.fullmatch(key) and cls.id == key for key, cls in COLLECTORS.items())


@pytest.mark.parametrize(
    ("registry", "formats", "interface"),
    [(REPORTERS, Format, Reporter), (FLEET_REPORTERS, FleetFormat, FleetReporter)],
    ids=["reporters", "fleet-reporters"],
)
def test_every_format_has_exactly_one_reporter_registered_under_its_own_id(
    registry: dict[Any, Callable[[], type]], formats: type[Enum], interface: type
) -> None:
    _all_modules()
    defined = {cls for cls in _subclasses(interface) if not getattr(cls, "__abstractmethods__", None)}
    loaded = {key: load() for key, load in registry.items()}
    assert set(loaded) == set(formats), "every member has a reporter"
    assert set(loaded.values()) == defined, "every reporter is registered"
    assert len(defined) == len(formats), "no two reporters declare the same format"
    assert all(cls.id is key for key, cls in loaded.items())


def _subclasses(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub, *_subclasses(sub)}
    return found


def test_every_ecosystem_has_its_rules_and_writes_package_urls_by_the_purl_spec() -> None:
    assert set(ECOSYSTEMS) == set(Ecosystem)
    assert all(rules.id is eco and eco in rules.answers_to for eco, rules in ECOSYSTEMS.items())
    assert ECOSYSTEMS[Ecosystem.PYPI].purl("LangChain_DeepSeek", "1.1.1") == "pkg:pypi/langchain-deepseek@1.1.1"
    assert ECOSYSTEMS[Ecosystem.CONDA].purl("python_abi", "3.11") == "pkg:conda/python_abi@3.11"
    assert ECOSYSTEMS[Ecosystem.PYPI].purl("x", "1.0+local/1") == "pkg:pypi/x@1.0%2Blocal%2F1"
