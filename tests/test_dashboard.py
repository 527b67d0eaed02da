"""The collector's dashboard over HTTP, on SQLite and PostgreSQL: signing in and out, sessions and their
cookies, CSRF and Origin checks, roles, API tokens, agent tokens, the host listing's filters and exports,
a host's page, hostile report content, and the ``scanner fleet user`` commands."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from browser import Browser
from conftest import run_scanner, write_dist_info
from starlette.testclient import TestClient
from test_fleet import Collector
from test_fleet_pages import IMG_TAG, NOW, SCRIPT_HOST, TODAY, as_host, new_machine, scan
from test_summary import HOSTILE_DIR, HOSTILE_MODEL, Page, hostile, three_kinds

from scanner.fleet.collector.accounts import hash_password, new_api_token
from scanner.fleet.collector.databases import open_fleet_storage
from scanner.fleet.collector.server import create_app
from scanner.fleet.collector.storage import STATE_CONDITIONS
from scanner.fleet.collector.tokens import new_token, token_hash
from scanner.report import Report
from scanner.vocabulary import HostState, UserRole

SITE = "https://testserver"
"""The TestClient's address: HTTPS, so that its cookie jar keeps the ``Secure`` cookies as a browser does."""
ADMIN, VIEWER = ("ada", "admin password 1"), ("vic", "viewer password 1")
FORMULA_HOST = "=HYPERLINK(1)"
PAGE_TAGS = {
    *("html", "head", "meta", "title", "style", "body", "main", "header", "section", "footer", "article", "div"),
    *("h1", "h2", "h3", "p", "span", "strong", "small", "code", "wbr", "dl", "dt", "dd", "ul", "ol", "li"),
    *("table", "thead", "tbody", "tr", "th", "td", "svg", "desc", "rect", "text", "tspan", "circle", "path"),
    *("nav", "a", "form", "input", "button", "label", "select", "option"),
}
"""What the dashboard's pages are made of: no script, no image, no frame, whatever a report says."""


@pytest.fixture(scope="module")
def scans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Report]:
    base = tmp_path_factory.mktemp("dashboard-machines")
    with pytest.MonkeyPatch.context() as patch:  # the autouse per-test fixture does not cover module scope
        patch.setenv("SCANNER_CACHE_DIR", str(base / "cache"))
        patch.setenv("SCANNER_DB", str(base / "scanner.db"))
        bad = new_machine(base, "bad")
        three_kinds(bad)
        clean = new_machine(base, "clean")
        write_dist_info(clean.venv("/opt/agent"), "requests", "2.32.0")
        return {"bad": scan(bad), "clean": scan(clean), "hostile": hostile(new_machine(base, "hostile"))}


@pytest.fixture
def fleet(fleet_db: str, scans: dict[str, Report]) -> dict[str, Any]:
    """Four hosts that reported (web-01 clean, then not compliant; web-02 compliant; a hostile one; one
    stale), one registered host named like a spreadsheet formula; an admin and a viewer; an agent token."""
    finance, research = {"department": "finance"}, {"department": "research"}
    agent = new_token()
    first = as_host(scans["clean"], "web-01", TODAY - timedelta(days=1), finance)
    latest = as_host(scans["bad"], "web-01", TODAY, finance)
    with open_fleet_storage(fleet_db) as storage:
        for report in (
            first,
            latest,
            as_host(scans["clean"], "web-02", TODAY, finance),
            as_host(scans["hostile"], SCRIPT_HOST, TODAY, {"department": IMG_TAG}),
            as_host(scans["clean"], "db-01", TODAY - timedelta(days=10), research),
        ):
            assert storage.store_report(report, NOW.strftime("%Y-%m-%dT%H:%M:%SZ"))
        storage.add_token("web-01", token_hash(agent))
        storage.add_token(FORMULA_HOST, token_hash(new_token()))
        for (name, password), role in ((ADMIN, UserRole.ADMIN), (VIEWER, UserRole.VIEWER)):
            assert storage.add_user(name, role, hash_password(password))
    return {"db": fleet_db, "agent": agent, "first": first, "latest": latest}


