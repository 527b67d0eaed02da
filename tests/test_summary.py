"""The one-page summary (HTML and Markdown): the verdict first, every section, and nothing a scanned name can inject."""

from __future__ import annotations

import html
import os
import re
import shlex
import shutil
from datetime import date, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from browser import page_errors, pdf_pages, print_pdf, run_chromium
from conftest import Machine, write_conda_record, write_dist_info
from modelkit import hf_cache_repo, ollama_store, write_gguf

from scanner.audit import AuditOptions, audit, run_audit
from scanner.policy.loader import load_policy, load_waivers
from scanner.report import Report, report_dict
from scanner.reporters.html import HtmlReporter
from scanner.reporters.markdown import MarkdownReporter
from scanner.reporters.summary import OVERVIEW_GROUPS
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
    titles = ["NOT COMPLIANT", "Findings at a glance", "What to do next", "Violations (3)", "Warnings (0)"]
    titles += ["Information (0)", "Waived (0)", "What could not be scanned", "What was scanned", "Policy applied"]
    titles += ["Changes since the previous scan", "Reviewed by (name, role)"]
    for text in (page, markdown):
        assert [text.index(t) for t in titles] == sorted(text.index(t) for t in titles), "in this order"
        assert "3 violation(s) of policy default" in text
        assert "langchain-deepseek 1.1.1" in text and "package-listed" in text
        assert "model-lineage" in text and "endpoint-host" in text
        assert "first recorded scan of this host and paths" in text
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
        assert "1 path(s) could not be read and could hide use, so compliance cannot be confirmed" in text
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
        assert "Warnings (1)" in text and "waiver SEC-12 expired on" in text
        assert "Information (1)" in text and "waiver SEC-77 matches nothing" in text
        assert "1 expired and 1 stale waiver(s) (one that matches nothing) are listed with the warnings" in text
        assert "1 new, 1 resolved, 4 unchanged finding(s)" in text
        assert "New since the previous scan (1)" in text and "Resolved since the previous scan (1)" in text
        assert "Renew waiver SEC-12" in text, "what to do about the expired waiver"
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
    for text in (page, markdown):
        assert "Could not be read (60)" in text and "Skipped by choice (1)" in text
        assert "1 path(s) were excluded on purpose (--exclude). Not checked, by choice." in text


def test_infos_are_listed_and_allow_list_findings_say_so(machine: Machine) -> None:
    three_kinds(machine)
    report = scan(machine)
    package = next(f for f in report["findings"] if f["kind"] == "package")
    endpoint = next(f for f in report["findings"] if f["kind"] == "endpoint")
    package["severity"] = "info"
    endpoint["provider"] = None  # as an allow-list policy reports what it does not allow
    page, markdown = HtmlReporter().render(report), MarkdownReporter().render(report)
    for text in (page, markdown):
        assert "Violations (2)" in text and "Information (1)" in text
        assert "(not on the allow-list) · endpoint · /home/alice/app (1)" in text
    info = re.search(r'<table class="details info">.*?</table>', page)
    assert info is not None and "<strong>langchain-deepseek 1.1.1</strong>" in info.group(0)
    assert "Packages to remove" not in page, "information is for review: nothing to remove"


def many_findings(machine: Machine) -> None:
    """462 findings, as a departmental file server might hold them: 150 projects of 12 users, each with a
    DeepSeek package in its venv and a .env pointing at DeepSeek with a key, and 12 distilled models."""
    for n in range(150):
        project = f"/home/user{n % 12}/proj{n}"
        write_dist_info(machine.venv(f"{project}/.venv"), "langchain-deepseek", "1.1.1")
        machine.path(f"{project}/.env").write_text(
            f"OPENAI_BASE_URL=https://api.deepseek.com/v1\nDEEPSEEK_API_KEY=sk-{n:04d}abcdef0123456789abcdef\n"
        )
    for n in range(12):
        write_gguf(
            machine.path(f"/srv/models/team{n % 3}/r1-{n}.gguf"),
            arch="qwen2",
            name="DeepSeek-R1-Distill-Qwen-7B",
            pre="qwen2",
        )


def visible(page: str) -> str:
    """The page's text as a reader sees it: no markup, entities decoded, white space folded."""
    body = page.split("<body>", 1)[-1].replace("<wbr>", "")
    return re.sub(r"\s+", " ", " ".join(Page(body).text))


