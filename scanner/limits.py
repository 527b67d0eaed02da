"""What a report may hold, whatever the machine holds: no secret, no endless string, no endless size.

Every string of the report document passes here once, before it is stored, rendered or sent. A value
that looks like a credential (``collectors.secrets.mask_secrets``) is masked wherever it sits — a URL's
path, a host label, a model name, a variable's name — not only where keys are expected. A string longer
than ``STRING_CAP`` is cut in the middle, saying how much (``…[+999,000 chars]…``): a planted GGUF's
1 MiB ``general.name`` is copied into a dozen places. A finding keeps at most ``EVIDENCE_CAP``
sentences, lineage links and match details, saying how many more there were.

And the whole report stays under ``REPORT_BUDGET``, so that the fleet's collector never refuses it (a
host that cannot deliver one report never delivers another while the files stay): past it the
inventory records no finding refers to are left out first, then chosen skips, then findings from the
least severe, each with the record it judges, then unreadable paths; a coverage entry says how many of
each, and the summary still counts them all.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from typing import Any

from scanner.collectors.secrets import mask_secrets
from scanner.vocabulary import SkipKind

STRING_CAP = 4096
"""Characters of one string (a path is at most 4,096 bytes on Linux); the rest is counted, not kept."""
EVIDENCE_CAP = 20
"""Evidence sentences, lineage links and match details per finding: a real finding has a handful."""
REPORT_BUDGET = 12 << 20
"""Bytes of the JSON report: under the collector's 16 MiB body limit (``fleet.collector.intake.MAX_BODY``),
which a report file given to ``scanner ingest`` must meet uncompressed, and its 2,000,000 values, with room
for the agent's additions (tags, changes). A test keeps it below the collector's limits."""
_HEAD = STRING_CAP * 3 // 4


def shown(text: str) -> str:
    """One string as a report may hold it: credentials masked, cut to ``STRING_CAP`` characters."""
    text = mask_secrets(text)
    if len(text) <= STRING_CAP:
        return text
    tail = STRING_CAP - _HEAD
    return f"{text[:_HEAD]}…[+{len(text) - STRING_CAP:,} chars]…{text[-tail:]}"


def shown_all(value: Any) -> Any:
    """Every string in a JSON-like value (keys too) passed through ``shown``: a report repeats its keys,
    kinds, sources and evidence sentences thousands of times (200,000 strings, 12,000 distinct, here)."""
    return _each_string(value, shown)


def masked_all(value: Any) -> Any:
    """Every string in a JSON-like value with credentials masked, nothing cut: the store keeps no file facts
    this would change (the next scan must judge a file as a fresh parse would)."""
    return _each_string(value, mask_secrets)


_PLAIN = frozenset({int, float, bool, type(None)})


def _each_string(value: Any, change: Callable[[str], str]) -> Any:
    """A copy of ``value`` with ``change`` applied to each distinct string once. The strings and numbers of a
    folder or list are handled in its comprehension, without a call each: a report is mostly such leaves."""
    done: dict[str, str] = {}

    def text(string: str) -> str:
        changed = done[string] = change(string)
        return changed

    def key(k: Any) -> Any:  # a subclass of str (an enumeration's member) or another hashable: kept as it is
        return (done[k] if k in done else text(k)) if isinstance(k, str) else k

    def each(v: Any) -> Any:
        kind = v.__class__
        if kind is dict:
            return {
                (done[k] if k in done else text(k)) if k.__class__ is str else key(k): (
                    (done[x] if x in done else text(x))
                    if x.__class__ is str
                    else x
                    if x.__class__ in _PLAIN
                    else each(x)
                )
                for k, x in v.items()
            }
        if kind is list or kind is tuple:
            return [
                (done[x] if x in done else text(x)) if x.__class__ is str else x if x.__class__ in _PLAIN else each(x)
                for x in v
            ]
        if isinstance(v, str):  # a subclass (an enumeration's member)
            return done[v] if v in done else text(v)
        if isinstance(v, dict):
            return {key(k): each(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [each(x) for x in v]
        return v

    return each(value)


def bounded(report: dict[str, Any], texts: dict[int, str] | None = None) -> dict[str, Any]:
    """The report with ``shown`` strings, capped findings, and a size under ``REPORT_BUDGET``; ``texts``
    receives the ``compact`` JSON of each record and finding kept, by the identity of each, for the store
    (valid while nothing in the report changes)."""
    report = shown_all(report)
    for finding in report["findings"]:
        _cap_finding(finding)
    return _within_budget(report, {} if texts is None else texts)


def _cap_finding(finding: dict[str, Any]) -> None:
    for key, what in (("evidence", "sentences"), ("lineage", "links"), ("matches", "match details")):
        items = finding[key]
        if len(items) > EVIDENCE_CAP:
            finding[key] = items[: EVIDENCE_CAP - 1] if key != "matches" else items[:EVIDENCE_CAP]
            more = f"… and {len(items) - len(finding[key])} more {what}, left out of the report"
            if key == "matches":
                finding["evidence"].append(more)
            else:
                finding[key].append(more)


def compact(value: Any) -> str:
    """A value as compact ASCII JSON: the longest way to write it (every character beyond ASCII escaped), the
    form the report's size is measured in and the store keeps (SQLite takes only valid UTF-8: a lone
    surrogate that hostile input put in a name survives the round trip as an escape)."""
    return json.dumps(value, separators=(",", ":"), check_circular=False)


def _size(value: Any) -> int:
    """Bytes of a value in the JSON report, at most."""
    return len(compact(value))


def _measured(report: dict[str, Any], texts: dict[int, str]) -> int:
    """``_size(report)``, from the ``compact`` texts of its records and findings, kept in ``texts`` by the
    identity of each (the store writes each in that form: encoding them twice was 30 ms of a re-scan)."""
    total = 2 + max(len(report) - 1, 0)  # the braces and the commas between its keys
    for key, value in report.items():
        total += len(compact(key)) + 1
        if key in ("inventory", "findings") and isinstance(value, list):
            made = [compact(item) for item in value]
            texts.update(zip(map(id, value), made, strict=True))
            total += 2 + max(len(made) - 1, 0) + sum(map(len, made))
        else:
            total += _size(value)
    return total


def _taken(texts: dict[int, str], item: Any) -> str:
    """``compact(item)``, as measured (and no longer kept: the item is left out of the report)."""
    text = texts.pop(id(item), None)
    return compact(item) if text is None else text


def _within_budget(report: dict[str, Any], texts: dict[int, str]) -> dict[str, Any]:
    total = _measured(report, texts)
    if total <= REPORT_BUDGET:
        return report
    findings, inventory = report["findings"], report["inventory"]
    skipped = report["scan"]["coverage"]["skipped"]
    references = Counter(f["record_id"] for f in findings)
    records = {i["id"]: i for i in inventory}
    by_severity = {s: [f for f in findings if f["severity"] == s] for s in ("info", "warning", "violation")}
    # Least needed first; the last group left out is the violations themselves.
    order = [
        ("inventory records", [i for i in inventory if i["id"] not in references]),
        ("chosen skips", [s for s in skipped if SkipKind(s["kind"]).chosen]),
        ("information findings", by_severity["info"]),
        ("warning findings", by_severity["warning"]),
        ("unreadable paths", [s for s in skipped if not SkipKind(s["kind"]).chosen]),
        ("violation findings", by_severity["violation"]),
    ]
    left_out: Counter[str] = Counter()
    removed: set[int] = set()
    room = REPORT_BUDGET - STRING_CAP  # for the note that says what was left out
    for what, items in order:
        while items and total > room:
            item = items.pop()
            removed.add(id(item))
            total -= len(_taken(texts, item)) + 1
            left_out[what] += 1
            if what.endswith("findings"):
                references[item["record_id"]] -= 1
                record = records.get(item["record_id"])
                if record is not None and references[item["record_id"]] == 0:
                    removed.add(id(record))
                    total -= len(_taken(texts, record)) + 1
                    left_out["inventory records"] += 1
    report["inventory"] = [i for i in inventory if id(i) not in removed]
    report["findings"] = [f for f in findings if id(f) not in removed]
    counts = ", ".join(f"{n:,} {what}" for what, n in left_out.items())
    note = {
        "path": "(report)",
        "reason": f"the report was kept under {REPORT_BUDGET >> 20} MiB: left out {counts}; the summary counts them all",
        "kind": SkipKind.PARTIAL,
    }
    report["scan"]["coverage"]["skipped"] = [*(s for s in skipped if id(s) not in removed), note]
    return report
