"""The terminal report: a verdict line, the findings, and what could not be scanned."""

from __future__ import annotations

from tabulate import tabulate

from scanner.audit import ScanResult
from scanner.reporters.interface import Reporter

_SKIPPED_SHOWN = 10
_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x00, 0x20), *range(0x7F, 0xA0))}


def terminal_safe(text: str) -> str:
    """Control characters shown as ``\\xNN``: a scanned name must not move the cursor or recolour
    the terminal (``ESC[2A`` could overwrite the verdict line)."""
    return text.translate(_CONTROL)


def verdict(result: ScanResult) -> str:
    """One line an official can read: compliant or not, and whether the scan saw everything."""
    summary = result.summary
    counts = f"{summary.violations} violation(s), {summary.warnings} warning(s), {summary.infos} info"
    policies = ", ".join(f"{p['id']} {p['version']}" for p in result.scan.policy_files)
    head = "COMPLIANT" if summary.compliant else "NOT COMPLIANT"
    tail = "" if summary.complete else " - INCOMPLETE SCAN: some paths could not be read (see below)"
    return f"{head}: {counts} (policy: {policies}){tail}"


class TableReporter(Reporter):
    id = "table"

    def render(self, result: ScanResult) -> str:
        lines = [verdict(result), ""]
        if result.findings:
            rows = [
                [
                    f.severity.upper(),
                    f.provider or "-",
                    terminal_safe(f.subject),
                    terminal_safe(f.location.path + (f":{f.location.line}" if f.location.line else "")),
                    f"{f.rule_id} ({f.confidence})",
                    terminal_safe(f.evidence[1] if len(f.evidence) > 1 else ""),
                ]
                for f in result.findings
            ]
            headers = ["severity", "provider", "subject", "location", "rule", "why"]
            lines += [
                tabulate(rows, headers, tablefmt="simple", maxcolwidths=[None, None, 30, 50, None, 60]),
                "",
            ]
        coverage = result.coverage
        chosen = [s for s in coverage.skipped if not s.makes_incomplete]
        problems = [s for s in coverage.skipped if s.makes_incomplete]
        counts = ", ".join(f"{n} {kind}(s)" for kind, n in result.summary.records.items()) or "nothing"
        lines.append(
            f"Coverage: {coverage.dirs} directories, {coverage.files} files; found {counts}; "
            f"{len(problems)} path(s) unreadable, {len(chosen)} skipped by choice."
        )
        for skipped in problems[:_SKIPPED_SHOWN]:
            lines.append(terminal_safe(f"  unreadable: {skipped.path}: {skipped.reason}"))
        if len(problems) > _SKIPPED_SHOWN:
            lines.append(f"  ... and {len(problems) - _SKIPPED_SHOWN} more (use --format json for the full list)")
        return "\n".join(lines) + "\n"
