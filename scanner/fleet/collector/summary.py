"""The fleet summary document officials sign: how many hosts, how many compliant, what was found where.

Computed from each host's latest report, as a plain document (``scanner.report.FleetSummary``) that
``scanner fleet summary`` writes as JSON or hands to the fleet reporters for its HTML and Markdown pages. A host whose latest report is older than the stale limit
(or that never reported) is *stale*, never compliant: a silent host is not a compliant host.
Violations are counted from unwaived findings; waivers that expire soon are listed so that they
are renewed or their use ended on time. The policies the hosts were judged against are named with
their digests (hosts judged against different policies are not comparable), and hosts without tags
are listed, since the tag tables cannot count them. Hosts whose latest report was dated after it
arrived (their clock runs ahead of the collector's) are listed with by how much. When the collector
publishes a signed policy bundle, the hosts whose latest report was judged by other files than the
bundle's (an agent that could not fetch it, or that is not set up to) are listed as judged by an
outdated policy. The fleet database's size is given, so that its growth is watched where the fleet is.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from typing import Any

from scanner.fleet.collector.parts import FINDINGS
from scanner.fleet.collector.storage import FleetStorage, HostInfo
from scanner.policy.bundle import Bundle, bundle_files
from scanner.report import FleetSummary, utc_now
from scanner.vocabulary import HostState

STALE_AFTER_DAYS = 3
TREND_DAYS = 56
EXPIRING_WITHIN_DAYS = 30
WORST_SHOWN = 10
CLOCK_NOTED_SECONDS = 60
"""A latest report dated more than this after it arrived names its host's clock in the summary."""


def _parse(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))


def host_state(host: HostInfo, now: datetime, stale_after: timedelta) -> HostState:
    """``stale``, ``not-compliant``, ``incomplete`` or ``compliant``, in that order of precedence."""
    if host.last_seen is None or now - _parse(host.last_seen) > stale_after:
        return HostState.STALE
    if not host.compliant:
        return HostState.NOT_COMPLIANT
    return HostState.COMPLIANT if host.complete else HostState.INCOMPLETE


def _worst(report: dict[str, Any], host: HostInfo) -> dict[str, Any]:
    open_violations = [f for f in report.get(FINDINGS, []) if f["severity"] == "violation" and not f["waived"]]
    return {
        "host": host.host,
        "tags": host.tags,
        "last_seen": host.last_seen,
        "violations": host.violations,
        "warnings": host.warnings,
        "findings": [
            {
                "provider": f["provider"],
                "kind": f["kind"],
                "subject": f["subject"],
                "location": f["location"],
                "rule_id": f["rule_id"],
                "evidence": f["evidence"][:2],
                "lineage": f["lineage"],
            }
            for f in open_violations[:5]
        ],
    }


