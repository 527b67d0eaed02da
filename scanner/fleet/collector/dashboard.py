"""The dashboard the collector serves: pages for people, and a read API for their scripts.

Who may do what:

- A person signs in with a user name and password (``/signin``; users are made with ``scanner fleet user
  add``) and gets a session cookie (``HttpOnly; Secure; SameSite=Strict``), its id stored hashed with an
  expiry. Failed sign-ins are limited per user name and per client address (``accounts.PER_USER``, ``accounts.PER_ADDRESS``),
  counted in the database; past a limit the password is not even checked.
- Every form that changes something is a ``POST`` with the session's CSRF token and the page's own
  ``Origin`` (sign-in, before there is a session, pairs a random cookie with its form field instead).
- A ``viewer`` reads every page; an ``admin`` also revokes a host's agent token and removes users.
- A script reads ``GET /api/v1/...`` with a read-only API token (``Authorization: Bearer scr_...``); a token
  never opens a page or changes anything. An agent's token only sends reports: here it gets ``403``.

Every response carries a Content-Security-Policy that lets nothing run and nothing load (no script at all:
the filters are a plain ``GET`` form; the page's one stylesheet pinned by its hash), may not be framed, and
is never cached. Everything a report says is escaped by the pages (``scanner.reporters.dashboard``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from scanner.changes import compare
from scanner.errors import StoreError
from scanner.fleet.collector.accounts import (
    PER_ADDRESS,
    PER_USER,
    csrf_token,
    new_secret,
    sign_in_wait,
    verify_password,
)
from scanner.fleet.collector.published import Published
from scanner.fleet.collector.storage import FleetStorage, HostFilter, HostInfo, UserInfo
from scanner.fleet.collector.summary import STALE_AFTER_DAYS, fleet_summary, host_state
from scanner.fleet.collector.tokens import token_hash
from scanner.printable import json_printable
from scanner.report import FleetSummary, utc_now
from scanner.reporters.csv import hosts_csv
from scanner.reporters.dashboard import (
    HostListing,
    Visitor,
    WebPage,
    host_link,
    host_page,
    hosts_page,
    message_page,
    sign_in_page,
    summary_page,
    users_page,
)
from scanner.reporters.fleet_html import FleetHtmlReporter
from scanner.reporters.style import FLEET
from scanner.vocabulary import HostState, UserRole

SESSION_COOKIE = "scanner_session"
SIGN_IN_COOKIE = "scanner_signin"
"""The sign-in form's own token (there is no session yet to derive one from)."""
SESSION_HOURS = 12
PER_PAGE = 50
PER_PAGE_MOST = 500
EXPORT_CHUNK = 1000
"""Hosts read at a time by an export, which streams: 100,000 hosts are never held at once."""
HISTORY_SHOWN = 50
MAX_FORM = 16 * 1024
MAX_QUERY_VALUE = 256
_FILTERS = ("q", "state", "tag", "provider")
_FORM_TYPE = "application/x-www-form-urlencoded"


class Refused(Exception):
    """A request that stops here, with the response that says why."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


@dataclass(frozen=True)
class Caller:
    """Who sent a request: a signed-in person (``session``: their session id) or a script's API token."""

    user: UserInfo
    session: str | None

    def visitor(self) -> Visitor:
        return Visitor(self.user.name, self.user.role, csrf_token(self.session or ""))


def security_headers(style: str | None = None) -> dict[str, str]:
    """What every dashboard and read-API response carries: nothing runs or loads but the page's own
    stylesheet, no framing, no caching of what only a signed-in person may see."""
    policy = "default-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    if style is not None:
        policy += f"; style-src 'sha256-{base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()}'"
    return {
        "Content-Security-Policy": policy,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        # same-origin, not no-referrer: with no-referrer a browser sends "Origin: null" on a form's POST
        "Referrer-Policy": "same-origin",
        "Cache-Control": "no-store",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cross-Origin-Resource-Policy": "same-origin",
    }


def _page(page: WebPage, status: int = 200, **headers: str) -> HTMLResponse:
    return HTMLResponse(page.html, status_code=status, headers={**security_headers(page.style), **headers})