@pytest.fixture
def client(fleet: dict[str, Any]) -> Iterator[TestClient]:
    with TestClient(create_app(open_fleet_storage(fleet["db"])), base_url=SITE, follow_redirects=False) as made:
        yield made


def _hidden(html: str, name: str) -> str:
    found = re.search(rf'<input type="hidden" name="{name}" value="([^"]*)">', html)
    assert found, f"no {name} field on the page"
    return found.group(1)


def sign_in(client: TestClient, who: tuple[str, str], origin: str = SITE) -> Any:
    form = client.get("/signin")
    fields = {"form": _hidden(form.text, "form"), "next": "/dashboard", "name": who[0], "password": who[1]}
    return client.post("/signin", data=fields, headers={"Origin": origin})


def csrf(client: TestClient) -> str:
    return _hidden(client.get("/dashboard/hosts").text, "csrf")


def _agent_can_send(db: str, token: str) -> bool:
    with open_fleet_storage(db) as storage:
        return storage.host_of_token(token_hash(token)) is not None


def test_a_user_signs_in_and_gets_a_secure_http_only_strict_session_cookie(client: TestClient) -> None:
    assert client.get("/dashboard").headers["location"] == "/signin?next=%2Fdashboard"
    done = sign_in(client, ADMIN)
    assert (done.status_code, done.headers["location"]) == (303, "/dashboard")
    cookie = next(c for c in done.headers.get_list("set-cookie") if c.startswith("scanner_session="))
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "secure", "samesite=strict", "path=/"} <= flags, cookie
    page = client.get("/dashboard")
    assert page.status_code == 200 and "NOT COMPLIANT" in page.text and "ada (admin)" in page.text
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy and "script-src" not in policy
    assert page.headers["x-frame-options"] == "DENY" and page.headers["cache-control"] == "no-store"
    assert "<script" not in page.text


def test_a_wrong_password_is_refused_and_the_limit_holds_for_every_collector_on_the_database(
    client: TestClient, fleet: dict[str, Any]
) -> None:
    for _ in range(5):
        wrong = sign_in(client, (ADMIN[0], "not the password"))
        assert wrong.status_code == 401 and "Wrong user name or password" in wrong.text
        assert "scanner_session" not in wrong.headers.get("set-cookie", "")
    locked = sign_in(client, ADMIN)  # the right password, past the limit: not even checked
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 800
    with TestClient(create_app(open_fleet_storage(fleet["db"])), base_url=SITE, follow_redirects=False) as other:
        assert sign_in(other, ADMIN).status_code == 429, "another collector on the database counts the same failures"
        assert sign_in(other, VIEWER).status_code == 303, "another user is not locked out by ada's failures"


