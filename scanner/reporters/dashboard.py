"""The collector's dashboard pages: the fleet summary, the host listing, a host, the users, signing in.

Each page is the fleet or single-machine summary's content (``fleet_html``, ``html``) or a listing, in a
shell with the navigation and the forms; nothing on it runs (no script at all, the filters are a plain
``GET`` form), and every value that came from a report is escaped like on the summary pages. A page comes
with its one stylesheet, which the collector's Content-Security-Policy pins by its hash.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from scanner.report import FleetSummary, Report
from scanner.reporters import style
from scanner.reporters.fleet_html import fleet_main, fleet_title
from scanner.reporters.html import summary_main, summary_title
from scanner.reporters.markup import breakable, tag
from scanner.reporters.markup import escape_html as _h
from scanner.vocabulary import HostState, UserRole

STATE_LABELS: dict[HostState, str] = {
    HostState.COMPLIANT: "compliant",
    HostState.NOT_COMPLIANT: "not compliant",
    HostState.INCOMPLETE: "incomplete",
    HostState.STALE: "stale",
}
HOST_COLUMNS = ("Host", "State", "Last report", "Violations", "Warnings", "Reports", "Tags", "Agent token")
HISTORY_COLUMNS = ("Report", "Arrived", "Finished", "Verdict", "Violations", "Warnings", "Infos")


@dataclass(frozen=True)
class WebPage:
    html: str
    style: str
    """The page's one stylesheet (the Content-Security-Policy allows it by its hash)."""


@dataclass(frozen=True)
class Visitor:
    """Who is signed in: their name and role for the navigation, the session's token for the forms."""

    name: str
    role: UserRole
    csrf: str


@dataclass(frozen=True)
class HostListing:
    """One page of the host listing, and the filters that made it (as the query gives them)."""

    hosts: Sequence[Mapping[str, Any]]
    """``HostInfo.to_dict()`` with its ``state``."""
    total: int
    page: int
    per_page: int
    query: Mapping[str, str]
    """The filters given (``q``, ``state``, ``tag``, ``provider``), empty ones left out."""


def _attr(value: str) -> str:
    """An attribute's value (a token, an address, what a person typed in a filter), kept exactly: only
    escaped, never cut or masked the way shown text is (a session's token looks like a secret)."""
    return html.escape(value, quote=True)


def host_link(name: str, report_id: str | None = None) -> str:
    """The host page's address: the name goes in the query, where any character it holds stays data."""
    return "/dashboard/host?" + urlencode({"name": name, **({"report": report_id} if report_id else {})})


def _hidden(name: str, value: str) -> str:
    return f'<input type="hidden" name="{name}" value="{_attr(value)}">'


def _post_form(action: str, visitor: Visitor, fields: Mapping[str, str], button: str, cls: str = "") -> str:
    """A form that changes something: it carries the session's CSRF token."""
    hidden = _hidden("csrf", visitor.csrf) + "".join(_hidden(k, v) for k, v in fields.items())
    look = f' class="{cls}"' if cls else ""
    return f'<form method="post" action="{action}">{hidden}<button type="submit"{look}>{_h(button)}</button></form>'


def _nav(visitor: Visitor, here: str) -> str:
    links = [("/dashboard", "Summary"), ("/dashboard/hosts", "Hosts")]
    if visitor.role is UserRole.ADMIN:
        links.append(("/dashboard/users", "Users"))
    shown = "".join(f'<a href="{href}"{" class=here" if href == here else ""}>{_h(text)}</a>' for href, text in links)
    who = tag("span", f"{_h(visitor.name)} ({_h(visitor.role)})", "who")
    return f'<nav class="dash"><strong>scanner fleet</strong>{shown}{who}{_post_form("/signout", visitor, {}, "Sign out")}</nav>'


def _shell(title: str, css: str, nav: str, main: str) -> WebPage:
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_h(title)}</title><style>{css}</style></head>\n<body>{nav}<main>{main}</main></body></html>\n"
    )
    return WebPage(page, css)


