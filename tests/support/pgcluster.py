"""A throwaway PostgreSQL + PostGIS cluster on a loopback port, for the tests.

Uses Debian's PostgreSQL 15 binaries (``postgresql-15-postgis-3``, installed by
``make test``). initdb refuses to run as root, so as root the cluster runs as
the ``postgres`` system user, in a directory under /tmp that it owns.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

BIN = Path("/usr/lib/postgresql/15/bin")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgCluster:
    """initdb + pg_ctl on a free port; ``url(db)`` for each database created.

    ``replica_of``: a streaming replica of that (running) cluster instead, made with ``pg_basebackup -R``
    (read only: the hot standby refuses writes, which its log then records).
    """

    def __init__(self, replica_of: PgCluster | None = None) -> None:
        if not (BIN / "initdb").exists():
            raise RuntimeError("PostgreSQL 15 is not installed: run `make test` (it installs postgresql-15-postgis-3)")
        self.root = Path(tempfile.mkdtemp(prefix="gisportal-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        if replica_of is None:
            self._run([str(BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync",
                       "-E", "UTF8", "--locale=C.UTF-8"])
        else:
            self._run([str(BIN / "pg_basebackup"), "-D", str(self.data), "-R", "-X", "stream", "-c", "fast",
                       "--no-sync", "-h", "127.0.0.1", "-p", str(replica_of.port), "-U", "postgres"])
        self.start()

    def _run(self, args: list[str]) -> str:
        if self._as_postgres:
            args = ["runuser", "-u", "postgres", "--", *args]
        done = subprocess.run(args, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def start(self) -> None:
        """Start (or restart) the server."""
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200 "
                   "-c wal_receiver_status_interval=1 -c hot_standby_feedback=on")
        self._run([str(BIN / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.root / "log"),
                   "-w", "start"])

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (the data stays)."""
        self._run([str(BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"])

    def psql(self, sql: str, db: str = "postgres") -> str:
        return self._run(["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", db, "-v",
                          "ON_ERROR_STOP=1", "-Atc", sql])

    def execute(self, sql: str, db: str = "postgres") -> None:
        """Run one statement outside a transaction (CREATE/DROP DATABASE), through psycopg (no subprocess)."""
        import psycopg

        with psycopg.connect(self.url(db), autocommit=True) as conn:
            conn.execute(sql)

    def create_database(self, name: str, template: str | None = None) -> str:
        """A new database with PostGIS, or a copy of ``template`` (about 0.1 s); returns its URL.

        A template may have no open session: the sessions still open on it (a store's idle pool) are closed.
        """
        if template is None:
            self.psql(f'CREATE DATABASE "{name}"')
            self.psql("CREATE EXTENSION postgis", db=name)
        else:
            self.execute(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{template}'"
                         " AND pid <> pg_backend_pid()")
            self.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop a database, closing its sessions."""
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def log(self) -> str:
        """The server's log so far."""
        return (self.root / "log").read_text(errors="replace")

    def url(self, name: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def destroy(self) -> None:
        """Stop the server and remove everything."""
        try:
            self.stop("immediate")
        except RuntimeError:
            pass
        shutil.rmtree(self.root, ignore_errors=True)
