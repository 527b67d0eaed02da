"""The policy engine: records in, findings out. It never touches the filesystem.

One judge per record kind (``packages``, ``models``, ``endpoints``), each beside its matchers; the
registry is built from the kinds the judges declare, and a test checks every record kind has one.
"""

from __future__ import annotations

from collections.abc import Iterable

from scanner.findings import Finding, finding_order
from scanner.policy.endpoints import EndpointJudge
from scanner.policy.judge import Judge
from scanner.policy.models import ModelJudge
from scanner.policy.packages import PackageJudge
from scanner.policy.schema import Policy
from scanner.records import Record
from scanner.vocabulary import RecordKind

JUDGES: dict[RecordKind, type[Judge[Record]]] = {
    judge.kind: judge  # type: ignore[misc]
    for judge in (PackageJudge, ModelJudge, EndpointJudge)
}


def evaluate(records: Iterable[Record], policy: Policy) -> list[Finding]:
    """Judge every record; findings come sorted most severe first."""
    judges: dict[RecordKind, Judge[Record]] = {}  # a judge compiles its patterns: only for kinds met (4 ms)
    findings = []
    for record in records:
        judge = judges.get(record.kind) or judges.setdefault(record.kind, JUDGES[record.kind](policy))
        findings.extend(judge.judge(record))
    return sorted(findings, key=finding_order)