def fleet_summary(
    storage: FleetStorage,
    stale_after_days: int = STALE_AFTER_DAYS,
    trend_days: int = TREND_DAYS,
    now: datetime | None = None,
    published: Bundle | None = None,
) -> FleetSummary:
    """``published``: the policy bundle the collector gives its agents, which every host should be judged by."""
    now = now or datetime.now(timezone.utc)
    current = bundle_files(published) if published is not None else ()
    current_digests = {f.sha256 for f in current}
    outdated: list[dict[str, Any]] = []
    stale_after = timedelta(days=stale_after_days)
    hosts = storage.hosts()
    states = {h.host: host_state(h, now, stale_after) for h in hosts}
    # The worst hosts are known from the host list: only their documents are kept while the latest
    # reports stream by, so a fleet of any size costs one document at a time.
    worst = sorted(
        (h for h in hosts if states[h.host] is HostState.NOT_COMPLIANT and h.last_report is not None),
        key=lambda h: (-h.violations, -h.warnings, h.host),
    )[:WORST_SHOWN]
    kept = {h.host: h for h in worst}
    worst_reports: dict[str, dict[str, Any]] = {}
    by_provider: Counter[str] = Counter()
    hosts_by_provider: dict[str, set[str]] = defaultdict(set)
    by_kind: Counter[str] = Counter()
    expiring: list[dict[str, Any]] = []
    policies: Counter[tuple[tuple[str, str, str], ...]] = Counter()
    horizon = (now + timedelta(days=EXPIRING_WITHIN_DAYS)).date().isoformat()
    for report in storage.latest_reports_for_summary(expiring_by=horizon):
        name = report["scan"]["host"]
        if name in kept:
            worst_reports[name] = _worst(report, kept[name])
        judged_by = tuple((p["id"], p["version"], p["sha256"]) for p in report["scan"]["policy"])
        policies[judged_by] += 1
        if published is not None and {d for _, _, d in judged_by} != current_digests:
            files = [{"id": i, "version": v, "sha256": d} for i, v, d in judged_by]
            outdated.append({"host": name, "finished": report["scan"]["finished"], "files": files})
        for finding in report.get(FINDINGS, []):  # only those worth reading (``latest_reports_for_summary``)
            waiver = finding.get("waiver")
            if finding["waived"] and waiver and waiver["expires"] <= horizon:
                expiring.append({"host": name, "subject": finding["subject"], **waiver})
            if finding["severity"] != "violation" or finding["waived"]:
                continue
            by_provider[finding["provider"] or "(none)"] += 1
            hosts_by_provider[finding["provider"] or "(none)"].add(name)
            by_kind[finding["kind"]] += 1
    by_tag: dict[str, dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
    for host in hosts:
        for key, value in host.tags.items():
            by_tag[key][value]["hosts"] += 1
            by_tag[key][value][states[host.host]] += 1
    counted = Counter(states.values())
    since = (now - timedelta(days=trend_days)).date().isoformat()
    return {
        "generated": utc_now(),
        "stale_after_days": stale_after_days,
        "hosts": {
            "total": len(hosts),
            "compliant": counted[HostState.COMPLIANT],
            "not_compliant": counted[HostState.NOT_COMPLIANT],
            "incomplete": counted[HostState.INCOMPLETE],
            "stale": counted[HostState.STALE],
        },
        "policies": [
            {"files": [{"id": i, "version": v, "sha256": d} for i, v, d in files], "hosts": n}
            for files, n in policies.most_common()
        ],
        "published_policy": None
        if published is None
        else {
            "created": published.created,
            "files": [{"id": f.id, "version": f.version, "sha256": f.sha256} for f in current],
        },
        "outdated_policy_hosts": sorted(outdated, key=lambda h: h["host"]),
        "violations_by_provider": dict(by_provider.most_common()),
        "hosts_by_provider": {p: len(h) for p, h in sorted(hosts_by_provider.items(), key=lambda kv: -len(kv[1]))},
        "violations_by_kind": dict(by_kind.most_common()),
        "by_tag": {
            key: {value: dict(c) for value, c in sorted(values.items())} for key, values in sorted(by_tag.items())
        },
        "untagged_hosts": [h.host for h in hosts if not h.tags],
        "worst_hosts": [worst_reports[h.host] for h in worst if h.host in worst_reports],
        "stale_hosts": [
            {"host": h.host, "last_seen": h.last_seen, "tags": h.tags}
            for h in hosts
            if states[h.host] is HostState.STALE
        ],
        "waivers_expiring": sorted(expiring, key=lambda w: (w["expires"], w["host"])),
        "lost_reports": sum(h.lost_reports for h in hosts),
        "database_bytes": storage.size_bytes(),
        "clock_ahead": [
            {"host": h.host, "seconds": h.clock_ahead}
            for h in sorted(hosts, key=lambda h: (-h.clock_ahead, h.host))
            if h.clock_ahead > CLOCK_NOTED_SECONDS
        ],
        "trend": [{"day": day, "hosts": total, "compliant": ok} for day, total, ok in storage.compliance_by_day(since)],
    }
