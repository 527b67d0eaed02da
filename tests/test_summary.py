"""The one-page summary (HTML and Markdown): the verdict first, every section, and nothing a scanned name can inject."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import date, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import Machine, require, write_dist_info
from modelkit import write_gguf

from scanner.audit import AuditOptions, audit, run_audit
from scanner.policy.loader import load_policy, load_waivers
from scanner.report import Report, report_dict
from scanner.reporters.html import HtmlReporter
from scanner.reporters.markdown import MarkdownReporter
from scanner.store.database import open_store

HOSTILE_DIR = '"><img src=x onerror=alert(1)>|[y]'
HOSTILE_MODEL = "DeepSeek-R1-Distill-Qwen-7B <script>alert(1)</script> [x](http://evil) | *b* _i_ # h"
HOSTILE_PACKAGE = 'deepseek-"><img src=x onerror=alert(1)>'
ALLOWED_TAGS = {
    *("html", "head", "meta", "title", "style", "body", "main", "header", "section", "footer", "article", "div"),
    *("h1", "h2", "h3", "p", "span", "strong", "small", "code", "wbr", "dl", "dt", "dd", "ul", "ol", "li"),
    *("table", "thead", "tbody", "tr", "th", "td", "svg", "desc", "rect", "text", "circle", "path"),
}


class Page(HTMLParser):
    """The tags, attributes and text of an HTML page, as a browser's tokenizer sees them."""

    def __init__(self, markup: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []
        self.feed(markup)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def scan(machine: Machine, excludes: tuple[str, ...] = ()) -> Report:
    return report_dict(run_audit(AuditOptions(root=str(machine.root), excludes=excludes), load_policy([])))


def three_kinds(machine: Machine) -> None:
    """A DeepSeek package, a DeepSeek-distilled GGUF model and a .env pointing at DeepSeek's API."""
    write_dist_info(machine.venv("/opt/agent"), "langchain-deepseek", "1.1.1")
    write_gguf(
        machine.path("/home/alice/models/r1.gguf"), arch="qwen2", name="DeepSeek-R1-Distill-Qwen-7B", pre="qwen2"
    )
    machine.path("/home/alice/app").mkdir(parents=True)
    machine.path("/home/alice/app/.env").write_text("OPENAI_BASE_URL=https://api.deepseek.com/v1\n")


def hostile(machine: Machine) -> Report:
    """Names chosen to break out of HTML attributes and text, and to make Markdown links and cells."""
    folder = machine.path(f"/home/a/{HOSTILE_DIR}")
    write_gguf(folder / "m.gguf", arch="qwen2", name=HOSTILE_MODEL, pre="qwen2")
    (folder / ".env").write_text("OPENAI_BASE_URL=https://api.deepseek.com/v1\n")
    (folder / "sub").mkdir()
    os.mkfifo(folder / "sub" / ".env")  # an unreadable path, so the hostile folder is in the coverage table too
    write_dist_info(machine.venv("/opt/agent"), HOSTILE_PACKAGE, "1.0")
    return scan(machine)


def test_violations_of_every_kind_make_a_not_compliant_page_that_names_each(machine: Machine) -> None:
    three_kinds(machine)
    report = scan(machine)
    page, markdown = HtmlReporter().render(report), MarkdownReporter().render(report)
    for text in (page, markdown):
        assert text.index("NOT COMPLIANT") < text.index("What was scanned") < text.index("Policy applied")
        assert "3 violation(s) of policy default" in text
        assert "Violations (3)" in text
        assert "langchain-deepseek 1.1.1" in text and "package-listed" in text
        assert "model-lineage" in text and "endpoint-host" in text
        assert "first recorded scan of this host and paths" in text
        assert "us-state-cable-2026-04-24" in text, "the sources the findings cite are listed"
    assert "DeepSeek-R1-Distill-Qwen-7B" in page and "OPENAI_BASE_URL=https://api.deepseek.com/v1" in page
    assert "OPENAI\\_BASE\\_URL=https\\://api.deepseek.com/v1" in markdown
    assert '<header class="verdict bad">' in page


def test_the_lineage_is_shown_as_a_chain(machine: Machine) -> None:
    three_kinds(machine)
    report = scan(machine)
    chain = re.search(r'<ol class="chain">(.*?)</ol>', HtmlReporter().render(report))
    assert chain is not None
    links = re.findall(r"<li>(.*?)</li>", chain.group(1))
    assert links[0].startswith("<code>DeepSeek-R1-Distill-Qwen-7B</code>")
    assert links[1].startswith("distilled from <code>deepseek-ai/DeepSeek-R1</code>")
    assert links[-1].startswith("provider deepseek")
    line = next(x for x in MarkdownReporter().render(report).splitlines() if "Lineage:" in x)
    assert line.count(" → ") == len(links) - 1 and "distilled from \\`deepseek-ai/DeepSeek-R1\\`" in line


def test_the_counts_chart_is_accessible_svg_counting_unwaived_findings(machine: Machine) -> None:
    three_kinds(machine)
    page = HtmlReporter().render(scan(machine))
    charts = re.findall(r'<svg class="chart" role="img" aria-labelledby="([\w-]+) ([\w-]+)".*?</svg>', page)
    assert len(charts) == 2
    assert '<desc id="by-kind-d">package: 1 violation, 0 warning, 0 info; model: 1 violation' in page
    assert '<desc id="by-provider-d">deepseek: 3 violation, 0 warning, 0 info</desc>' in page


def test_hostile_names_are_only_text_in_the_html(machine: Machine) -> None:
    page = HtmlReporter().render(hostile(machine))
    parsed = Page(page)
    assert {tag for tag, _ in parsed.tags} <= ALLOWED_TAGS
    attributes = [(name, value or "") for _, attrs in parsed.tags for name, value in attrs]
    assert not [name for name, _ in attributes if name.startswith("on") or name in ("src", "href", "style")]
    assert not [value for _, value in attributes if "alert" in value or "javascript" in value.lower()]
    text = "".join(parsed.text)
    for name in (HOSTILE_DIR, HOSTILE_PACKAGE, "<script>alert(1)</script> [x](http://evil)"):
        assert name in text, "shown, as text"
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in page


def test_hostile_names_cannot_make_markdown_html_links_or_table_cells(machine: Machine) -> None:
    markdown = MarkdownReporter().render(hostile(machine))
    assert not re.search(r"(?<!\\)[<\[]", markdown), "every < and [ is escaped"
    assert not re.search(r"(?<!\\)://", markdown), "no bare URL that GitHub would autolink"
    assert "](http" not in markdown.replace("\\](http", "")
    markdown_it = pytest.importorskip("markdown_it")
    rendered = markdown_it.MarkdownIt("commonmark").enable("table").render(markdown)
    assert "<a " not in rendered and "<img" not in rendered and "<script" not in rendered
    assert "&lt;script&gt;alert(1)&lt;/script&gt; [x](http://evil) | *b* _i_ # h" in rendered
    for table in re.findall(r"<table>.*?</table>", rendered, re.S):
        columns = len(re.findall(r"<th[ >]", table))
        rows = re.findall(r"<tr>(.*?)</tr>", table, re.S)[1:]
        assert rows and all(row.count("<td") == columns for row in rows), "a | in a name did not add a cell"
    assert "/home/a/&quot;&gt;&lt;img src=x onerror=alert(1)&gt;|[y]/sub/.env" in rendered


def test_the_page_loads_nothing_from_outside(machine: Machine) -> None:
    three_kinds(machine)
    page = HtmlReporter().render(scan(machine))
    assert not re.search(r"\b(src|href|xlink:href|action)\s*=", page, re.I)
    assert not re.search(r"<(link|script|img|iframe|object|embed|base)\b", page, re.I)
    assert "url(" not in page and "@import" not in page and "@font-face" not in page
    assert "default-src 'none'" in page, "and the page's Content-Security-Policy forbids it anyway"


def test_compliant_and_incomplete_verdicts_have_their_own_words(machine: Machine, tmp_path: Path) -> None:
    write_dist_info(machine.venv("/opt/agent"), "requests", "2.32.0")
    report = scan(machine)
    for text in (HtmlReporter().render(report), MarkdownReporter().render(report)):
        assert "COMPLIANT" in text and "NOT COMPLIANT" not in text and "INCOMPLETE SCAN" not in text
        assert "No banned AI provider, model or endpoint was found on this machine under policy default" in text
        assert "Every path in scope could be read." in text
    os.mkfifo(machine.path("/opt/agent/.env"))
    report = scan(machine)
    for text in (HtmlReporter().render(report), MarkdownReporter().render(report)):
        assert "INCOMPLETE SCAN" in text and "NOT COMPLIANT" not in text
        assert "Part of the machine could not be read, so compliance cannot be confirmed" in text
        assert "not a regular file (FIFO)" in text
    assert '<header class="verdict partial">' in HtmlReporter().render(report)


def write_waivers(path: Path) -> Path:
    future, past = date.today() + timedelta(days=30), date.today() - timedelta(days=1)
    entries = [
        ("/home/alice/models/*", "SEC-1234", "J. Doe, CISO", "red-team evaluation of DeepSeek-R1", future),
        ("/nowhere/*", "SEC-77", "A. Smith, CTO", "pilot that never started", future),
        ("/gone/*", "SEC-12", "A. Smith, CTO", "old pilot", past),
    ]
    lines = ["schema_version: 1", "waivers:"]
    for glob, reference, approver, reason, expires in entries:
        lines += [f"  - path: {glob}", f"    reference: {reference}", f"    approved_by: {approver}"]
        lines += [f"    reason: {reason}", f"    expires: {expires.isoformat()}"]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_waivers_and_changes_since_the_previous_scan(machine: Machine, tmp_path: Path) -> None:
    three_kinds(machine)
    policy = load_waivers([str(write_waivers(tmp_path / "waivers.yaml"))], load_policy([]))
    options = AuditOptions(root=str(machine.root))
    with open_store(tmp_path / "store.db") as store:
        audit(options, policy, store)
        shutil.rmtree(machine.path("/opt/agent/lib/python3.11/site-packages/langchain_deepseek-1.1.1.dist-info"))
        machine.path("/home/bob").mkdir(parents=True)
        machine.path("/home/bob/.env").write_text("DEEPSEEK_BASE_URL=https://api.deepseek.com\n")
        report = audit(options, policy, store).report
    assert report["changes"]
    page, markdown = HtmlReporter().render(report), MarkdownReporter().render(report)
    for text in (page, markdown):
        assert "SEC-1234" in text and "J. Doe, CISO" in text and "red-team evaluation of DeepSeek-R1" in text
        assert (date.today() + timedelta(days=30)).isoformat() in text
        assert "Expired waivers (1)" in text and "waiver SEC-12 expired on" in text
        assert "Stale waivers (1)" in text and "SEC-77" in text
        assert "1 new, 1 resolved, 4 unchanged finding(s)" in text
        assert "New since the previous scan (1)" in text and "Resolved since the previous scan (1)" in text
    assert "<td>langchain-deepseek 1.1.1</td>" in page, "the resolved package"
    assert "Violations (2)" in page, "the waived model is not among the violations"


def test_unreadable_paths_are_capped_and_chosen_skips_counted(machine: Machine) -> None:
    machine.path("/srv/excluded").mkdir(parents=True)
    report = scan(machine, excludes=("/srv/excluded",))
    report["scan"]["coverage"]["skipped"] += [
        {"path": f"/data/{n}", "reason": "permission denied", "kind": "unreadable"} for n in range(60)
    ]
    page, markdown = HtmlReporter().render(report), MarkdownReporter().render(report)
    assert page.count("<td>permission denied</td>") == 50 and "and 10 more" in page
    assert markdown.count("| permission denied |") == 50 and "and 10 more" in markdown
    assert "1 path(s) were skipped by choice (1 excluded)." in page


def test_infos_are_listed_and_allow_list_findings_say_so(machine: Machine) -> None:
    three_kinds(machine)
    report = scan(machine)
    package = next(f for f in report["findings"] if f["kind"] == "package")
    endpoint = next(f for f in report["findings"] if f["kind"] == "endpoint")
    package["severity"] = "info"
    endpoint["provider"] = None  # as an allow-list policy reports what it does not allow
    page, markdown = HtmlReporter().render(report), MarkdownReporter().render(report)
    assert "Violations (2)" in page and "Information (1)" in page and "Information (1)" in markdown
    assert "<li>langchain-deepseek 1.1.1 (deepseek) at /opt/agent/" in page
    assert "is not on the policy&#x27;s allow-list (rule <code>endpoint-host</code>" in page
    assert "is not on the policy's allow-list (rule endpoint-host" in markdown


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    require("Chromium", found)
    assert found is not None
    return found


def run_chromium(tmp_path: Path, page: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Headless Chromium with nothing that reaches the network, logging the page's console to stderr."""
    command = [
        chromium(),
        *("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"),
        *("--disable-background-networking", "--disable-component-update", "--disable-sync"),
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        *("--enable-logging=stderr", "--v=0", *args, page.as_uri()),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def page_errors(stderr: str) -> list[str]:
    """Lines about the page itself (console, script errors, blocked loads), not Chromium's own noise."""
    return [
        line for line in stderr.splitlines() if re.search(r"CONSOLE|Uncaught|Content.Security.Policy|Refused to", line)
    ]


@pytest.mark.slow
def test_chromium_renders_the_page_without_errors(machine: Machine, tmp_path: Path) -> None:
    hostile(machine)
    page = tmp_path / "summary.html"
    page.write_text(HtmlReporter().render(scan(machine)), encoding="utf-8")
    done = run_chromium(tmp_path, page, "--dump-dom")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "NOT COMPLIANT" in done.stdout and "Findings at a glance" in done.stdout
    assert not page_errors(done.stderr)
    assert {tag for tag, _ in Page(done.stdout).tags} <= ALLOWED_TAGS, "the browser built no element from a name"


@pytest.mark.slow
def test_chromium_prints_the_page(machine: Machine, tmp_path: Path) -> None:
    three_kinds(machine)
    page, pdf = tmp_path / "summary.html", tmp_path / "summary.pdf"
    page.write_text(HtmlReporter().render(scan(machine)), encoding="utf-8")
    done = run_chromium(tmp_path, page, f"--print-to-pdf={pdf}", "--no-pdf-header-footer")
    assert done.returncode == 0, done.stderr[-2000:]
    assert pdf.read_bytes().startswith(b"%PDF") and not page_errors(done.stderr)
