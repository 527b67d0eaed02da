"""A real PostgreSQL for the fleet tests: ``$SCANNER_TEST_POSTGRES`` (``.ci/run`` starts one and sets
it), else a throwaway cluster of the installed server tools in a temporary folder, else none."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

VARIABLE = "SCANNER_TEST_POSTGRES"


def server_tools() -> Path | None:
    """The folder of ``initdb`` and ``pg_ctl``: on PATH, else the newest Debian cluster tools."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(versions[-1]).parent if versions else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Cluster:
    """A throwaway cluster that is running: its URL, and its server stopped and started again on the same
    data (a database restart under a running collector)."""

    url: str
    control: list[str]
    """``pg_ctl -D DATA``, run as the cluster's user."""
    options: str
    log: Path

    def stop(self) -> None:
        subprocess.run([*self.control, "-m", "fast", "-w", "stop"], check=True, capture_output=True)

    def start(self) -> None:
        subprocess.run([*self.control, "-o", self.options, "-l", str(self.log), "-w", "start"],
                       check=True, capture_output=True)  # fmt: skip


@contextmanager
def throwaway_cluster(tools: Path) -> Iterator[Cluster]:
    """A cluster in a new temporary folder on a free port, trusting local connections, stopped and
    removed afterwards. The server refuses to run as root: then it runs as the ``postgres`` user (or
    ``nobody``), in a folder of its own (it could not enter pytest's, which is root's)."""
    folder = Path(tempfile.mkdtemp(prefix="scanner-postgres-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam("postgres").pw_name
        except KeyError:
            user = "nobody"
        as_user = ["runuser", "-u", user, "--"]
        shutil.chown(folder, user)
    data, port = folder / "data", _free_port()
    subprocess.run([*as_user, str(tools / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync"],
                   check=True, capture_output=True)  # fmt: skip
    options = f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={folder} -c fsync=off"
    cluster = Cluster(
        f"postgresql://postgres@127.0.0.1:{port}/postgres", [*as_user, str(tools / "pg_ctl"), "-D", str(data)],
        options, folder / "log",
    )  # fmt: skip
    cluster.start()
    try:
        yield cluster
    finally:
        subprocess.run([*cluster.control, "-m", "immediate", "stop"], capture_output=True, check=False)
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def fresh_database(server: str) -> Iterator[str]:
    """An empty database on ``server`` for one test; its URL. Dropped afterwards, connections or not."""
    name = "fleet_" + uuid.uuid4().hex[:12]
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"create database {name}")
    try:
        yield server.rpartition("/")[0] + "/" + name
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f"drop database if exists {name} with (force)")
