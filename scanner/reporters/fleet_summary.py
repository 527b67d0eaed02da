"""What the fleet summary page for officials says, shared by its HTML and Markdown forms.

Both render the document the collector builds (``scanner.report.FleetSummary``) in the same order:
the fleet's verdict (compliant only when every host is compliant and none is silent), the open
violations by provider and kind, the hosts by tag, the worst hosts with their evidence, the stale
hosts, the waivers that expire soon, the reports agents had to drop, and the compliance trend.
Host names, tags, subjects, paths and evidence were sent by the hosts themselves, so both forms
escape every one of them: a host named ``<script>`` prints as text.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Any

from scanner.report import FleetSummary, location_text
from scanner.reporters.summary import RECORD_KINDS, relation_text
from scanner.vocabulary import HostState

STATES: tuple[HostState, ...] = tuple(HostState)
"""In the order the tag tables count them: compliant first, stale last."""
STATE_LABELS: dict[HostState, str] = {
    HostState.COMPLIANT: "Compliant",
    HostState.NOT_COMPLIANT: "Not compliant",
    HostState.INCOMPLETE: "Incomplete",
    HostState.STALE: "Stale",
}
SILENT_HOST = "A silent host is not a compliant host."
STALE_NOTE = f"{SILENT_HOST} These hosts count against the fleet until they report again."
COUNTED = "Counted from each host's latest report; waived findings are not counted."
NO_VIOLATION = "No open violation on any host."
NO_WORST = "No host has an open violation."
NO_TAGS = "No host reported tags (agents set them in their configuration, e.g. department)."
NO_WAIVER_EXPIRING = "No waiver expires within the next 30 days."
RENEW_WAIVERS = "Renew these waivers, or end the use they cover, before they expire."

# ---------------------------------------------------------------------------------------------
# What the page says, as plain text: shared by both forms so that they cannot drift apart.


def fleet_verdict(summary: FleetSummary) -> str:
    """``COMPLIANT`` only when every host is compliant and none is stale; ``NOT COMPLIANT`` when a
    host has an open violation; otherwise ``NOT CONFIRMED`` (incomplete scans, silent hosts, no host)."""
    hosts = summary["hosts"]
    if hosts["total"] and hosts["compliant"] == hosts["total"]:
        return "COMPLIANT"
    return "NOT COMPLIANT" if hosts["not_compliant"] else "NOT CONFIRMED"


def headline(summary: FleetSummary) -> str:
    hosts = summary["hosts"]
    return f"{hosts['compliant']} of {hosts['total']} hosts compliant"


def breakdown(summary: FleetSummary) -> str:
    hosts = summary["hosts"]
    return f"{hosts['not_compliant']} not compliant, {hosts['incomplete']} incomplete, {hosts['stale']} stale"


def verdict_meaning(summary: FleetSummary) -> str:
    """What the verdict means for this fleet, in one or two plain sentences."""
    hosts, days = summary["hosts"], summary["stale_after_days"]
    if not hosts["total"]:
        return "No host is known to the collector yet, so nothing can be confirmed."
    others = f"{hosts['incomplete']} could not be scanned completely and {hosts['stale']} are stale"
    word = fleet_verdict(summary)
    if word == "COMPLIANT":
        return f"Every host's latest report is compliant and every host reported within the last {days} day(s)."
    if word == "NOT COMPLIANT":
        return f"{hosts['not_compliant']} host(s) have open violations of policy in their latest report; {others}."
    return f"No host has an open violation, but not every host can be vouched for: {others}."


def fleet_rule(summary: FleetSummary) -> str:
    """The rule the verdict follows, said on every page so that nobody reads silence as compliance."""
    return (
        f"The fleet is compliant only when every host is compliant and none is stale. {SILENT_HOST} "
        f"A host with no report in the last {summary['stale_after_days']} day(s) is stale, never compliant."
    )


def tiles(summary: FleetSummary) -> list[tuple[str, int, HostState | None]]:
    """(label, count, state) for the verdict's tally; the state picks a colour (none for the total)."""
    hosts = summary["hosts"]
    return [
        ("Hosts", hosts["total"], None),
        ("Compliant", hosts["compliant"], HostState.COMPLIANT),
        ("Not compliant", hosts["not_compliant"], HostState.NOT_COMPLIANT),
        ("Incomplete", hosts["incomplete"], HostState.INCOMPLETE),
        ("Stale", hosts["stale"], HostState.STALE),
    ]