class _PrintableJSON(JSONResponse):
    """JSON whose strings may hold what a report sent: a lone surrogate (a path that is not UTF-8), which
    Starlette's own rendering cannot encode, is written as JSON's ``\\uNNNN`` escape, as the reporters do;
    a NaN or an infinity a report sent (Python's JSON writes them, JSON has no such number) as ``null``."""

    def render(self, content: Any) -> bytes:
        try:
            text = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        except ValueError:
            text = json.dumps(_finite(content), ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        return json_printable(text).encode()


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def _json(document: Any, status: int = 200, **headers: str) -> JSONResponse:
    return _PrintableJSON(document, status_code=status, headers={**security_headers(), **headers})


def _refusal(api: bool, status: int, message: str, caller: Caller | None = None) -> Refused:
    if api:
        return Refused(_json({"error": message}, status))
    titles = {400: "Bad request", 401: "Not signed in", 403: "Forbidden", 404: "Not found", 429: "Too many tries"}
    return Refused(
        _page(message_page(caller.visitor() if caller else None, titles.get(status, "Error"), message), status)
    )


def _redirect(url: str, **headers: str) -> RedirectResponse:
    response = RedirectResponse(url, status_code=303)
    response.headers.update({**security_headers(), **headers})
    return response


def _set_cookie(response: Response, name: str, value: str, max_age: int, path: str = "/") -> None:
    """``Secure`` always: browsers keep such cookies only over HTTPS, or on localhost (127.0.0.1)."""
    response.set_cookie(name, value, max_age=max_age, path=path, secure=True, httponly=True, samesite="strict")


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _equal(given: str, expected: str) -> bool:
    """Secrets compared in constant time; an empty one never matches."""
    return bool(expected) and hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8", "replace"))


def _same_origin(request: Request) -> bool:
    """The form was posted from one of this site's pages (the browser says where from in ``Origin``)."""
    origin = request.headers.get("origin", "")
    return _equal(origin, f"{request.url.scheme}://{request.url.netloc}")


async def _form(request: Request) -> dict[str, str]:
    """A posted form's fields (the first value of each), after its origin, type and size are checked."""
    if not _same_origin(request):
        raise _refusal(False, 403, "This form was not sent from this site's own page (Origin).")
    if request.headers.get("content-type", "").partition(";")[0].strip().lower() != _FORM_TYPE:
        raise _refusal(False, 400, f"A form is sent as {_FORM_TYPE}.")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            raise _refusal(False, 400, "This form is too large.")
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=16)
    return {key: values[0] for key, values in fields.items()}


def _query_filter(request: Request, api: bool) -> tuple[HostFilter, dict[str, str]]:
    """The host filter a query asks for, and its filters as given (empty ones left out)."""
    given = {key: request.query_params.get(key, "").strip() for key in _FILTERS}
    query = {key: value for key, value in given.items() if value}
    if any(len(value) > MAX_QUERY_VALUE for value in query.values()):
        raise _refusal(api, 400, f"A filter has at most {MAX_QUERY_VALUE} characters.")
    try:
        state = HostState(query["state"]) if "state" in query else None
    except ValueError:
        raise _refusal(api, 400, f"state is one of {', '.join(s.value for s in HostState)}.") from None
    tag = None
    if "tag" in query:
        key, equals, value = query["tag"].partition("=")
        if not equals:
            raise _refusal(api, 400, "tag is KEY=VALUE, e.g. department=finance.")
        tag = (key.strip(), value.strip())
    return HostFilter(state, tag, query.get("provider"), query.get("q")), query


def _whole(request: Request, name: str, default: int, most: int, api: bool) -> int:
    text = request.query_params.get(name, "")
    if not text:
        return default
    if not text.isdecimal() or not 1 <= int(text) <= most:
        raise _refusal(api, 400, f"{name} is a whole number from 1 to {most}.")
    return int(text)


Handler = Callable[[Request, Caller], Awaitable[Response]]


SUMMARY_FRESH = 60.0
"""Seconds a fleet summary is shown again once made: it reads every host's latest report (seconds on a
fleet of 100,000), so a page many people open, or one person reloads, must not cost that each time. Its
``generated`` time says when it was made."""


class _Summaries:
    """The latest fleet summary, made again when older than ``SUMMARY_FRESH``; one made at a time, the
    requests that arrive meanwhile wait for it rather than each making their own."""

    def __init__(self, make: Callable[[], FleetSummary]) -> None:
        self._make = make
        self._lock = threading.Lock()
        self._made: tuple[float, FleetSummary] | None = None

    def get(self) -> FleetSummary:
        with self._lock:
            if self._made is None or time.monotonic() - self._made[0] > SUMMARY_FRESH:
                self._made = (time.monotonic(), self._make())
            return self._made[1]