def tiles(page: str) -> dict[str, int]:
    return {label: int(n) for n, label in re.findall(r"<div><strong>(\d+)</strong><span>(.*?)</span></div>", page)}


def waived_scan(machine: Machine, tmp_path: Path) -> Report:
    """Three violations, one waived; an expired waiver (a warning) and one that matches nothing (information)."""
    three_kinds(machine)
    policy = load_waivers([str(write_waivers(tmp_path / "waivers.yaml"))], load_policy([]))
    return report_dict(run_audit(AuditOptions(root=str(machine.root)), policy))


def test_each_tile_counts_what_its_section_lists(machine: Machine, tmp_path: Path) -> None:
    """A tile once said 1 warning over a section that said none: the expired waiver's warning was counted
    by the summary but left out of the section. Both now come from one list."""
    report = waived_scan(machine, tmp_path)
    summary = report["summary"]
    assert (summary["violations"], summary["warnings"], summary["infos"]) == (2, 1, 1)
    page, markdown = HtmlReporter().render(report), MarkdownReporter().render(report)
    expected = {"Violations": 2, "Warnings": 1, "Information": 1, "Waived": 1, "Could not be read": 0}
    assert tiles(page) == expected
    assert (
        "| Violations | Warnings | Information | Waived | Could not be read |\n|---|---|---|---|---|\n| 2 | 1 | 1 | 1 | 0 |"
        in markdown
    )
    for text in (visible(page), markdown):
        for label, n in expected.items():
            assert f"{label} ({n})" in text, "the section or heading of the same name lists as many"
    warnings = re.search(r'<table class="details warning">.*?</table>', page)
    assert warnings is not None and "waiver SEC-12 expired on" in warnings.group(0)
    assert len(re.findall(r'<tr class="finding">', warnings.group(0))) == 1


def test_sources_are_named_by_title_and_date(machine: Machine) -> None:
    three_kinds(machine)
    report = scan(machine)
    cable = report["sources"]["us-state-cable-2026-04-24"]
    assert cable["title"] == "US State Department cable to all posts on extraction and distillation of US AI models"
    assert cable["date"] == "2026-04-24" and cable["urls"]
    assert set(report["sources"]) == {s for f in report["findings"] for s in f["sources"]}, "the cited ones"
    page, markdown = HtmlReporter().render(report), MarkdownReporter().render(report)
    named = f"{cable['title']} (2026-04-24, diplomatic-warning)"
    for text in (visible(page), markdown):
        assert named in text and "Sources cited (27)" in text
        assert "us-state-cable-2026-04-24" not in text, "no internal id"
    del report["sources"]  # a report stored before reports carried their sources
    assert "us-state-cable-2026-04-24" in HtmlReporter().render(report), "is named by the id it has"


def test_the_header_names_host_and_date_and_the_page_ends_with_lines_for_a_signature(machine: Machine) -> None:
    three_kinds(machine)
    report = scan(machine)
    page, markdown = HtmlReporter().render(report), MarkdownReporter().render(report)
    host, finished = report["scan"]["host"], report["scan"]["finished"].replace("T", " ").replace("Z", " UTC")
    line = f"Host {host} · scanned {finished} · policy default 2026.12.05"
    assert f'<p class="scan">{line}</p>' in page and line in markdown.split("## 1.")[0]
    sign = page.index('<div class="sign">')
    assert page.rindex("</section>") < sign < page.index("<footer>")
    for text in (visible(page), markdown):
        assert "Reviewed by (name, role)" in text and "Signature" in text
    assert "| Reviewed by (name, role) | Date | Signature |" in markdown