def sign_in_page(form_token: str, next_url: str, message: str = "") -> WebPage:
    note = tag("p", _h(message), "message") if message else ""
    form = (
        '<form method="post" action="/signin" class="signin">'
        f"{_hidden('form', form_token)}{_hidden('next', next_url)}"
        '<label>User name <input name="name" autocomplete="username" required autofocus></label>'
        '<label>Password <input name="password" type="password" autocomplete="current-password" required></label>'
        '<button type="submit">Sign in</button></form>'
    )
    return _shell("Sign in: scanner fleet", style.FLEET + style.DASHBOARD, "", f"<h1>Sign in</h1>{note}{form}")


def message_page(visitor: Visitor | None, title: str, text: str) -> WebPage:
    nav = _nav(visitor, "") if visitor else ""
    return _shell(title, style.FLEET + style.DASHBOARD, nav, tag("h1", _h(title)) + tag("p", _h(text)))


def summary_page(visitor: Visitor, summary: FleetSummary) -> WebPage:
    tools = '<p class="tools noprint"><a href="/dashboard/print">Print view for sign-off</a></p>'
    return _shell(
        fleet_title(summary), style.FLEET + style.DASHBOARD, _nav(visitor, "/dashboard"), tools + fleet_main(summary)
    )


def _tags(tags: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(tags.items()))


def _host_row(host: Mapping[str, Any]) -> str:
    state = HostState(host["state"])
    token = "revoked" if host["revoked"] else "active" if host["has_token"] else "none"
    cells = [
        tag("td", f'<a href="{_attr(host_link(host["host"]))}">{breakable(host["host"])}</a>'),
        tag("td", _h(STATE_LABELS[state]), f"state {state}"),
        tag("td", _h(host["last_seen"] or "never"), "nowrap"),
        *(tag("td", str(host[k]), "n") for k in ("violations", "warnings", "reports")),
        tag("td", breakable(_tags(host["tags"]))),
        tag("td", token),
    ]
    return tag("tr", "".join(cells))


def _filters(query: Mapping[str, str]) -> str:
    options = '<option value="">any</option>' + "".join(
        f'<option value="{s}"{" selected" if query.get("state") == s else ""}>{_h(label)}</option>'
        for s, label in STATE_LABELS.items()
    )
    field = '<label>{label} <input name="{name}" value="{value}" placeholder="{hint}"></label>'
    return (
        '<form method="get" action="/dashboard/hosts" class="filters noprint">'
        + field.format(label="Host name contains", name="q", value=_attr(query.get("q", "")), hint="web-")
        + f'<label>State <select name="state">{options}</select></label>'
        + field.format(label="Tag", name="tag", value=_attr(query.get("tag", "")), hint="department=finance")
        + field.format(
            label="Provider with a violation", name="provider", value=_attr(query.get("provider", "")), hint="DeepSeek"
        )
        + '<button type="submit">Filter</button> <a href="/dashboard/hosts">clear</a></form>'
    )


def hosts_page(visitor: Visitor, listing: HostListing) -> WebPage:
    pages = max(1, math.ceil(listing.total / listing.per_page))
    exports = urlencode(listing.query)
    suffix = f"?{exports}" if exports else ""
    tools = (
        f'<p class="tools noprint">{listing.total} host(s) match. Export: '
        f'<a href="/api/v1/export/hosts.csv{_attr(suffix)}" download>CSV</a> '
        f'<a href="/api/v1/export/hosts.json{_attr(suffix)}" download>JSON</a></p>'
    )
    head = "".join(tag("th", _h(h)) for h in HOST_COLUMNS)
    rows = "".join(_host_row(h) for h in listing.hosts)
    table = (
        tag("table", f"<thead><tr>{head}</tr></thead><tbody>{rows}</tbody>", "hosts")
        if rows
        else "<p>No host matches.</p>"
    )

    def page_link(number: int, text: str) -> str:
        query = urlencode({**listing.query, "page": str(number), "per_page": str(listing.per_page)})
        return f'<a href="/dashboard/hosts?{_attr(query)}" rel="{"prev" if number < listing.page else "next"}">{_h(text)}</a>'

    nav = [page_link(listing.page - 1, "previous")] if listing.page > 1 else []
    nav.append(f"<span>page {listing.page} of {pages}</span>")
    nav += [page_link(listing.page + 1, "next")] if listing.page < pages else []
    main = "<h1>Hosts</h1>" + _filters(listing.query) + tools + table + tag("p", " ".join(nav), "pages noprint")
    return _shell("Hosts: scanner fleet", style.FLEET + style.DASHBOARD, _nav(visitor, "/dashboard/hosts"), main)