def test_wrong_passwords_sent_at_once_are_checked_no_more_often_than_the_limit_allows(
    fleet: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    from scanner.fleet.collector import dashboard

    checked: list[str] = []
    lock = threading.Lock()
    verify = dashboard.verify_password

    def slow_verify(password: str, stored: str | None) -> bool:
        with lock:
            checked.append(password)
        time.sleep(0.3)  # every request is under way before the first is counted
        return verify(password, stored)

    monkeypatch.setattr(dashboard, "verify_password", slow_verify)
    app = create_app(open_fleet_storage(fleet["db"]))
    clients = [TestClient(app, base_url=SITE, follow_redirects=False) for _ in range(12)]
    with ThreadPoolExecutor(len(clients)) as pool:
        answers = list(pool.map(lambda c: sign_in(c, (ADMIN[0], "not the password")).status_code, clients))
    assert len(checked) <= 5, f"{len(checked)} passwords were tried against a limit of five: {answers}"
    assert sorted(answers) == [401] * len(checked) + [429] * (len(clients) - len(checked))
    for client in clients:
        client.close()
    assert sign_in(TestClient(app, base_url=SITE, follow_redirects=False), VIEWER).status_code == 303


def test_a_tag_that_is_not_utf_8_leaves_the_listing_the_summary_and_the_exports_readable(
    client: TestClient, fleet: dict[str, Any], scans: dict[str, Report]
) -> None:
    odd = as_host(scans["clean"], "odd-01", TODAY, {"department": "fin\udcffance"})  # Python's JSON reads it
    with open_fleet_storage(fleet["db"]) as storage:
        assert storage.store_report(odd, NOW.strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert sign_in(client, VIEWER).status_code == 303
    for page in ("/dashboard", "/dashboard/hosts", "/dashboard/host?name=odd-01", "/api/v1/hosts"):
        assert client.get(page).status_code == 200, page
    for export in ("/api/v1/export/hosts.csv", "/api/v1/export/hosts.json"):
        answer = client.get(export)
        assert answer.status_code == 200 and "odd-01" in answer.text, export
    (listed,) = [h for h in client.get("/api/v1/hosts").json()["hosts"] if h["host"] == "odd-01"]
    assert listed["tags"] == {"department": "fin\udcffance"}, "read back as sent, escaped in the JSON"


def test_many_user_names_tried_from_one_address_are_rate_limited(client: TestClient) -> None:
    answers = [sign_in(client, (f"nobody-{n}", "a password 123")).status_code for n in range(21)]
    assert answers == [401] * 20 + [429]


def test_forms_without_the_sessions_token_or_from_another_origin_change_nothing(
    client: TestClient, fleet: dict[str, Any]
) -> None:
    form = client.get("/signin")
    fields = {"form": _hidden(form.text, "form"), "name": ADMIN[0], "password": ADMIN[1]}
    assert client.post("/signin", data=fields, headers={"Origin": "https://evil.example"}).status_code == 403
    assert client.post("/signin", data={**fields, "form": "forged"}, headers={"Origin": SITE}).status_code == 403
    assert sign_in(client, ADMIN).status_code == 303
    token = csrf(client)
    attempts = [
        ({"name": "web-01"}, {"Origin": SITE}),
        ({"name": "web-01", "csrf": "0" * 64}, {"Origin": SITE}),
        ({"name": "web-01", "csrf": token}, {"Origin": "https://evil.example"}),
        ({"name": "web-01", "csrf": token}, {}),
    ]
    for data, headers in attempts:
        refused = client.post("/dashboard/host/revoke", data=data, headers=headers)
        assert refused.status_code == 403, (data, headers, refused.text)
    assert _agent_can_send(fleet["db"], fleet["agent"])
    done = client.post("/dashboard/host/revoke", data={"name": "web-01", "csrf": token}, headers={"Origin": SITE})
    assert (done.status_code, done.headers["location"]) == (303, "/dashboard/host?name=web-01")
    assert not _agent_can_send(fleet["db"], fleet["agent"]), "the admin revoked the host's agent token"


def test_a_viewer_reads_every_page_but_reaches_no_admin_action(client: TestClient, fleet: dict[str, Any]) -> None:
    assert sign_in(client, VIEWER).status_code == 303
    for page in ("/dashboard", "/dashboard/hosts", "/dashboard/host?name=web-01", "/dashboard/print"):
        assert client.get(page).status_code == 200, page
    assert (
        "/dashboard/users" not in client.get("/dashboard").text
        and "Revoke" not in client.get("/dashboard/host?name=web-01").text
    )
    assert client.get("/dashboard/users").status_code == 403
    token, origin = csrf(client), {"Origin": SITE}
    assert (
        client.post("/dashboard/host/revoke", data={"name": "web-01", "csrf": token}, headers=origin).status_code == 403
    )
    assert (
        client.post("/dashboard/users/remove", data={"name": "ada", "csrf": token}, headers=origin).status_code == 403
    )
    assert _agent_can_send(fleet["db"], fleet["agent"])


def test_an_admin_removes_a_user_whose_session_ends_at_once(client: TestClient, fleet: dict[str, Any]) -> None:
    with TestClient(create_app(open_fleet_storage(fleet["db"])), base_url=SITE, follow_redirects=False) as viewer:
        assert sign_in(viewer, VIEWER).status_code == 303
        assert sign_in(client, ADMIN).status_code == 303
        users = client.get("/dashboard/users")
        assert users.status_code == 200 and "vic" in users.text
        token, origin = csrf(client), {"Origin": SITE}
        assert (
            client.post("/dashboard/users/remove", data={"name": "ada", "csrf": token}, headers=origin).status_code
            == 400
        )
        done = client.post("/dashboard/users/remove", data={"name": "vic", "csrf": token}, headers=origin)
        assert done.status_code == 303
        assert viewer.get("/dashboard").status_code == 303, "the removed user's session is gone"


def test_an_agents_token_opens_no_page_and_no_read_api(client: TestClient, fleet: dict[str, Any]) -> None:
    agent = {"Authorization": f"Bearer {fleet['agent']}"}
    for path in ("/dashboard", "/dashboard/hosts", "/dashboard/print", "/api/v1/summary", "/api/v1/hosts",
                 "/api/v1/host?name=web-01", "/api/v1/export/hosts.csv", "/api/v1/export/hosts.json"):  # fmt: skip
        answer = client.get(path, headers=agent)
        assert answer.status_code == 403, (path, answer.status_code)
        assert "web-01" not in answer.text
    assert (
        client.post("/dashboard/host/revoke", data={"name": "web-01"}, headers={**agent, "Origin": SITE}).status_code
        == 403
    )


def test_the_summary_is_made_once_a_minute_however_often_it_is_asked_for(
    client: TestClient, fleet: dict[str, Any], scans: dict[str, Report]
) -> None:
    token = new_api_token()
    with open_fleet_storage(fleet["db"]) as storage:
        assert storage.set_api_token(VIEWER[0], token_hash(token))
    bearer = {"Authorization": f"Bearer {token}"}
    first = client.get("/api/v1/summary", headers=bearer).json()
    with open_fleet_storage(fleet["db"]) as storage:
        late = as_host(scans["clean"], "web-03", TODAY, {"department": "finance"})
        assert storage.store_report(late, NOW.strftime("%Y-%m-%dT%H:%M:%SZ"))
    again = client.get("/api/v1/summary", headers=bearer).json()
    assert again == first and again["hosts"]["total"] == 5  # the same summary, its time says when it was made
    assert client.get("/api/v1/hosts", headers=bearer).json()["total"] == 6  # the host list is read each time


def test_an_api_token_reads_the_api_and_exports_and_changes_nothing(client: TestClient, fleet: dict[str, Any]) -> None:
    token = new_api_token()
    with open_fleet_storage(fleet["db"]) as storage:
        assert storage.set_api_token(VIEWER[0], token_hash(token))
    bearer = {"Authorization": f"Bearer {token}"}
    hosts = client.get("/api/v1/hosts", headers=bearer)
    assert hosts.status_code == 200 and hosts.json()["total"] == 5
    assert hosts.headers["cache-control"] == "no-store"
    assert client.get("/api/v1/summary", headers=bearer).json()["hosts"]["total"] == 5
    assert client.get("/api/v1/export/hosts.csv", headers=bearer).status_code == 200
    assert client.get("/api/v1/host?name=web-01", headers=bearer).json()["host"]["host"] == "web-01"
    assert client.get("/dashboard", headers=bearer).status_code == 403, "a token opens the API only"
    revoke = client.post("/dashboard/host/revoke", data={"name": "web-01"}, headers={**bearer, "Origin": SITE})
    assert revoke.status_code == 403
    assert client.post("/api/v1/hosts", headers=bearer).status_code == 405
    assert _agent_can_send(fleet["db"], fleet["agent"])
    assert client.get("/api/v1/hosts", headers={"Authorization": "Bearer scr_unknown"}).status_code == 401
    assert client.get("/api/v1/hosts").status_code == 401
    with open_fleet_storage(fleet["db"]) as storage:
        assert storage.set_api_token(VIEWER[0], None)
    assert client.get("/api/v1/hosts", headers=bearer).status_code == 401, "a revoked API token reads nothing"


def test_signing_out_ends_the_session_which_is_stored_only_as_a_hash(client: TestClient, fleet: dict[str, Any]) -> None:
    assert sign_in(client, ADMIN).status_code == 303
    session = client.cookies["scanner_session"]
    with open_fleet_storage(fleet["db"]) as storage:
        assert storage.session_user(token_hash(session), "2000-01-01T00:00:00Z") is not None
        assert storage.session_user(session, "2000-01-01T00:00:00Z") is None
    done = client.post("/signout", data={"csrf": csrf(client)}, headers={"Origin": SITE})
    assert (done.status_code, done.headers["location"]) == (303, "/signin")
    assert "scanner_session" not in client.cookies
    replayed = client.get("/dashboard", headers={"Cookie": f"scanner_session={session}"})
    assert replayed.status_code == 303 and replayed.headers["location"].startswith("/signin")


def test_the_host_list_is_filtered_by_state_tag_provider_and_name_and_paged(client: TestClient) -> None:
    assert sign_in(client, VIEWER).status_code == 303

    def names(query: str) -> list[str]:
        answer = client.get(f"/api/v1/hosts?{query}")
        assert answer.status_code == 200, answer.text
        return [h["host"] for h in answer.json()["hosts"]]

    assert names("state=not-compliant") == [SCRIPT_HOST, "web-01"]
    assert names("state=compliant") == ["web-02"]
    assert names("state=stale") == [FORMULA_HOST, "db-01"]
    assert names("tag=department%3Dfinance") == ["web-01", "web-02"]
    assert names("provider=deepseek") == [SCRIPT_HOST, "web-01"]
    assert names("q=WEB-") == ["web-01", "web-02"]
    assert names("q=%25") == [], "a LIKE wildcard is searched as itself"
    assert names("state=not-compliant&tag=department%3Dfinance&provider=DeepSeek&q=01") == ["web-01"]
    paged = client.get("/api/v1/hosts?per_page=2&page=2").json()
    assert (paged["total"], [h["host"] for h in paged["hosts"]]) == (5, ["db-01", "web-01"])
    for bad in ("state=happy", "tag=nokey", "page=0", "per_page=100000"):
        assert client.get(f"/api/v1/hosts?{bad}").status_code == 400, bad
    page = client.get("/dashboard/hosts?state=not-compliant&per_page=1")
    assert page.status_code == 200 and "2 host(s) match" in page.text and "page 1 of 2" in page.text
    assert 'href="/dashboard/hosts?state=not-compliant&amp;page=2&amp;per_page=1"' in page.text


def test_the_exports_list_every_matching_host_and_defuse_spreadsheet_formulas(client: TestClient) -> None:
    assert sign_in(client, VIEWER).status_code == 303
    exported = client.get("/api/v1/export/hosts.csv")
    assert exported.headers["content-disposition"] == 'attachment; filename="hosts.csv"'
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [r["host"] for r in rows] == [SCRIPT_HOST, "'" + FORMULA_HOST, "db-01", "web-01", "web-02"]
    assert {r["host"]: r["state"] for r in rows}["web-01"] == "not-compliant"
    listed = json.loads(client.get("/api/v1/export/hosts.json?tag=department%3Dfinance").text)
    assert [(h["host"], h["state"], h["tags"]) for h in listed] == [
        ("web-01", "not-compliant", {"department": "finance"}),
        ("web-02", "compliant", {"department": "finance"}),
    ]
    assert json.loads(client.get("/api/v1/export/hosts.json?q=nothing-like-this").text) == []


def test_a_host_page_shows_its_latest_report_its_history_and_what_changed(
    client: TestClient, fleet: dict[str, Any]
) -> None:
    assert sign_in(client, VIEWER).status_code == 303
    page = client.get("/dashboard/host?name=web-01").text
    first, latest = fleet["first"]["scan"]["id"], fleet["latest"]["scan"]["id"]
    assert "NOT COMPLIANT" in page and "Report history" in page
    assert f'href="/dashboard/host?name=web-01&amp;report={first}"' in page
    new = len(fleet["latest"]["findings"])
    assert f"New since the previous scan ({new})" in page and first[:8] in page
    older = client.get(f"/dashboard/host?name=web-01&report={first}").text
    assert "COMPLIANT" in older and "nothing to compare with" in older
    shown = client.get("/api/v1/host?name=web-01").json()
    assert shown["report"]["scan"]["id"] == latest and len(shown["changes"]["new"]) == new
    assert [r["id"] for r in shown["history"]] == [latest, first]
    assert client.get("/dashboard/host?name=nobody").status_code == 404


def test_the_print_view_is_the_summary_without_navigation(client: TestClient) -> None:
    assert sign_in(client, VIEWER).status_code == 303
    printed = client.get("/dashboard/print")
    assert "NOT COMPLIANT" in printed.text and "Signature" in printed.text and "@media print" in printed.text
    assert "<nav" not in printed.text and "Sign out" not in printed.text


def test_hostile_report_content_is_only_text_on_every_page(client: TestClient) -> None:
    assert sign_in(client, ADMIN).status_code == 303
    pages = ["/dashboard", "/dashboard/hosts", "/dashboard/print", "/dashboard/users",
             "/dashboard/hosts?q=%3Cscript", f"/dashboard/host?name={SCRIPT_HOST}"]  # fmt: skip
    for path in pages:
        html = client.get(path, params=None).text
        assert SCRIPT_HOST not in html and "<img" not in html and IMG_TAG not in html, path
        assert {tag for tag, _ in Page(html).tags} <= PAGE_TAGS, path
    host = client.get("/dashboard/host", params={"name": SCRIPT_HOST}).text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in host and HOSTILE_DIR not in host and HOSTILE_MODEL not in host


def test_every_host_state_has_its_sql_condition() -> None:
    assert set(STATE_CONDITIONS) == set(HostState)


def test_users_are_added_listed_given_api_tokens_and_removed_on_the_command_line(fleet_db: str, tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("long enough password\n")
    short = tmp_path / "short"
    short.write_text("short\n")
    db = ["--db", fleet_db]
    added = run_scanner("fleet", "user", "add", "alice", "--role", "admin", "--password-file", str(secret), *db)
    assert added.returncode == 0, added.stderr
    again = run_scanner("fleet", "user", "add", "alice", "--password-file", str(secret), *db)
    assert again.returncode == 2 and "already a user 'alice'" in again.stderr
    refused = run_scanner("fleet", "user", "add", "bob", "--password-file", str(short), *db)
    assert refused.returncode == 2 and "at least 12 characters" in refused.stderr
    assert run_scanner("fleet", "user", "add", "bob", "--password", "x", *db).returncode == 2, (
        "never a password in argv"
    )
    token_file = tmp_path / "alice.api-token"
    assert run_scanner("fleet", "user", "token", "alice", "-o", str(token_file), *db).returncode == 0
    unwritable = run_scanner("fleet", "user", "token", "alice", "-o", str(tmp_path / "no" / "such" / "file"), *db)
    assert unwritable.returncode == 2, "a token that cannot be given out replaces nothing"
    listed = json.loads(run_scanner("fleet", "user", "list", "-f", "json", *db).stdout)
    assert [(u["name"], u["role"], u["api_token"]) for u in listed] == [("alice", "admin", True)]
    with open_fleet_storage(fleet_db) as storage:
        account = storage.account("alice")
        assert account is not None and account.password_hash.startswith("scrypt$")
        assert "long enough password" not in account.password_hash
        user = storage.user_of_api_token(token_hash(token_file.read_text()))
        assert user is not None and user.name == "alice"
    replaced = run_scanner(
        "fleet", "user", "add", "alice", "--role", "viewer", "--password-file", str(secret), "--replace", *db
    )
    assert replaced.returncode == 0, replaced.stderr
    assert "viewer" in run_scanner("fleet", "user", "list", *db).stdout
    assert run_scanner("fleet", "user", "remove", "alice", *db).returncode == 0
    assert run_scanner("fleet", "user", "remove", "alice", *db).returncode == 2
    assert "No users yet" in run_scanner("fleet", "user", "list", *db).stdout
    with open_fleet_storage(fleet_db) as storage:
        assert storage.user_of_api_token(token_hash(token_file.read_text())) is None


def test_a_user_added_with_the_password_on_standard_input_can_sign_in(
    fleet: dict[str, Any], client: TestClient
) -> None:
    from typer.testing import CliRunner

    from scanner.cli.app import app

    done = CliRunner().invoke(
        app, ["fleet", "user", "add", "carol", "--password-file", "-", "--db", fleet["db"]], input="carol's password\n"
    )
    assert done.exit_code == 0, done.output
    assert sign_in(client, ("carol", "carol's password")).status_code == 303


@pytest.mark.slow
def test_a_person_signs_in_filters_opens_a_host_exports_csv_and_signs_out_in_chromium(
    fleet: dict[str, Any], tmp_path: Path
) -> None:
    collector = Collector(fleet["db"]).start()  # plain HTTP on 127.0.0.1, where Chromium keeps Secure cookies
    try:
        with Browser(tmp_path) as browser:
            browser.open(collector.url + "/dashboard/hosts")
            assert browser.run("location.pathname") == "/signin"
            browser.act(
                f"document.querySelector('input[name=name]').value = {json.dumps(ADMIN[0])};"
                f"document.querySelector('input[name=password]').value = {json.dumps(ADMIN[1])};"
                "document.querySelector('form.signin button').click()"
            )
            assert browser.run("location.pathname") == "/dashboard/hosts", "back where the person was going"
            (cookie,) = [c for c in browser.cookies() if c["name"] == "scanner_session"]
            assert (cookie["httpOnly"], cookie["secure"], cookie["sameSite"]) == (True, True, "Strict")
            assert "scanner_session" not in browser.run("document.cookie"), "no script can read the session"

            browser.act(
                "document.querySelector('select[name=state]').value = 'not-compliant';"
                "document.querySelector('input[name=tag]').value = 'department=finance';"
                "document.querySelector('form.filters button').click()"
            )
            listed = "[...document.querySelectorAll('table.hosts tbody tr td:first-child')].map(td => td.textContent)"
            assert browser.run(listed) == ["web-01"]
            assert "1 host(s) match" in browser.run("document.body.innerText")

            browser.act("document.querySelector('table.hosts a').click()")
            assert browser.run("new URLSearchParams(location.search).get('name')") == "web-01"
            page = browser.run("document.body.innerText")
            assert "NOT COMPLIANT" in page and "Report history" in page and "New since the previous scan" in page

            browser.open(collector.url + "/dashboard/hosts?state=not-compliant")
            saved = browser.download("document.querySelector('a[href^=\"/api/v1/export/hosts.csv\"]').click()")
            rows = list(csv.DictReader(io.StringIO(saved.read_text(encoding="utf-8"))))
            assert [(r["host"], r["state"]) for r in rows] == [
                (SCRIPT_HOST, "not-compliant"),
                ("web-01", "not-compliant"),
            ]

            browser.act("document.querySelector('nav form button').click()")
            assert browser.run("location.pathname") == "/signin"
            assert not [c for c in browser.cookies() if c["name"] == "scanner_session"]
            browser.open(collector.url + "/dashboard")
            assert browser.run("location.pathname") == "/signin", "signed out"
            assert not [line for line in browser.logged() if "Content Security Policy" in line or "Refused" in line]
    finally:
        collector.stop()


def test_a_report_that_sent_nan_is_shown_with_null_in_its_place(client: TestClient, fleet: dict[str, Any]) -> None:
    """Python's JSON writes NaN and infinities, which JSON has not: the collector stores them as sent, and
    the read API gives them as ``null`` rather than failing the page."""
    from scanner.fleet.collector.intake import read_report

    made = as_host(json.loads(json.dumps(fleet["latest"])), "nan-01", TODAY, {"department": "finance"})
    made["inventory"][0]["attributes"]["ratio"] = float("nan")
    made["inventory"][0]["attributes"]["limit"] = float("inf")
    with open_fleet_storage(fleet["db"]) as storage:
        assert storage.store_report(read_report(json.dumps(made).encode()), NOW.strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert sign_in(client, VIEWER).status_code == 303
    shown = client.get("/api/v1/host?name=nan-01")
    assert shown.status_code == 200, shown.text
    attributes = shown.json()["report"]["inventory"][0]["attributes"]
    assert (attributes["ratio"], attributes["limit"]) == (None, None)
    assert client.get("/dashboard/host?name=nan-01").status_code == 200
