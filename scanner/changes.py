"""What changed between two scans: findings new, resolved and unchanged, matched by fingerprint.

A fingerprint hashes the rule, provider, kind and the record's identity, not the time, version
or line number, so a config file that gained a comment line or a package that was upgraded is
the same finding; a finding that disappears and one that appears are the change an admin acts on.
"""

from __future__ import annotations

from typing import Any

from scanner.report import Report


def _brief(finding: dict[str, Any]) -> dict[str, Any]:
    return {
        "fingerprint": finding["fingerprint"],
        "rule_id": finding["rule_id"],
        "severity": finding["severity"],
        "provider": finding["provider"],
        "kind": finding["kind"],
        "subject": finding["subject"],
        "location": finding["location"],
        "waived": finding["waived"],
    }


def _by_fingerprint(report: Report) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for finding in report["findings"]:
        found.setdefault(finding["fingerprint"], finding)
    return found


def compare(old: Report, new: Report) -> dict[str, Any]:
    """The ``changes`` section of ``new``'s report: what is new, what was resolved, how much is unchanged."""
    before, after = _by_fingerprint(old), _by_fingerprint(new)
    return {
        "previous_scan": {"id": old["scan"]["id"], "finished": old["scan"]["finished"]},
        "new": [_brief(f) for fp, f in after.items() if fp not in before],
        "resolved": [_brief(f) for fp, f in before.items() if fp not in after],
        "unchanged": [_brief(f) for fp, f in after.items() if fp in before],
    }
