"""Short, seeded runs of the fuzzing harness (``tests/fuzz/harness.py``; long runs by hand, see the README's
Reliability section): mutated model headers, settings files, shell profiles, units, package metadata,
model cards and SQLite databases never make a reader raise, never escape the audit, never take seconds."""

from __future__ import annotations

from fuzz.harness import run


def test_mutated_model_headers_are_read_or_refused_never_crash() -> None:
    assert run("headers", 400, seed=20261205) == []


def test_mutated_settings_metadata_cards_and_databases_never_fail_an_audit() -> None:
    assert run("audit", 150, seed=20261205) == []


def test_mutated_reports_are_stored_or_refused_by_the_collector_never_crash_it() -> None:
    assert run("intake", 300, seed=20261205) == []