def test_what_to_do_next_names_each_thing_and_its_place(machine: Machine, tmp_path: Path) -> None:
    write_dist_info(machine.venv("/opt/agent"), "langchain-deepseek", "1.1.1")
    machine.conda_env("/opt/conda/envs/ml")
    write_conda_record(machine.path("/opt/conda/envs/ml"), "langchain-deepseek", "1.1.1")
    npm = machine.path("/srv/webapp/node_modules/@ai-sdk/deepseek")
    npm.mkdir(parents=True)
    (npm / "package.json").write_text('{"name": "@ai-sdk/deepseek", "version": "1.0.0"}')
    write_gguf(
        machine.path("/home/alice/models/r1.gguf"), arch="qwen2", name="DeepSeek-R1-Distill-Qwen-7B", pre="qwen2"
    )
    gguf = write_gguf(tmp_path / "w.gguf", arch="qwen2", name="DeepSeek R1 Distill Qwen 7B", pre="deepseek-r1-qwen")
    hub = machine.path("/home/bob/.cache/huggingface/hub")
    hf_cache_repo(hub, "unsloth/DeepSeek-R1-Distill-Qwen-7B-GGUF", {"m.gguf": gguf.read_bytes()})
    ollama = machine.path("/usr/share/ollama/.ollama/models")
    ollama_store(ollama, {"weights": gguf.read_bytes()}, {"deepseek-r1:7b": {"model": "weights"}})
    machine.path("/home/alice/app").mkdir(parents=True)
    machine.path("/home/alice/app/.env").write_text(
        "OPENAI_BASE_URL=https://api.deepseek.com/v1\nDEEPSEEK_API_KEY=sk-deepseekSECRET0123456789abcdef\n"
    )
    machine.path("/home/alice/app/chat.py").write_text(
        'from openai import OpenAI\n\nclient = OpenAI(base_url="https://api.moonshot.cn/v1")\n'
    )
    report = scan(machine)
    page, markdown = HtmlReporter().render(report), MarkdownReporter().render(report)
    text = visible(page)
    steps = text[text.index("What to do next") : text.index("Violations (")]
    headings = ["Packages to remove", "Models to delete", "Keys to revoke", "Endpoint settings and code to change"]
    assert [steps.index(h) for h in headings] == sorted(steps.index(h) for h in headings)
    said = [
        "Remove langchain-deepseek from the virtual environment /opt/agent.",
        "/opt/agent/bin/python -m pip uninstall langchain-deepseek",
        "Remove langchain-deepseek from the conda environment /opt/conda/envs/ml.",
        "conda remove --prefix /opt/conda/envs/ml langchain-deepseek",
        "Remove @ai-sdk/deepseek from the Node project /srv/webapp (and from its package.json, where listed).",
        "cd /srv/webapp && npm uninstall @ai-sdk/deepseek",
        "Delete the model file /home/alice/models/r1.gguf (DeepSeek-R1-Distill-Qwen-7B). rm /home/alice/models/r1.gguf",
        "rm -rf /home/bob/.cache/huggingface/hub/models--unsloth--DeepSeek-R1-Distill-Qwen-7B-GGUF",
        "Remove deepseek-r1:7b from Ollama",
        "ollama rm deepseek-r1:7b",
        "Revoke the deepseek key ending …cdef with the provider, then delete it from /home/alice/app/.env:2.",
        "Change OPENAI_BASE_URL at /home/alice/app/.env:1: it points to https://api.deepseek.com/v1.",
        "Change the code at /home/alice/app/chat.py:3, which calls https://api.moonshot.cn/v1.",
    ]
    for sentence in said:
        assert sentence in steps, sentence
    assert "Remove langchain-deepseek from the virtual environment /opt/agent." in markdown
    assert "Run: cd /srv/webapp \\&\\& npm uninstall \\@ai-sdk/deepseek" in markdown
    assert "SECRET" not in page and "SECRET" not in markdown, "a key is named by its last four characters only"


def test_commands_keep_what_the_machine_named_as_one_harmless_argument(machine: Machine) -> None:
    prefix = "/opt/my env; $(touch pwned)"
    write_dist_info(machine.venv(prefix), "langchain-deepseek", "1.1.1")
    page = HtmlReporter().render(scan(machine))
    command = re.search(r'<code class="cmd">(.*?)</code>', page)
    assert command is not None
    words = shlex.split(html.unescape(command.group(1)))
    assert words == [f"{prefix}/bin/python", "-m", "pip", "uninstall", "langchain-deepseek"], "as a shell reads it"


