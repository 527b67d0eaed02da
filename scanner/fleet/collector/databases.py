"""Which backend a ``--db`` names: a ``postgresql://`` (or ``postgres://``) URL is PostgreSQL, anything
else is the path of a SQLite file."""

from __future__ import annotations

from pathlib import Path

from scanner.errors import StoreError
from scanner.fleet.collector.sqlite_storage import SqliteFleetStorage
from scanner.fleet.collector.storage import FleetStorage

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres(location: str) -> bool:
    return location.startswith(POSTGRES_SCHEMES)


def open_fleet_storage(location: str) -> FleetStorage:
    """The fleet storage at ``location``, migrated; to be closed (a ``with`` block)."""
    if not is_postgres(location):
        return SqliteFleetStorage(Path(location))
    try:  # psycopg is the server extra's: an agent's install never has it, nor needs it
        from scanner.fleet.collector.postgres_storage import PostgresFleetStorage
    except ImportError as error:
        raise StoreError(
            f"a PostgreSQL fleet database needs psycopg: pip install 'scanner[server]' ({error})"
        ) from error
    return PostgresFleetStorage(location)
