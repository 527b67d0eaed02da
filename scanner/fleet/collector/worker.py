"""What each uvicorn worker process imports (by name: workers are new interpreters, so the app and the
HTTP protocol are given to uvicorn as import strings): the app factory and the guarded protocol, both
built from the options ``server.serve`` left in the environment."""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette

from scanner.errors import StoreError
from scanner.fleet.collector.databases import open_fleet_storage
from scanner.fleet.collector.guard import connection_limit, guarded_protocol
from scanner.fleet.collector.published import Published
from scanner.fleet.collector.server import SETTINGS_VARIABLE, ServeOptions, create_app

OPTIONS = ServeOptions.from_environment()
_LIMIT = connection_limit()
Protocol = guarded_protocol(OPTIONS.header_timeout, min(OPTIONS.max_connections or _LIMIT, _LIMIT))


def app() -> Starlette:
    """This worker's collector, on its own connections to the database."""
    if not OPTIONS.db:
        raise StoreError(f"no fleet database: a collector worker is started by scanner serve (${SETTINGS_VARIABLE})")
    published = Published(Path(OPTIONS.policy_bundle)) if OPTIONS.policy_bundle else None
    return create_app(open_fleet_storage(OPTIONS.db), OPTIONS.burst, OPTIONS.rate, OPTIONS.body_timeout, published)
