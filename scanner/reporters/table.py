"""The terminal report: the verdict, the findings, what changed, what could not be scanned, and the verdict again.

A person reads it at the bottom of a scrolled terminal, so the verdict is the first *and* the last line.
One row per finding fits the terminal's width (severity, provider, subject, location); the rule and the
explanation come with ``--wide``. A large result set is grouped (by severity, provider, kind and folder,
with counts) so the screen shows its shape; ``--all`` lists every finding, ``-f json`` has everything.
"""

from __future__ import annotations

import textwrap
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from scanner.report import Report, is_gap, location_text, policy_text, verdict
from scanner.reporters.grouping import group_by_folder
from scanner.reporters.interface import Format, Reporter
from scanner.reporters.tables import tabulate
from scanner.reporters.terminal import terminal_safe
from scanner.vocabulary import Severity

_SKIPPED_SHOWN = 10
_LISTED = 50
"""More findings than this are grouped (unless ``--all``); at most this many groups are shown."""
_GAP = 2
"""Spaces between columns."""
_NARROWEST = 12
"""A fitted column keeps at least this many characters."""
_ELLIPSIS = "..."


@dataclass(frozen=True)
class TableView:
    """How the table is laid out: ``width`` of the terminal (``None``: no limit, as in a file or a pipe),
    ``wide`` adds the rule and explanation columns, ``everything`` lists every finding of a large set."""

    width: int | None = None
    wide: bool = False
    everything: bool = False


def verdict_line(report: Report) -> str:
    """One line an official can read: the verdict, the counts and the policy."""
    summary = report["summary"]
    counts = f"{_counted(summary['violations'], 'violation')}, {_counted(summary['warnings'], 'warning')}"
    counts += f", {summary['infos']} info"
    waived = sum(1 for f in report["findings"] if f["waived"])
    counts += f", {waived} waived" if waived else ""
    tail = "; some paths could not be read (see above)" if not summary["complete"] else ""
    return f"{verdict(report)}: {counts}; policy {policy_text(report)}{tail}"


