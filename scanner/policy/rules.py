"""The rule ids findings carry. An id is stable and never reused; ``policies/README.md`` documents each."""

from __future__ import annotations

from dataclasses import dataclass

from scanner.findings import Confidence


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    confidence: Confidence
    """The confidence findings of this rule carry."""


PACKAGE_LISTED = Rule("package-listed", "Package listed under a provider", "confirmed")
PACKAGE_PUBLISHER = Rule("package-publisher", "Package published by a provider", "strong")
PACKAGE_NAME_PATTERN = Rule("package-name-pattern", "Package name suggests a provider", "weak")
PACKAGE_NOT_ALLOWED = Rule("package-not-allowed", "AI package not on the allow-list", "confirmed")

RULES: dict[str, Rule] = {
    rule.id: rule for rule in (PACKAGE_LISTED, PACKAGE_PUBLISHER, PACKAGE_NAME_PATTERN, PACKAGE_NOT_ALLOWED)
}