def test_an_incomplete_page_says_what_was_not_read_and_whether_it_could_hide_use(machine: Machine) -> None:
    write_dist_info(machine.venv("/opt/agent"), "requests", "2.32.0")
    os.mkfifo(machine.path("/opt/agent/.env"))  # an unreadable .env: it could set a banned base URL
    machine.path("/srv/excluded").mkdir(parents=True)
    report = scan(machine, excludes=("/srv/excluded",))
    page, markdown = HtmlReporter().render(report), MarkdownReporter().render(report)
    assert '<header class="verdict partial">' in page and tiles(page)["Could not be read"] == 1
    for text in (visible(page), markdown):
        assert "INCOMPLETE SCAN" in text
        assert "1 path(s) could not be read and could hide use, so compliance cannot be confirmed" in text
        assert "Could not be read (1)" in text and "/opt/agent/.env" in text
        assert (
            "1 path(s) could not be read. This could hide use: a package, model, key or setting there was not seen."
            in text
        )
        assert "Skipped by choice (2)" in text
        assert "1 path(s) were excluded on purpose (--exclude). Not checked, by choice." in text
        assert (
            "1 path(s) are FIFOs, sockets, devices, pseudo-filesystem files or links not read through. This hides "
            "nothing: they hold nothing at rest, or nothing their owner could read through the link." in text
        )


def test_a_large_result_set_is_grouped_on_the_first_page_and_listed_compactly(machine: Machine) -> None:
    many_findings(machine)
    report = scan(machine)
    assert len(report["findings"]) == 462
    page, markdown = HtmlReporter().render(report), MarkdownReporter().render(report)
    overview = re.search(r'<table class="overview">.*?</table>', page)
    assert overview is not None
    rows = re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td>", overview.group(0).replace("<wbr>", ""))
    assert rows == [
        ("deepseek", "endpoint", "/home"),
        ("deepseek", "model", "/srv"),
        ("deepseek", "package", "/home"),
    ]
    assert len(rows) <= OVERVIEW_GROUPS
    assert "| deepseek | endpoint | /home | 150 | 150 | 0 | 300 |" in markdown
    assert page.count('<tr class="finding">') == 462, "every finding, one row each"
    said_once = "a .env file at the place shown sets OPENAI_BASE_URL=https://api.deepseek.com/v1."
    assert page.count(said_once) == 12, "once for each user's group, not once per finding"
    assert "deepseek · endpoint · /home/user0 (13)" in page and "deepseek · endpoint · /home/user0 (13)" in markdown
    assert "and 142 more: the findings below list every place." in page, "steps are capped, the findings are not"


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


def printed(machine: Machine, tmp_path: Path, paper: str) -> list[str]:
    page = tmp_path / "summary.html"
    page.write_text(HtmlReporter().render(scan(machine)), encoding="utf-8")
    return pdf_pages(print_pdf(tmp_path, page, paper), tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("paper", ["A4", "Letter"])
def test_the_first_printed_page_holds_the_verdict_counts_and_overview(
    machine: Machine, tmp_path: Path, paper: str
) -> None:
    three_kinds(machine)
    pages = printed(machine, tmp_path, paper)
    first = pages[0]
    assert len(pages) <= 3, "three findings took three A4 pages as cards; now the tables and the policy"
    assert "NOT COMPLIANT" in first and "3 violation(s) of policy default 2026.12.05" in first
    assert "3 VIOLATIONS 0 WARNINGS 0 INFORMATION 0 WAIVED 0 COULD NOT BE READ" in first
    assert "By provider, kind and folder" in first
    assert "deepseek endpoint /home/alice/app 1 0 0 1" in first and "deepseek model /home/alice/models 1 0 0 1" in first
    assert "What to do next" in first and "rm /home/alice/models/r1.gguf" in first
    assert f"Page 1 of {len(pages)}" in first
    assert "Reviewed by (name, role)" in pages[-1]


@pytest.mark.slow
@pytest.mark.parametrize("paper", ["A4", "Letter"])
def test_462_findings_print_grouped_on_the_first_page_then_compactly(
    machine: Machine, tmp_path: Path, paper: str
) -> None:
    many_findings(machine)
    pages = printed(machine, tmp_path, paper)
    first = pages[0]
    assert "NOT COMPLIANT" in first and "312 VIOLATIONS 150 WARNINGS 0 INFORMATION" in first
    assert "deepseek endpoint /home 150 150 0 300" in first and "deepseek package /home 150 0 0 150" in first
    assert "deepseek model /srv 12 0 0 12" in first
    assert len(pages) <= 24, "462 findings took 77 pages as one card each (68 measured before the tables)"
    assert "Reviewed by (name, role)" in pages[-1]
