"""The fleet summary officials sign (HTML and Markdown), rendered from a real fleet database of real scans:
the verdict and its counts, every section, and nothing a host name, tag or path can inject."""

from __future__ import annotations

import copy
import json
import os
import re
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from browser import page_errors, pdf_pages, print_pdf, run_chromium
from conftest import Machine, run_scanner, write_dist_info
from modelkit import write_gguf
from test_summary import HOSTILE_DIR, Page, hostile, three_kinds

from scanner.audit import AuditOptions, run_audit
from scanner.fleet.collector.sqlite_storage import SqliteFleetStorage
from scanner.fleet.collector.summary import fleet_summary
from scanner.policy.loader import load_policy, load_waivers
from scanner.policy.schema import Policy
from scanner.report import FleetSummary, Report, report_dict
from scanner.reporters.interface import FleetFormat
from scanner.reporters.registry import fleet_reporter

SCRIPT_HOST = "<script>alert(1)</script>"
IMG_TAG = '"><img src=x onerror=alert(1)>'
LINK_HOST = "[x](http://evil) | y"
LINK_TAG = "[x](http://evil)|"
NOW = datetime.now(timezone.utc)
MIDNIGHT = NOW.replace(hour=0, minute=0, second=0, microsecond=0)
TODAY = MIDNIGHT + (NOW - MIDNIGHT) / 2
"""When today's reports finished: earlier today (UTC) whatever the hour, so that their day is today."""
ALLOWED_TAGS = {
    *("html", "head", "meta", "title", "style", "body", "main", "header", "section", "footer", "article", "div"),
    *("h1", "h2", "h3", "p", "span", "strong", "small", "code", "wbr", "ul", "ol", "li"),
    *("table", "thead", "tbody", "tr", "th", "td", "svg", "desc", "rect", "text", "tspan", "circle", "path"),
}


def render_fleet_page(summary: FleetSummary, form: str) -> str:
    return fleet_reporter(FleetFormat(form)).render(summary)


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def scan(machine: Machine, policy: Policy | None = None) -> Report:
    return report_dict(run_audit(AuditOptions(root=str(machine.root)), policy or load_policy([])))


def as_host(report: Report, host: str, finished: datetime, tags: dict[str, str] | None = None) -> Report:
    """The same scan as if ``host`` had made it at ``finished``: a report of its own (new id)."""
    made = copy.deepcopy(report)
    made["scan"].update(id=str(uuid.uuid4()), host=host, started=stamp(finished), finished=stamp(finished))
    if tags:
        made["agent"] = {"tags": tags}
    return made


def new_machine(base: Path, name: str) -> Machine:
    root = base / name
    root.mkdir()
    return Machine(root)


def waived_policy(folder: Path, expires: date) -> Policy:
    waivers = folder / "waivers.yaml"
    waivers.write_text(
        "schema_version: 1\nwaivers:\n  - path: /home/alice/models/*\n    reference: SEC-1234\n"
        f"    approved_by: J. Doe, CISO\n    reason: red-team evaluation\n    expires: {expires.isoformat()}\n"
    )
    return load_waivers([str(waivers)], load_policy([]))


def build_fleet(base: Path) -> Path:
    """Eight hosts: two not compliant (one named and tagged to inject HTML, with a hostile path), three
    compliant (one by a waiver that expires soon, named like a Markdown link), one incomplete, one stale,
    one that never reported; a week of history; three reports lost from full spools."""
    violating = new_machine(base, "violating")
    three_kinds(violating)
    bad = scan(violating)
    clean_machine = new_machine(base, "clean")
    write_dist_info(clean_machine.venv("/opt/agent"), "requests", "2.32.0")
    clean = scan(clean_machine)
    os.mkfifo(clean_machine.path("/opt/agent/.env"))
    partial = scan(clean_machine)
    lab = new_machine(base, "lab")
    write_gguf(lab.path("/home/alice/models/r1.gguf"), arch="qwen2", name="DeepSeek-R1-Distill-Qwen-7B", pre="qwen2")
    waived = scan(lab, waived_policy(base, date.today() + timedelta(days=10)))
    evil = hostile(new_machine(base, "hostile"))

    db = base / "fleet.db"
    storage = SqliteFleetStorage(db)
    finance, research = {"department": "finance"}, {"department": "research"}

    def store(report: Report, dropped: int = 0) -> None:
        assert storage.store_report(report, stamp(NOW), dropped)

    for days_ago in range(6, 0, -1):  # a week of history: web-02 was not compliant until three days ago
        day = TODAY - timedelta(days=days_ago)
        store(as_host(bad, "web-01", day, finance))
        store(as_host(bad if days_ago > 3 else clean, "web-02", day, finance))
    store(as_host(bad, "web-01", TODAY, finance))
    store(as_host(clean, "web-02", TODAY, finance))
    store(as_host(waived, LINK_HOST, TODAY, {**research, "site|x": "<b>"}), dropped=2)
    store(as_host(partial, "ws-07", TODAY, research), dropped=1)
    store(as_host(clean, "db-01", TODAY - timedelta(days=10), finance))
    store(as_host(evil, SCRIPT_HOST, TODAY, {"department": IMG_TAG}))
    store(as_host(clean, "web-03", TODAY, {"department": LINK_TAG}))
    storage.add_token("db-09", "0" * 64)  # registered, never reported
    storage.close()
    return db