def _counted(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


class TableReporter(Reporter):
    id = Format.TABLE

    def __init__(self, view: TableView = TableView()) -> None:
        self.view = view

    def render(self, report: Report) -> str:
        findings = report["findings"]
        body: list[str] = []
        if findings and (self.view.everything or len(findings) <= _LISTED):
            body += [self._findings(findings), ""]
        elif findings:
            body += [*self._fill(f"{len(findings)} findings, grouped; every one with --all, or in -f json:"), ""]
            body += [self._groups(findings), ""]
        body += self._fill(_changes_line(report))
        body += self._coverage(report)
        verdict_text = self._fill(verdict_line(report))
        return "\n".join([*verdict_text, "", *body, *verdict_text]) + "\n"

    def _findings(self, findings: list[dict[str, Any]]) -> str:
        rows = [
            [
                f["severity"].upper() + (" (waived)" if f["waived"] else ""),
                f["provider"] or "-",
                terminal_safe(f["subject"]),
                terminal_safe(location_text(f["location"])),
            ]
            for f in findings
        ]
        headers = ["severity", "provider", "subject", "location"]
        if self.view.wide:
            for row, f in zip(rows, findings, strict=True):
                row += [
                    f"{f['rule_id']} ({f['confidence']})",
                    terminal_safe(f["evidence"][1] if len(f["evidence"]) > 1 else ""),
                ]
            widths = [None, None, 30, 50, None, 60]
            return tabulate(rows, [*headers, "rule", "why"], tablefmt="simple", maxcolwidths=widths)
        return self._fitted(rows, headers, paths=(False, False, False, True))

    def _groups(self, findings: list[dict[str, Any]]) -> str:
        """Findings counted by severity, provider, kind and folder; folders are cut to fewer parts until
        the groups fit on a screen, so ten thousand findings in one tree read as one line."""
        groups = group_by_folder(
            [f for f in findings if not f["waived"]],
            lambda f: (f["severity"], f["provider"] or "-", f["kind"]),
            _LISTED,
        )
        counts = Counter({(*g.key, g.folder): len(g.findings) for g in groups})
        shown = sorted(counts.most_common(_LISTED), key=lambda group: (-Severity(group[0][0]).rank, group[0][1:]))
        rows = [
            [severity.upper(), provider, kind, terminal_safe(folder), str(n)]
            for (severity, provider, kind, folder), n in shown
        ]
        waived = sum(1 for f in findings if f["waived"])
        table = self._fitted(
            rows, ["severity", "provider", "kind", "folder", "findings"], paths=(False, False, False, True, False)
        )
        more = len(counts) - len(rows)
        notes = [f"... and {more} more group(s)"] if more > 0 else []
        notes += [f"{waived} waived finding(s) not counted above"] if waived else []
        return "\n".join([table, *notes])

    def _fitted(self, rows: list[list[str]], headers: list[str], paths: Sequence[bool]) -> str:
        """A table no wider than the view: the widest columns give way first; a path is cut in its
        middle, so its top folders and its file name stay."""
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
        if self.view.width is not None:
            excess = sum(widths) + _GAP * (len(widths) - 1) - self.view.width
            while excess > 0:
                widest = max(range(len(widths)), key=lambda i: widths[i])
                if widths[widest] <= _NARROWEST:
                    break
                widths[widest] -= 1
                excess -= 1
        lines = [headers, ["-" * w for w in widths], *rows]
        return "\n".join(
            (" " * _GAP).join(_cut(cell, widths[i], paths[i]).ljust(widths[i]) for i, cell in enumerate(line)).rstrip()
            for line in lines
        )

    def _coverage(self, report: Report) -> list[str]:
        coverage = report["scan"]["coverage"]
        chosen = [s for s in coverage["skipped"] if not is_gap(s)]
        problems = [s for s in coverage["skipped"] if is_gap(s)]
        counts = ", ".join(f"{n} {kind}(s)" for kind, n in report["summary"]["records"].items()) or "nothing"
        lines = self._fill(
            f"Coverage: {coverage['dirs']} directories, {coverage['files']} files; found {counts}; "
            f"{len(problems)} path(s) unreadable, {len(chosen)} skipped by choice."
        )
        for skipped in problems[:_SKIPPED_SHOWN]:
            lines += self._fill(terminal_safe(f"  unreadable: {skipped['path']}: {skipped['reason']}"))
        if len(problems) > _SKIPPED_SHOWN:
            lines += self._fill(
                f"  ... and {len(problems) - _SKIPPED_SHOWN} more (use --format json for the full list)"
            )
        return lines

    def _fill(self, text: str | None) -> list[str]:
        if text is None:
            return []
        if self.view.width is None or len(text) <= self.view.width:
            return [text]
        indent = " " * (len(text) - len(text.lstrip()) + 2)
        return textwrap.wrap(text, self.view.width, subsequent_indent=indent, break_on_hyphens=False)


def _changes_line(report: Report) -> str | None:
    changes = report.get("changes")
    if not changes:
        return None
    previous = changes["previous_scan"]
    return (
        f"Since the previous scan ({previous['id'][:8]}, {previous['finished']}): {len(changes['new'])} new, "
        f"{len(changes['resolved'])} resolved, {len(changes['unchanged'])} unchanged finding(s)."
    )


def _cut(cell: str, width: int, path: bool) -> str:
    """``cell`` in at most ``width`` characters, marked where it was cut: a path keeps a third of its
    start and two thirds of its end, other text its start."""
    if len(cell) <= width:
        return cell
    if width <= len(_ELLIPSIS):
        return cell[:width]
    kept = width - len(_ELLIPSIS)
    head = kept // 3 if path else kept
    return cell[:head] + _ELLIPSIS + cell[len(cell) - (kept - head) :]
