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

MODEL_DIGEST = Rule("model-digest", "Model file with a published digest", "confirmed")
MODEL_LINEAGE = Rule("model-lineage", "Model of a known lineage", "confirmed")
MODEL_PUBLISHER = Rule("model-publisher", "Model published by a provider", "confirmed")
MODEL_FINGERPRINT = Rule("model-fingerprint", "Model carries a provider's fingerprint", "strong")
MODEL_NAME_PATTERN = Rule("model-name-pattern", "Model name suggests a provider", "weak")
MODEL_NOT_ALLOWED = Rule("model-not-allowed", "Model not on the allow-list", "confirmed")

ENDPOINT_HOST = Rule("endpoint-host", "AI endpoint on a provider's host", "confirmed")
ENDPOINT_PROVIDER = Rule("endpoint-provider", "AI tool set to a provider", "confirmed")
ENDPOINT_MODEL = Rule("endpoint-model", "AI client set to a provider's model", "strong")
ENDPOINT_VARIABLE = Rule("endpoint-variable", "A provider's variable is set", "strong")
ENDPOINT_CONTACTED = Rule("endpoint-contacted", "A provider's host was contacted", "confirmed")
ENDPOINT_CONNECTION = Rule("endpoint-connection", "A live connection to an address of a provider's host", "strong")
ENDPOINT_NOT_ALLOWED = Rule("endpoint-not-allowed", "AI endpoint of a provider not on the allow-list", "confirmed")

WAIVER_EXPIRED = Rule("waiver-expired", "A waiver has expired and no longer waives", "confirmed")
WAIVER_STALE = Rule("waiver-stale", "A waiver matches nothing", "confirmed")

RULES: dict[str, Rule] = {
    rule.id: rule
    for rule in (
        PACKAGE_LISTED,
        PACKAGE_PUBLISHER,
        PACKAGE_NAME_PATTERN,
        PACKAGE_NOT_ALLOWED,
        MODEL_DIGEST,
        MODEL_LINEAGE,
        MODEL_PUBLISHER,
        MODEL_FINGERPRINT,
        MODEL_NAME_PATTERN,
        MODEL_NOT_ALLOWED,
        ENDPOINT_HOST,
        ENDPOINT_PROVIDER,
        ENDPOINT_MODEL,
        ENDPOINT_VARIABLE,
        ENDPOINT_CONTACTED,
        ENDPOINT_CONNECTION,
        ENDPOINT_NOT_ALLOWED,
        WAIVER_EXPIRED,
        WAIVER_STALE,
    )
}