@pytest.fixture(scope="module")
def fleet_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    base = tmp_path_factory.mktemp("fleet")
    with pytest.MonkeyPatch.context() as patch:  # the autouse per-test fixture does not cover module scope
        patch.setenv("SCANNER_CACHE_DIR", str(base / "cache"))
        patch.setenv("SCANNER_DB", str(base / "scanner.db"))
        yield build_fleet(base)


@pytest.fixture(scope="module")
def summary(fleet_db: Path) -> dict[str, Any]:
    storage = SqliteFleetStorage(fleet_db)
    try:
        return fleet_summary(storage)
    finally:
        storage.close()


@pytest.fixture(scope="module")
def page(summary: dict[str, Any]) -> str:
    return render_fleet_page(summary, "html")


@pytest.fixture(scope="module")
def markdown(summary: dict[str, Any]) -> str:
    return render_fleet_page(summary, "markdown")


def text_of(markup: str) -> str:
    """The page's visible text, a space between elements (but not at a line-break opportunity), as one reads it."""
    body = markup.split("<body>", 1)[-1].replace("<wbr>", "")
    return re.sub(r"\s+", " ", " ".join(Page(body).text))


def test_the_fleet_was_built_as_intended(summary: dict[str, Any]) -> None:
    assert summary["hosts"] == {"total": 8, "compliant": 3, "not_compliant": 2, "incomplete": 1, "stale": 2}
    assert summary["lost_reports"] == 3 and len(summary["waivers_expiring"]) == 1


def test_the_pages_are_made_from_the_summary_document_alone(summary: dict[str, Any], page: str, markdown: str) -> None:
    """The reporters render the plain document, so a summary saved as JSON makes the same pages."""
    saved = json.loads(render_fleet_page(summary, "json"))
    assert render_fleet_page(saved, "html") == page and render_fleet_page(saved, "markdown") == markdown


def test_the_verdict_comes_first_with_its_counts_in_both_forms(page: str, markdown: str) -> None:
    for text in (text_of(page), markdown):
        assert text.index("NOT COMPLIANT") < text.index("Open violations by provider and kind")
        assert "3 of 8 hosts compliant" in text
        assert "(2 not compliant, 1 incomplete, 2 stale)" in text
        assert "2 host(s) have open violations of policy in their latest report; 1 could not be scanned" in text
        assert "The fleet is compliant only when every host is compliant and none is stale." in text
        assert "A silent host is not a compliant host." in text
        assert "A host with no report in the last 3 day(s) is stale, never compliant." in text
    assert '<header class="verdict bad">' in page
    assert "<title>NOT COMPLIANT: AI model-usage compliance, fleet of 8 host(s)</title>" in page
    assert "| Hosts | Compliant | Not compliant | Incomplete | Stale |" in markdown
    assert "| 8 | 3 | 2 | 1 | 2 |" in markdown


def test_every_section_is_there_in_order(page: str, markdown: str) -> None:
    titles = [
        "Open violations by provider and kind",
        "Hosts by tag",
        "Worst hosts (2)",
        "Stale hosts (2)",
        "Waivers expiring soon (1)",
        "Reports lost (3)",
        "Compliance trend",
        "Policy applied",
    ]
    headings = re.findall(r'<h2><span class="num">(\d+)</span>(.*?)</h2>', page)
    assert headings == [(str(n), t) for n, t in enumerate(titles, 1)]
    assert re.findall(r"^## \d+\. (.*)$", markdown, re.M) == titles