def dashboard_routes(
    storage: FleetStorage, stale_days: int = STALE_AFTER_DAYS, published: Published | None = None
) -> list[BaseRoute]:
    """The dashboard's pages and the read API, on ``storage``; ``published``: the collector's policy
    bundle, by which the summary tells the hosts judged by an outdated policy."""
    stale_after = timedelta(days=stale_days)

    async def store(call: Callable[..., Any], *args: Any) -> Any:
        return await run_in_threadpool(call, *args)

    summaries = _Summaries(
        lambda: fleet_summary(storage, stale_days, published=published.bundle() if published else None)
    )
    summarise = summaries.get

    async def caller_of(request: Request, api: bool) -> Caller:
        scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
        if scheme or bearer:
            if scheme.lower() != "bearer" or not bearer.strip():
                raise _refusal(api, 401, "Authorization is Bearer TOKEN (a read-only API token).")
            if await store(storage.host_of_token, token_hash(bearer)) is not None:
                raise _refusal(api, 403, "An agent's token only sends reports; it reads nothing here.")
            if not api:
                raise _refusal(api, 403, "An API token reads /api/v1 only; people sign in at /signin.")
            user = await store(storage.user_of_api_token, token_hash(bearer))
            if user is None:
                raise _refusal(api, 401, "Unknown or revoked API token.")
            return Caller(user, None)
        session = request.cookies.get(SESSION_COOKIE, "")
        user = await store(storage.session_user, token_hash(session), utc_now()) if session else None
        if user is not None:
            return Caller(user, session)
        if api:
            raise Refused(_json({"error": "sign in, or send an API token"}, 401, **{"WWW-Authenticate": "Bearer"}))
        wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise Refused(_redirect("/signin?" + f"next={quote(wanted, safe='')}"))

    def guarded(
        handler: Handler, *, api: bool = False, admin: bool = False, form: bool = False
    ) -> Callable[[Request], Awaitable[Response]]:
        """``handler`` for whoever may call it: signed in (or, for the API, with a token); an admin for an
        admin action; a form posted with the session's CSRF token from the site's own page."""

        async def endpoint(request: Request) -> Response:
            try:
                caller = await caller_of(request, api)
                if admin and caller.user.role is not UserRole.ADMIN:
                    raise _refusal(api, 403, "Only an admin may do this.", caller)
                if form:
                    if caller.session is None:
                        raise _refusal(api, 403, "Only a signed-in person may change anything.", caller)
                    fields = await _form(request)
                    if not _equal(fields.get("csrf", ""), csrf_token(caller.session)):
                        raise _refusal(
                            api, 403, "This form's token is missing or wrong: reload the page and try again.", caller
                        )
                    request.state.fields = fields
                return await handler(request, caller)
            except Refused as refused:
                return refused.response
            except StoreError as error:
                return _json({"error": f"storage unavailable: {error}"}, 503, **{"Retry-After": "60"})

        return endpoint

    def listed(host: HostInfo, now: datetime) -> dict[str, Any]:
        return {**host.to_dict(), "state": str(host_state(host, now, stale_after))}

    async def listing(request: Request, api: bool) -> HostListing:
        chosen, query = _query_filter(request, api)
        page = _whole(request, "page", 1, 1_000_000, api)
        per_page = _whole(request, "per_page", PER_PAGE, PER_PAGE_MOST, api)
        now = datetime.now(timezone.utc)
        cutoff = _stamp(now - stale_after)
        total = await store(storage.count_hosts, chosen, cutoff)
        hosts = await store(storage.find_hosts, chosen, cutoff, per_page, (page - 1) * per_page)
        return HostListing([listed(h, now) for h in hosts], total, page, per_page, query)

    async def host_view(
        request: Request, api: bool
    ) -> tuple[dict[str, Any], dict[str, Any] | None, list[dict[str, Any]]]:
        """The host, the report asked for (its latest by default) with what changed since the one before
        it, and its recent reports."""
        name = request.query_params.get("name", "")
        now = datetime.now(timezone.utc)
        found = await store(storage.find_hosts, HostFilter(name=name), _stamp(now - stale_after), 1)
        if not found:
            raise _refusal(api, 404, "There is no such host.")
        host = listed(found[0], now)
        history: list[dict[str, Any]] = await store(storage.reports, name, HISTORY_SHOWN)
        chosen = request.query_params.get("report") or host["last_report"]
        if chosen is None:
            return host, None, history
        report = await store(storage.report, name, chosen)
        if report is None:
            raise _refusal(api, 404, "This host has no such report.")
        ids = [r["id"] for r in history]
        before = ids[ids.index(chosen) + 1] if chosen in ids[:-1] else None
        previous = await store(storage.report, name, before) if before else None
        # what changed since the report the collector received before this one (not since the agent's
        # own previous scan, which may never have been delivered)
        report["changes"] = compare(previous, report) if previous else None
        return host, report, history

    # -- pages --------------------------------------------------------------------------------------
    async def home(request: Request) -> Response:
        return _redirect("/dashboard")

    async def sign_in_form(request: Request) -> Response:
        form_token = new_secret()
        nxt = request.query_params.get("next", "")
        response = _page(sign_in_page(form_token, nxt if _safe_next(nxt) else "/dashboard"))
        _set_cookie(response, SIGN_IN_COOKIE, form_token, 3600, "/signin")
        return response

    async def sign_in(request: Request) -> Response:
        try:
            fields = await _form(request)
        except Refused as refused:
            return refused.response
        if not _equal(fields.get("form", ""), request.cookies.get(SIGN_IN_COOKIE, "")):
            return _refusal(False, 403, "This sign-in form has expired: reload the page and try again.").response
        name, password = fields.get("name", ""), fields.get("password", "")
        nxt = fields.get("next", "")
        address = request.client.host if request.client else "unknown"
        keys = {PER_USER: PER_USER.key(name), PER_ADDRESS: PER_ADDRESS.key(address)}

        def check() -> tuple[float, str | None]:
            """Seconds to wait, or the new session's id (``None``: refused)."""
            now = time.time()
            wait = sign_in_wait(storage.sign_in_failures(list(keys.values())), keys, now)
            if wait:
                return wait, None
            # Counted as failed before the password is checked (a tenth of a second), and taken back if it
            # was right: sign-ins sent at once each see the others, and no more are checked than the limit.
            for limit, key in keys.items():
                storage.count_sign_in_failure(key, now, limit.window)
            counted = storage.sign_in_failures(list(keys.values()))
            others = {key: (failures - 1, since) for key, (failures, since) in counted.items()}
            wait = sign_in_wait(others, keys, now)
            if wait:
                for key in keys.values():
                    storage.forgive_sign_in_failure(key)
                return wait, None
            account = storage.account(name)
            if not verify_password(password, account.password_hash if account else None) or account is None:
                return 0.0, None
            storage.clear_sign_in_failures(keys[PER_USER])
            storage.forgive_sign_in_failure(keys[PER_ADDRESS])
            session = new_secret()
            opened = datetime.now(timezone.utc)
            expires = opened + timedelta(hours=SESSION_HOURS)
            storage.add_session(token_hash(session), account.name, _stamp(opened), _stamp(expires))
            return 0.0, session

        try:
            wait, session = await run_in_threadpool(check)
        except StoreError as error:
            return _json({"error": f"storage unavailable: {error}"}, 503, **{"Retry-After": "60"})
        if session is None:
            form_token = new_secret()
            if wait:
                message, status, extra = (
                    "Too many failed sign-ins: try again later.",
                    429,
                    {"Retry-After": str(math.ceil(wait))},
                )
            else:
                message, status, extra = "Wrong user name or password.", 401, {}
            response: Response = _page(
                sign_in_page(form_token, nxt if _safe_next(nxt) else "/dashboard", message), status, **extra
            )
            _set_cookie(response, SIGN_IN_COOKIE, form_token, 3600, "/signin")
            return response
        response = _redirect(nxt if _safe_next(nxt) else "/dashboard")
        _set_cookie(response, SESSION_COOKIE, session, SESSION_HOURS * 3600)
        response.delete_cookie(SIGN_IN_COOKIE, path="/signin", secure=True, httponly=True, samesite="strict")
        return response

    async def sign_out(request: Request, caller: Caller) -> Response:
        await store(storage.end_session, token_hash(caller.session or ""))
        response = _redirect("/signin")
        response.delete_cookie(SESSION_COOKIE, path="/", secure=True, httponly=True, samesite="strict")
        return response

    async def summary(request: Request, caller: Caller) -> Response:
        document = await store(summarise)
        return _page(summary_page(caller.visitor(), document))

    async def printed(request: Request, caller: Caller) -> Response:
        document = await store(summarise)
        return _page(WebPage(FleetHtmlReporter().render(document), FLEET))

    async def hosts(request: Request, caller: Caller) -> Response:
        return _page(hosts_page(caller.visitor(), await listing(request, False)))

    async def host(request: Request, caller: Caller) -> Response:
        shown, report, history = await host_view(request, False)
        return _page(host_page(caller.visitor(), shown, report, history))

    async def revoke(request: Request, caller: Caller) -> Response:
        name = request.state.fields.get("name", "")
        if not await store(storage.revoke_token, name):
            raise _refusal(False, 404, "There is no such host.", caller)
        return _redirect(host_link(name))

    async def users(request: Request, caller: Caller) -> Response:
        listed_users = [u.to_dict() for u in await store(storage.users)]
        return _page(users_page(caller.visitor(), listed_users))

    async def remove_user(request: Request, caller: Caller) -> Response:
        name = request.state.fields.get("name", "")
        if name == caller.user.name:
            raise _refusal(False, 400, "You cannot remove yourself; another admin can.", caller)
        if not await store(storage.remove_user, name):
            raise _refusal(False, 404, "There is no such user.", caller)
        return _redirect("/dashboard/users")

    # -- the read API -------------------------------------------------------------------------------
    async def api_summary(request: Request, caller: Caller) -> Response:
        return _json(await store(summarise))

    async def api_hosts(request: Request, caller: Caller) -> Response:
        page = await listing(request, True)
        return _json({"total": page.total, "page": page.page, "per_page": page.per_page, "hosts": list(page.hosts)})

    async def api_host(request: Request, caller: Caller) -> Response:
        shown, report, history = await host_view(request, True)
        changes = report.pop("changes", None) if report else None
        return _json({"host": shown, "report": report, "changes": changes, "history": history})

    def export(render_chunk: Callable[[list[dict[str, Any]], bool], str], media: str, end: str, name: str) -> Handler:
        async def handler(request: Request, caller: Caller) -> Response:
            chosen, _ = _query_filter(request, True)
            now = datetime.now(timezone.utc)
            cutoff = _stamp(now - stale_after)

            async def chunks() -> AsyncIterator[str]:
                after: str | None = None
                first = True
                while True:
                    found: list[HostInfo] = await store(storage.find_hosts, chosen, cutoff, EXPORT_CHUNK, 0, after)
                    if found or first:
                        yield render_chunk([listed(h, now) for h in found], first)
                    if len(found) < EXPORT_CHUNK:
                        break
                    after, first = found[-1].host, False
                yield end

            headers = {**security_headers(), "Content-Disposition": f'attachment; filename="{name}"'}
            return StreamingResponse(chunks(), media_type=media, headers=headers)

        return handler

    def json_chunk(rows: list[dict[str, Any]], first: bool) -> str:
        joined = ",\n".join(json_printable(json.dumps(row, ensure_ascii=False)) for row in rows)
        return ("[\n" if first else ",\n" if rows else "") + joined

    return [
        Route("/", home, methods=["GET"]),
        Route("/signin", sign_in_form, methods=["GET"]),
        Route("/signin", sign_in, methods=["POST"]),
        Route("/signout", guarded(sign_out, form=True), methods=["POST"]),
        Route("/dashboard", guarded(summary), methods=["GET"]),
        Route("/dashboard/print", guarded(printed), methods=["GET"]),
        Route("/dashboard/hosts", guarded(hosts), methods=["GET"]),
        Route("/dashboard/host", guarded(host), methods=["GET"]),
        Route("/dashboard/host/revoke", guarded(revoke, admin=True, form=True), methods=["POST"]),
        Route("/dashboard/users", guarded(users, admin=True), methods=["GET"]),
        Route("/dashboard/users/remove", guarded(remove_user, admin=True, form=True), methods=["POST"]),
        Route("/api/v1/summary", guarded(api_summary, api=True), methods=["GET"]),
        Route("/api/v1/hosts", guarded(api_hosts, api=True), methods=["GET"]),
        Route("/api/v1/host", guarded(api_host, api=True), methods=["GET"]),
        Route(
            "/api/v1/export/hosts.csv",
            guarded(export(hosts_csv, "text/csv; charset=utf-8", "", "hosts.csv"), api=True),
            methods=["GET"],
        ),
        Route(
            "/api/v1/export/hosts.json",
            guarded(export(json_chunk, "application/json", "\n]\n", "hosts.json"), api=True),
            methods=["GET"],
        ),
    ]


def _safe_next(url: str) -> bool:
    """Where to go after signing in: one of the dashboard's own pages, never another site."""
    return (url == "/dashboard" or url.startswith(("/dashboard/", "/dashboard?"))) and "\\" not in url