class Section(Enum):
    """The page's sections after the verdict, in page order; each form has a renderer for every one."""

    VIOLATIONS = "violations"
    TAGS = "tags"
    WORST = "worst"
    STALE = "stale"
    WAIVERS = "waivers"
    LOST = "lost"
    TREND = "trend"
    POLICY = "policy"


def sections(summary: FleetSummary) -> list[tuple[str, Section]]:
    """The sections this summary has, with their titles; lost reports only when some were lost."""
    found = [
        ("Open violations by provider and kind", Section.VIOLATIONS),
        ("Hosts by tag", Section.TAGS),
        (f"Worst hosts ({len(summary['worst_hosts'])})", Section.WORST),
        (f"Stale hosts ({len(summary['stale_hosts'])})", Section.STALE),
        (f"Waivers expiring soon ({len(summary['waivers_expiring'])})", Section.WAIVERS),
    ]
    if summary["lost_reports"] > 0:
        found.append((f"Reports lost ({summary['lost_reports']})", Section.LOST))
    return [*found, ("Compliance trend", Section.TREND), ("Policy applied", Section.POLICY)]


def when(timestamp: str | None) -> str:
    if timestamp is None:
        return "never reported"
    return timestamp.replace("T", " ").replace("Z", " UTC")


def _moment(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))


def silent_for(timestamp: str | None, generated: str) -> str:
    """How long a stale host has been silent, as of when the summary was made."""
    if timestamp is None:
        return "since it was registered"
    days = (_moment(generated) - _moment(timestamp)).days
    return f"{days} day(s)" if days >= 1 else "less than a day"


def all_reported(summary: FleetSummary) -> str:
    """What the stale hosts' section says when there is none."""
    return f"Every host reported within the last {summary['stale_after_days']} day(s)."


STALE_COLUMNS = ("Host", "Tags", "Latest report", "Silent for")


def stale_rows(summary: FleetSummary) -> list[list[str]]:
    """The stale hosts' table, as plain text (``STALE_COLUMNS``)."""
    return [
        [h["host"], tags_text(h["tags"]), when(h["last_seen"]), silent_for(h["last_seen"], summary["generated"])]
        for h in summary["stale_hosts"]
    ]


WAIVER_COLUMNS = ("Host", "Finding", "Reference", "Approved by", "Expires")


def waiver_rows(summary: FleetSummary) -> list[list[str]]:
    """The waivers that expire soon, as plain text (``WAIVER_COLUMNS``)."""
    return [
        [w["host"], w["subject"], w["reference"], w["approved_by"], w["expires"]] for w in summary["waivers_expiring"]
    ]


UNTAGGED_SHOWN = 50


def untagged_text(summary: FleetSummary) -> str:
    """The hosts no tag table counts: they reported no tag (or never reported)."""
    untagged: list[str] = summary["untagged_hosts"]
    if not untagged:
        return "Every host is tagged."
    more = f" and {len(untagged) - UNTAGGED_SHOWN} more" if len(untagged) > UNTAGGED_SHOWN else ""
    return ", ".join(untagged[:UNTAGGED_SHOWN]) + more + "."


def untagged_title(summary: FleetSummary) -> str:
    return f"Untagged hosts ({len(summary['untagged_hosts'])})"


def policy_name(files: list[dict[str, str]], digest: int | None = None) -> str:
    """``default 2026.12.05 (sha256 …)``, each composed file in turn; ``digest``: how much of it to show."""
    return " + ".join(f"{f['id']} {f['version']} (sha256 {f['sha256'][:digest]})" for f in files)


def policy_headline(summary: FleetSummary) -> str:
    """The policy the hosts were judged against, said under the verdict (with a short digest)."""
    policies: list[dict[str, Any]] = summary["policies"]
    if not policies:
        return "No host has reported yet, so no policy has been applied."
    outdated = len(summary["outdated_policy_hosts"])
    stale = f" {outdated} host(s) were judged by an outdated policy (see Policy applied)." if outdated else ""
    if len(policies) == 1:
        return f"Judged against policy {policy_name(policies[0]['files'], 12)}.{stale}"
    return (
        f"Hosts were judged against {len(policies)} different policies (see Policy applied): their results are "
        f"not comparable until every host uses the same one.{stale}"
    )


OUTDATED_SHOWN = 50


def outdated_title(summary: FleetSummary) -> str:
    return f"Judged by an outdated policy ({len(summary['outdated_policy_hosts'])} host(s))"