def test_violations_by_provider_and_kind_are_svg_bars_with_hosts_affected(page: str, markdown: str) -> None:
    charts = re.findall(r'<svg class="chart" role="img" aria-labelledby="([\w-]+) ([\w-]+)"', page)
    assert [c[0] for c in charts] == ["by-provider-t", "by-kind-t"]
    # web-01 has 3 violations (package, model, endpoint), the hostile host 1 (its .env; the rest are warnings)
    provider = re.search(r'<desc id="by-provider-d">(.*?)</desc>', page)
    assert provider is not None and provider.group(1) == "deepseek: 4 violation(s) on 2 host(s)"
    assert '<desc id="by-kind-d">package: 1 violation(s); model: 1 violation(s); endpoint: 2 violation(s)<' in page
    assert "| deepseek | 4 | 2 | ████████████ |" in markdown
    assert "| model | 1 | ██████ |" in markdown and "| endpoint | 2 | ████████████ |" in markdown
    assert "waived findings are not counted" in page and "waived findings are not counted" in markdown


def test_hosts_by_tag_count_each_state(page: str, markdown: str) -> None:
    finance = re.search(r"<tr><td>finance</td>(.*?)</tr>", page)
    assert finance is not None
    cells = re.findall(r'<td class="n">(.*?)</td>', finance.group(1))
    assert cells == ["3", "1", "1", "0", "1", "33%"], "web-02 compliant, web-01 not, db-01 stale"
    assert "| finance | 3 | 1 | 1 | 0 | 1 | 33% |" in markdown
    assert "| research | 2 | 1 | 0 | 1 | 0 | 50% |" in markdown
    assert "<h3>By department</h3>" in page and "### By department" in markdown


def test_the_worst_hosts_show_their_evidence_and_lineage(page: str, markdown: str) -> None:
    worst = re.findall(r'<article class="host"><h3>(.*?)</h3>', page)
    assert len(worst) == 2 and worst[0].endswith("</span> web-01"), "most violations first"
    assert worst[1].endswith("</span> &lt;script&gt;alert(1)&lt;/<wbr>script&gt;")
    assert "Package <strong>langchain-deepseek 1.1.1</strong>, found at <code>/<wbr>opt" in page
    assert "is attributed to provider deepseek (rule <code>package-listed</code>)." in page
    assert "a .env file at /home/alice/app/.env:1 sets OPENAI_BASE_URL=https://api.deepseek.com/v1." in page
    chain = re.search(r'<ol class="chain">(.*?)</ol>', page.split("web-01")[-1])
    assert chain is not None
    links = re.findall(r"<li>(.*?)</li>", chain.group(1))
    assert links[0].startswith("<code>DeepSeek-R1-Distill-Qwen-7B</code>")
    assert links[1].startswith("distilled from <code>deepseek-ai/DeepSeek-R1</code>")
    assert links[-1].startswith("provider deepseek")
    line = next(x for x in markdown.split("### web-01")[1].splitlines() if "Lineage:" in x)
    assert line.count(" → ") == 2 and "distilled from \\`deepseek-ai/DeepSeek-R1\\`" in line
    assert "3 violation(s), 0 warning(s); latest report" in markdown


def test_stale_hosts_waivers_and_lost_reports(page: str, markdown: str) -> None:
    text = text_of(page)
    assert "db-09 - never reported since it was registered" in text
    assert re.search(r"db-01 department=finance \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC 10 day\(s\)", text)
    assert "| db-09 | \\- | never reported | since it was registered |" in markdown
    expires = (date.today() + timedelta(days=10)).isoformat()
    assert f"{LINK_HOST} DeepSeek-R1-Distill-Qwen-7B SEC-1234 J. Doe, CISO {expires}" in text
    row = f"| \\[x\\](http\\://evil) \\| y | DeepSeek-R1-Distill-Qwen-7B | SEC-1234 | J. Doe, CISO | {expires} |"
    assert row in markdown
    for body in (text, markdown):
        assert "3 report(s) never reached the collector: agents had to drop them from a full spool" in body


def test_the_trend_is_an_svg_of_the_compliant_share_per_day(page: str, markdown: str) -> None:
    desc = re.search(r'<desc id="trend-d">(.*?)</desc>', page)
    assert desc is not None
    days = desc.group(1).split("; ")
    assert len(days) == 8, "db-01's day ten days ago, six days of history, today"
    assert days[0].endswith(": 1 of 1 compliant"), "db-01, ten days ago"
    assert days[1].endswith(": 0 of 2 compliant")
    assert days[-2].endswith(": 1 of 2 compliant")
    # today: web-02, web-03, the link-named host (waived) and ws-07 (incomplete, no violation); not web-01, <script>
    assert days[-1] == f"{TODAY.date()}: 3 of 6 compliant"
    assert "latest: 3 of 6, 50%" in text_of(page) and "latest: 3 of 6, 50%" in markdown
    assert f"| {TODAY.date()} | 6 | 3 | 50% | ██████ |" in markdown