def _history(host: str, history: Sequence[Mapping[str, Any]], shown: str | None) -> str:
    head = "".join(tag("th", _h(h)) for h in HISTORY_COLUMNS)
    rows = ""
    for r in history:
        verdict = (
            "compliant" if r["compliant"] and r["complete"] else "not compliant" if not r["compliant"] else "incomplete"
        )
        name = _h(r["id"]) if r["id"] == shown else f'<a href="{_attr(host_link(host, r["id"]))}">{_h(r["id"])}</a>'
        cells = [name, _h(r["received"]), _h(r["finished"]), _h(verdict)]
        rows += tag(
            "tr",
            "".join(tag("td", c) for c in cells)
            + "".join(tag("td", str(r[k]), "n") for k in ("violations", "warnings", "infos")),
        )
    return tag("table", f"<thead><tr>{head}</tr></thead><tbody>{rows}</tbody>", "history")


def host_page(
    visitor: Visitor, host: Mapping[str, Any], report: Report | None, history: Sequence[Mapping[str, Any]]
) -> WebPage:
    """A host: its report (the latest, or the one chosen from its history) as the single-machine page shows
    it, with what changed since the report before it, then its history and, for an admin, its actions."""
    name = host["host"]
    state = HostState(host["state"])
    facts = tag(
        "p",
        f"State: <strong>{_h(STATE_LABELS[state])}</strong>; tags: {breakable(_tags(host['tags'])) or 'none'}; "
        f"{host['reports']} report(s) stored; {host['lost_reports']} lost from a full spool.",
    )
    admin = ""
    if visitor.role is UserRole.ADMIN and host["has_token"]:
        revoke = _post_form(
            "/dashboard/host/revoke", visitor, {"name": name}, "Revoke this host's agent token", "danger"
        )
        admin = tag(
            "div", "Admin: " + revoke + " (its agent's reports are refused until a new token is added)", "admin noprint"
        )
    top = tag("h1", breakable(name)) + facts + admin
    body = summary_main(report) if report else tag("p", "This host has sent no report.")
    history_part = (
        tag("section", tag("h2", "Report history") + _history(name, history, report["scan"]["id"] if report else None))
        if history
        else ""
    )
    title = summary_title(report) if report else f"{name}: scanner fleet"
    return _shell(title, style.SUMMARY + style.DASHBOARD, _nav(visitor, ""), top + body + history_part)


def users_page(visitor: Visitor, users: Sequence[Mapping[str, Any]]) -> WebPage:
    head = "".join(tag("th", h) for h in ("User", "Role", "Created", "API token", ""))
    rows = ""
    for user in users:
        remove = (
            ""
            if user["name"] == visitor.name
            else _post_form("/dashboard/users/remove", visitor, {"name": user["name"]}, "Remove", "danger")
        )
        cells = [
            breakable(user["name"]),
            _h(user["role"]),
            _h(user["created"]),
            "yes" if user["api_token"] else "no",
            remove,
        ]
        rows += tag("tr", "".join(tag("td", c) for c in cells))
    note = tag("p", "Users are added on the collector: scanner fleet user add NAME --role viewer|admin.")
    main = "<h1>Users</h1>" + note + tag("table", f"<thead><tr>{head}</tr></thead><tbody>{rows}</tbody>")
    return _shell("Users: scanner fleet", style.FLEET + style.DASHBOARD, _nav(visitor, "/dashboard/users"), main)
