"""PgBouncer (Debian ``pgbouncer``) in transaction pooling mode on a loopback port, for the tests.

One bouncer fronts one server (every database name passes through to it). PgBouncer refuses to run as root:
as root it runs as the ``postgres`` system user, like the throwaway clusters of :mod:`pgcluster`.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from support.pgcluster import PgCluster, _free_port

BINARY = Path("/usr/sbin/pgbouncer")


class PgBouncer:
    """``pgbouncer -d`` in front of ``cluster``; ``url(db)`` as :meth:`PgCluster.url`, through the bouncer."""

    def __init__(self, cluster: PgCluster, pool_size: int = 20, query_wait_timeout: int = 10) -> None:
        """``query_wait_timeout``: how long a query waits for a server connection (in front of a replica, short:
        a replica that went down then fails the reads waiting for it soon, which the app makes elsewhere)."""
        if not BINARY.exists():
            raise RuntimeError("PgBouncer is not installed: run `make test` (it installs pgbouncer)")
        self.cluster = cluster
        self.root = Path(tempfile.mkdtemp(prefix="gisportal-pgbouncer-"))
        self.port = _free_port()
        (self.root / "users.txt").write_text('"postgres" ""\n')
        self.ini = self.root / "pgbouncer.ini"
        self.ini.write_text(f"""\
[databases]
* = host=127.0.0.1 port={cluster.port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir =
auth_type = trust
auth_file = {self.root / "users.txt"}
pool_mode = transaction
max_client_conn = 2000
default_pool_size = {pool_size}
server_login_retry = 1
server_connect_timeout = 3
query_wait_timeout = {query_wait_timeout}
ignore_startup_parameters = extra_float_digits,options
logfile = {self.root / "pgbouncer.log"}
pidfile = {self.root / "pgbouncer.pid"}
""")
        if os.geteuid() == 0:
            subprocess.run(["chown", "-R", "postgres:postgres", str(self.root)], check=True)
        self.start()

    def start(self) -> None:
        args = [str(BINARY), "-d", str(self.ini)]
        if os.geteuid() == 0:
            args = ["runuser", "-u", "postgres", "--", *args]
        done = subprocess.run(args, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"pgbouncer failed:\n{done.stdout}\n{done.stderr}")
        deadline = time.monotonic() + 10
        while not (self.root / "pgbouncer.pid").exists():
            if time.monotonic() > deadline:
                raise RuntimeError(f"pgbouncer did not start:\n{self.log()}")
            time.sleep(0.05)

    def log(self) -> str:
        path = self.root / "pgbouncer.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def url(self, name: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        """Stop the bouncer (SIGINT: at once), waiting until it is gone, and remove its directory."""
        try:
            pid = int((self.root / "pgbouncer.pid").read_text())
            os.kill(pid, signal.SIGINT)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                os.kill(pid, 0)
                time.sleep(0.05)
        except (FileNotFoundError, ValueError, ProcessLookupError):
            pass
        shutil.rmtree(self.root, ignore_errors=True)
