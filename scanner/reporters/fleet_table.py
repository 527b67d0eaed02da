"""The fleet summary at the terminal: the fleet's state in one line, then where the violations are.

The same document as the officials' page (``scanner fleet summary -f html``), for the admin at a
shell: counts of hosts by state, violations by provider and kind, the worst hosts and the silent ones,
and the state line again at the end. Host names and tags were sent by the hosts, so they are made safe.
"""

from __future__ import annotations

from scanner.report import FleetSummary
from scanner.reporters.fleet_summary import database_text
from scanner.reporters.interface import FleetFormat, FleetReporter
from scanner.reporters.tables import tabulate
from scanner.reporters.terminal import terminal_safe


def fleet_line(summary: FleetSummary) -> str:
    hosts = summary["hosts"]
    return (
        f"FLEET: {hosts['total']} host(s): {hosts['compliant']} compliant, {hosts['not_compliant']} not compliant, "
        f"{hosts['incomplete']} incomplete, {hosts['stale']} silent for more than {summary['stale_after_days']} day(s)"
    )


class FleetTableReporter(FleetReporter):
    id = FleetFormat.TABLE

    def render(self, summary: FleetSummary) -> str:
        lines = [fleet_line(summary), ""]
        by_provider = [
            [provider, n, summary["hosts_by_provider"].get(provider, 0)]
            for provider, n in summary["violations_by_provider"].items()
        ]
        if by_provider:
            lines += [tabulate(by_provider, ["provider", "violations", "hosts"]), ""]
        worst = [
            [
                terminal_safe(h["host"]),
                h["violations"],
                h["warnings"],
                h["last_seen"] or "never",
                terminal_safe(", ".join(f"{k}={v}" for k, v in sorted(h["tags"].items()))),
            ]
            for h in summary["worst_hosts"]
        ]
        if worst:
            lines += [tabulate(worst, ["host", "violations", "warnings", "last report", "tags"]), ""]
        for host in summary["stale_hosts"]:
            lines.append(f"silent: {terminal_safe(host['host'])} (last report {host['last_seen'] or 'never'})")
        if summary["stale_hosts"]:
            lines.append("")
        for host in summary["outdated_policy_hosts"]:
            judged_by = ", ".join(f"{f['id']} {f['version']}" for f in host["files"])
            lines.append(f"outdated policy: {terminal_safe(host['host'])} (judged by {terminal_safe(judged_by)})")
        if summary["outdated_policy_hosts"]:
            lines.append("")
        for host in summary["clock_ahead"]:
            lines.append(
                f"clock ahead: {terminal_safe(host['host'])} dated its latest report {host['seconds']} s after it arrived"
            )
        if summary["clock_ahead"]:
            lines.append("")
        lines += [database_text(summary), "", fleet_line(summary)]
        return "\n".join(lines) + "\n"
