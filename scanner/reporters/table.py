"""The terminal report: a verdict line, the findings, what changed, and what could not be scanned."""

from __future__ import annotations

from tabulate import tabulate

from scanner.report import Report, is_gap, location_text, policy_text, verdict
from scanner.reporters.interface import Format, Reporter
from scanner.reporters.terminal import terminal_safe

_SKIPPED_SHOWN = 10


def verdict_line(report: Report) -> str:
    """One line an official can read: the verdict, the counts and the policy."""
    summary = report["summary"]
    counts = f"{summary['violations']} violation(s), {summary['warnings']} warning(s), {summary['infos']} info"
    waived = sum(1 for f in report["findings"] if f["waived"])
    counts += f", {waived} waived" if waived else ""
    tail = " - some paths could not be read (see below)" if not summary["complete"] else ""
    return f"{verdict(report)}: {counts} (policy: {policy_text(report)}){tail}"


def _changes_line(report: Report) -> str | None:
    changes = report.get("changes")
    if not changes:
        return None
    previous = changes["previous_scan"]
    return (
        f"Since the previous scan ({previous['id'][:8]}, {previous['finished']}): {len(changes['new'])} new, "
        f"{len(changes['resolved'])} resolved, {len(changes['unchanged'])} unchanged finding(s)."
    )


class TableReporter(Reporter):
    id = Format.TABLE

    def render(self, report: Report) -> str:
        lines = [verdict_line(report), ""]
        findings = report["findings"]
        if findings:
            rows = [
                [
                    f["severity"].upper() + (" (waived)" if f["waived"] else ""),
                    f["provider"] or "-",
                    terminal_safe(f["subject"]),
                    terminal_safe(location_text(f["location"])),
                    f"{f['rule_id']} ({f['confidence']})",
                    terminal_safe(f["evidence"][1] if len(f["evidence"]) > 1 else ""),
                ]
                for f in findings
            ]
            headers = ["severity", "provider", "subject", "location", "rule", "why"]
            lines += [
                tabulate(rows, headers, tablefmt="simple", maxcolwidths=[None, None, 30, 50, None, 60]),
                "",
            ]
        changes = _changes_line(report)
        if changes:
            lines.append(changes)
        coverage = report["scan"]["coverage"]
        chosen = [s for s in coverage["skipped"] if not is_gap(s)]
        problems = [s for s in coverage["skipped"] if is_gap(s)]
        counts = ", ".join(f"{n} {kind}(s)" for kind, n in report["summary"]["records"].items()) or "nothing"
        lines.append(
            f"Coverage: {coverage['dirs']} directories, {coverage['files']} files; found {counts}; "
            f"{len(problems)} path(s) unreadable, {len(chosen)} skipped by choice."
        )
        for skipped in problems[:_SKIPPED_SHOWN]:
            lines.append(terminal_safe(f"  unreadable: {skipped['path']}: {skipped['reason']}"))
        if len(problems) > _SKIPPED_SHOWN:
            lines.append(f"  ... and {len(problems) - _SKIPPED_SHOWN} more (use --format json for the full list)")
        return "\n".join(lines) + "\n"
