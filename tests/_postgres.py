"""A throw-away PostgreSQL server on loopback for the tests (and the cluster benchmark).

Debian's ``postgresql`` package provides the binaries; on a machine without them, as root, it is installed
with apt. ``initdb`` refuses to run as root, so the server then runs as the package's ``postgres`` user.
Durability settings are off (fsync, synchronous commit): a test database never outlives its run.

``OPENPERSONALIZE_TEST_METADATA=postgresql`` (the Makefile's second test run) puts every store the tests open
through ``store_url`` on this server: one database per data directory, as the SQLite leg has one file per
data directory, so servers restarted on the same directory find their records again.
"""

from __future__ import annotations

import atexit
import glob
import hashlib
import os
import shutil
import socket
import subprocess
import tempfile
import threading
from pathlib import Path

import psycopg

MODE_VARIABLE = "OPENPERSONALIZE_TEST_METADATA"


def postgres_leg() -> bool:
    return os.environ.get(MODE_VARIABLE, "sqlite") == "postgresql"


def store_url(data_dir: Path) -> str:
    """The metadata URL of the store under ``data_dir`` in this test run (SQLite file or PostgreSQL database)."""
    if not postgres_leg():
        return f"sqlite:///{(Path(data_dir) / 'metadata.sqlite3').resolve()}"
    name = "op_" + hashlib.sha1(str(Path(data_dir).resolve()).encode()).hexdigest()[:20]
    return shared().database(name)


def _bindir() -> Path:
    """Where pg_ctl and initdb are (Debian keeps them off PATH), installing the package when missing."""
    for _ in range(2):
        found = shutil.which("pg_ctl") or next(iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)), None)
        if found:
            return Path(found).resolve().parent
        if os.geteuid() != 0:
            break
        subprocess.run(["apt-get", "update", "-qq"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["apt-get", "install", "-y", "-qq", "postgresql"], check=True, stdout=subprocess.DEVNULL,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql) and this user cannot install it")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    """``initdb`` into a temporary directory, ``pg_ctl start`` on 127.0.0.1 and a free port; ``stop`` removes it."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="openpersonalize-pg-"))
        self.port = _free_port()
        self.bindir = _bindir()
        self._as_owner: list[str] = []
        self._created: set[str] = set()
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *command: str) -> None:
        subprocess.run([*self._as_owner, *command], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def start(self) -> PostgresServer:
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
            self._as_owner = ["runuser", "-u", "postgres", "--"]
        data = self.root / "data"
        self._run(str(self.bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--no-sync", "--no-instructions")
        options = (f"-h 127.0.0.1 -p {self.port} -k {self.root} -c fsync=off -c synchronous_commit=off "
                   "-c full_page_writes=off -c max_connections=400")
        self._run(str(self.bindir / "pg_ctl"), "-D", str(data), "-l", str(self.root / "server.log"), "-o", options,
                  "-w", "-t", "60", "start")
        return self

    def database(self, name: str) -> str:
        """The URL of database ``name``, created on first use."""
        with self._lock:
            if name not in self._created:
                with psycopg.connect(self.url, autocommit=True) as conn:
                    exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
                    if not exists:
                        # FILE_COPY (PostgreSQL 15+): copying the small template is faster than logging it.
                        strategy = " STRATEGY FILE_COPY" if conn.info.server_version >= 150000 else ""
                        conn.execute(f'CREATE DATABASE "{name}"{strategy}')
                self._created.add(name)
        return self.url.rsplit("/", 1)[0] + f"/{name}"

    def stop(self) -> None:
        if (self.root / "data" / "postmaster.pid").exists():
            subprocess.run([*self._as_owner, str(self.bindir / "pg_ctl"), "-D", str(self.root / "data"), "-m",
                            "immediate", "-w", "stop"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(self.root, ignore_errors=True)


_shared: PostgresServer | None = None
_shared_lock = threading.Lock()


def shared() -> PostgresServer:
    """One server for the whole test run, started on first use and stopped when the run ends."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = PostgresServer().start()
            atexit.register(_shared.stop)
        return _shared