def test_hostile_names_and_tags_are_only_text_in_the_html(page: str) -> None:
    parsed = Page(page)
    assert {tag for tag, _ in parsed.tags} <= ALLOWED_TAGS
    attributes = [(name, value or "") for _, attrs in parsed.tags for name, value in attrs]
    assert not [name for name, _ in attributes if name.startswith("on") or name in ("src", "href", "style")]
    assert not [value for _, value in attributes if "alert" in value or "javascript" in value.lower()]
    text = "".join(parsed.text)
    for name in (SCRIPT_HOST, IMG_TAG, LINK_HOST, LINK_TAG, "By site|x", "<b>", f"/home/a/{HOSTILE_DIR}/.env:1"):
        assert name in text, "shown, as text"
    assert (
        "&lt;script&gt;alert(1)&lt;/<wbr>script&gt;" in page and "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    )


def test_hostile_names_and_tags_cannot_make_markdown_html_links_or_table_cells(markdown: str) -> None:
    assert not re.search(r"(?<!\\)[<\[]", markdown), "every < and [ is escaped"
    assert not re.search(r"(?<!\\)://", markdown), "no bare URL that GitHub would autolink"
    markdown_it = pytest.importorskip("markdown_it")
    rendered = markdown_it.MarkdownIt("commonmark").enable("table").render(markdown)
    assert "<a " not in rendered and "<img" not in rendered and "<script" not in rendered and "<b>" not in rendered
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered and "[x](http://evil) | y" in rendered
    for table in re.findall(r"<table>.*?</table>", rendered, re.S):
        columns = len(re.findall(r"<th[ >]", table))
        rows = re.findall(r"<tr>(.*?)</tr>", table, re.S)[1:]
        assert rows and all(row.count("<td") == columns for row in rows), "a | in a name did not add a cell"


def test_the_page_loads_nothing_from_outside(page: str) -> None:
    markup = re.sub(r">[^<]*<", "><", page)  # the tags alone: the text quotes hostile names, "src=x" among them
    assert not re.search(r"\b(src|href|xlink:href|action)\s*=", markup, re.I)
    assert not re.search(r"<(link|script|img|iframe|object|embed|base)\b", markup, re.I)
    style = re.search(r"<style>(.*?)</style>", page, re.S)
    assert style is not None and page.count("<style>") == 1
    assert "url(" not in style.group(1) and "@import" not in style.group(1) and "@font-face" not in style.group(1)
    assert "default-src 'none'" in page, "and the page's Content-Security-Policy forbids it anyway"
    assert "@media print" in page and "@page" in page


def test_the_pages_name_the_policy_with_its_digest_and_list_untagged_hosts(
    summary: dict[str, Any], page: str, markdown: str
) -> None:
    (policy,) = summary["policies"]
    (default,) = policy["files"]
    assert (default["id"], policy["hosts"]) == ("default", 7), "every host that reported, judged alike"
    assert summary["untagged_hosts"] == ["db-09"], "it never reported, so it never sent a tag"
    digest = default["sha256"]
    for text in (text_of(page), markdown):
        assert f"Judged against policy default {default['version']} (sha256 {digest[:12]})." in text
        assert f"default {default['version']} (sha256 {digest}): 7 host(s)." in text
        assert "Untagged hosts (1)" in text and "db-09." in text
    banner = page[: page.index("</header>")]
    assert f"sha256 {digest[:12]}" in banner, "under the verdict, on the first page"


def test_hosts_judged_against_different_policies_are_called_out(tmp_path: Path, machine: Machine) -> None:
    write_dist_info(machine.venv("/opt/agent"), "requests", "2.32.0")
    storage = SqliteFleetStorage(tmp_path / "mixed.db")
    storage.store_report(as_host(scan(machine), "web-01", TODAY, {"site": "hq"}), stamp(NOW))
    storage.store_report(as_host(scan(machine, load_policy(["extended"])), "web-02", TODAY), stamp(NOW))
    try:
        summary = fleet_summary(storage)
    finally:
        storage.close()
    assert [p["hosts"] for p in summary["policies"]] == [1, 1] and summary["untagged_hosts"] == ["web-02"]
    for form in ("html", "markdown"):
        text = render_fleet_page(summary, form)
        assert "Hosts were judged against 2 different policies" in text
        assert "extended" in text and "Untagged hosts (1)" in text


def one_host_fleet(tmp_path: Path, machine: Machine, never_reported: str | None = None) -> dict[str, Any]:
    write_dist_info(machine.venv("/opt/agent"), "requests", "2.32.0")
    storage = SqliteFleetStorage(tmp_path / "small.db")
    storage.store_report(as_host(scan(machine), "web-01", TODAY), stamp(NOW))
    if never_reported:
        storage.add_token(never_reported, "1" * 64)
    try:
        return fleet_summary(storage)
    finally:
        storage.close()


def test_a_fleet_of_compliant_hosts_with_one_day_of_data(tmp_path: Path, machine: Machine) -> None:
    summary = one_host_fleet(tmp_path, machine)
    page, markdown = render_fleet_page(summary, "html"), render_fleet_page(summary, "markdown")
    for text in (text_of(page), markdown):
        assert "COMPLIANT" in text and "NOT COMPLIANT" not in text and "NOT CONFIRMED" not in text
        assert "1 of 1 hosts compliant" in text and "Every host reported within the last 3 day(s)." in text
        assert "No open violation on any host." in text and "No host has an open violation." in text
        assert "Reports lost" not in text, "only when some were lost"
        assert f"on {TODAY.date()} (latest: 1 of 1, 100%)" in text
    assert '<header class="verdict ok">' in page
    chart = page.split('id="trend-d"')[1].split("</svg>")[0]
    assert len(re.findall(r'<rect [^>]*fill="#067647"/>', chart)) == 1, "one bar"


def test_a_silent_host_makes_a_clean_fleet_not_confirmed(tmp_path: Path, machine: Machine) -> None:
    summary = one_host_fleet(tmp_path, machine, never_reported="db-09")
    page, markdown = render_fleet_page(summary, "html"), render_fleet_page(summary, "markdown")
    for text in (text_of(page), markdown):
        assert "NOT CONFIRMED" in text and "1 of 2 hosts compliant" in text
        assert "No host has an open violation, but not every host can be vouched for" in text
        assert "A silent host is not a compliant host." in text
    assert '<header class="verdict partial">' in page


def test_an_empty_fleet_has_no_trend_and_confirms_nothing(tmp_path: Path) -> None:
    storage = SqliteFleetStorage(tmp_path / "empty.db")
    summary = fleet_summary(storage)
    storage.close()
    for form in ("html", "markdown"):
        text = render_fleet_page(summary, form)
        assert "NOT CONFIRMED" in text and "0 of 0 hosts compliant" in text
        assert "No host is known to the collector yet" in text
        assert "there is no trend to show" in text and "No host reported tags" in text


def test_the_cli_writes_the_page(fleet_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "fleet.md"
    done = run_scanner("fleet", "summary", "--db", str(fleet_db), "--format", "markdown", "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert "3 of 8 hosts compliant" in out.read_text()


def test_chromium_renders_the_page_without_errors(page: str, tmp_path: Path) -> None:
    path = tmp_path / "fleet.html"
    path.write_text(page, encoding="utf-8")
    done = run_chromium(tmp_path, path, "--dump-dom")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "NOT COMPLIANT" in done.stdout and "3 of 8 hosts compliant" in done.stdout
    assert "Compliance trend" in done.stdout
    assert not page_errors(done.stderr)
    assert {tag for tag, _ in Page(done.stdout).tags} <= ALLOWED_TAGS, "the browser built no element from a name"


@pytest.mark.slow
@pytest.mark.parametrize("paper", ["A4", "Letter"])
def test_the_printed_fleet_page_opens_with_the_verdict_and_ends_with_the_signature(
    page: str, tmp_path: Path, paper: str
) -> None:
    path = tmp_path / "fleet.html"
    path.write_text(page, encoding="utf-8")
    pages = pdf_pages(print_pdf(tmp_path, path, paper), tmp_path)
    first = pages[0]
    assert "NOT COMPLIANT" in first and "3 of 8 hosts compliant" in first
    assert "8 HOSTS 3 COMPLIANT 2 NOT COMPLIANT 1 INCOMPLETE 2 STALE" in first
    assert "Judged against policy default" in first and "Open violations by provider and kind" in first
    assert f"Page 1 of {len(pages)}" in first and len(pages) <= 4
    assert "Reviewed by (name, role)" in pages[-1] and "Signature" in pages[-1]