def policy_lines(summary: FleetSummary) -> list[str]:
    """Each policy (its files with full digests) and how many hosts' latest reports were judged against it;
    with a published bundle, the bundle and the hosts whose latest report was not judged by it."""
    lines = [f"{policy_name(p['files'])}: {p['hosts']} host(s)." for p in summary["policies"]]
    published = summary["published_policy"]
    if published is None:
        return lines
    lines.append(f"Published policy bundle, signed {when(published['created'])}: {policy_name(published['files'])}.")
    hosts = [h["host"] for h in summary["outdated_policy_hosts"]]
    if not hosts:
        return [*lines, "Every host's latest report was judged by the published policy."]
    more = f" and {len(hosts) - OUTDATED_SHOWN} more" if len(hosts) > OUTDATED_SHOWN else ""
    return [*lines, f"{outdated_title(summary)}: {', '.join(hosts[:OUTDATED_SHOWN])}{more}."]


def tags_text(tags: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(tags.items())) or "-"


def kind_rows(summary: FleetSummary) -> list[tuple[str, int]]:
    """Violations per kind: the three record kinds always (zero endpoints is news too), then any other."""
    by_kind: dict[str, int] = summary["violations_by_kind"]
    extra = [(k, n) for k, n in by_kind.items() if k not in RECORD_KINDS]
    return [(k, by_kind.get(k, 0)) for k in RECORD_KINDS] + extra


def provider_rows(summary: FleetSummary) -> list[tuple[str, int, int]]:
    """(provider, open violations, hosts affected), most violations first."""
    affected: dict[str, int] = summary["hosts_by_provider"]
    return [(p, n, affected.get(p, 0)) for p, n in summary["violations_by_provider"].items()]


def tag_rows(values: dict[str, dict[str, int]]) -> list[tuple[str, int, list[int]]]:
    """(value, hosts, count per state in ``STATES`` order) for one tag key."""
    return [(value, c.get("hosts", 0), [c.get(s, 0) for s in STATES]) for value, c in values.items()]


def finding_sentence_parts(finding: dict[str, Any]) -> tuple[str, str, str, str, str]:
    """(kind, subject, location, relation, rule) of the plain sentence that names a worst host's finding."""
    return (
        finding["kind"].capitalize(),
        finding["subject"],
        location_text(finding["location"]),
        relation_text(finding),
        finding["rule_id"],
    )


def host_line(host: dict[str, Any]) -> str:
    return (
        f"{host['violations']} violation(s), {host['warnings']} warning(s); latest report {when(host['last_seen'])}; "
        f"tags: {tags_text(host['tags'])}"
    )


def more_text(host: dict[str, Any]) -> str | None:
    """The line under a worst host's findings when its report has more violations than the page shows."""
    hidden = host["violations"] - len(host["findings"])
    return f"and {hidden} more violation(s) in this host's report." if hidden > 0 else None


def lost_text(lost: int) -> str:
    return (
        f"{lost} report(s) never reached the collector: agents had to drop them from a full spool (as they told "
        "the collector on their next delivery). What those scans found is unknown; the hosts' later reports are "
        "counted above."
    )


def trend_points(summary: FleetSummary) -> list[tuple[date, int, int]]:
    return [(date.fromisoformat(t["day"]), t["hosts"], t["compliant"]) for t in summary["trend"]]


def share(ok: int, total: int) -> str:
    return f"{round(100 * ok / total)}%" if total else "-"


def trend_caption(points: list[tuple[date, int, int]]) -> str:
    if not points:
        return "No host reported in the period the trend covers: there is no trend to show."
    first, last = points[0], points[-1]
    span = f"on {last[0]}" if len(points) == 1 else f"from {first[0]} to {last[0]}"
    return (
        f"Share of the hosts that reported each day whose last report that day was compliant (no open violation, "
        f"and the whole machine read), {span} (latest: {last[2]} of {last[1]}, {share(last[2], last[1])}). Hosts "
        "that did not report on a day are not counted in that day (see the stale hosts)."
    )


def footer_text(summary: FleetSummary) -> str:
    return (
        f"Fleet summary generated {when(summary['generated'])} from each host's latest report; hosts are stale after "
        f"{summary['stale_after_days']} day(s) without a report. {database_text(summary)} Host names, tags, paths "
        "and evidence on this page were sent by the hosts and are shown as plain text."
    )


def database_text(summary: FleetSummary) -> str:
    size, hosts = summary["database_bytes"], summary["hosts"]["total"]
    per_host = f" ({size / hosts / 1024:.1f} KiB per host)" if hosts else ""
    return f"The fleet database holds {size / 1048576:.1f} MiB{per_host}."
