"""Where the PostGIS store's reads go: streaming replicas when they have caught up, else the primary.

Every write of the store is one transaction on the primary that bumps ``gp_meta.generation``; each process learns
of a new generation in :meth:`PostgisStore.refresh` (on the primary, at every request), together with the
primary's WAL position at that moment (``PRIMARY_LSN_SQL``), at or past the commit of that generation. A replica
serves a read only once it has replayed that far (``pg_last_wal_replay_lsn()``, asked again at most every
``PROBE_SECONDS`` while it is behind): a note, a tile or a search answered from a replica never shows a version
older than the one the process already knows of; while it lags, reads go to the primary. A replica that cannot be
reached or fails a read is left aside for ``retry_seconds`` with a warning and the read is made elsewhere; one
behind for longer than ``max_lag_seconds`` is reported once in the log. No read fails because of a replica.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
import sqlalchemy as sa

from gisportal.storage.postgis.db import ReadConnections

logger = logging.getLogger(__name__)

#: How often a replica that is behind is asked again how far it has replayed.
PROBE_SECONDS = 0.05

#: The replay position of a replica (``NULL`` on a server that is not one: its own WAL position), as a number.
REPLAY_SQL = ("SELECT pg_wal_lsn_diff(COALESCE(pg_last_wal_replay_lsn(), pg_current_wal_lsn()), '0/0')::bigint")

#: Where the primary's last WAL record ends, as a number (read beside the generation in ``refresh``): at or past
#: the commit of that generation, even when commits do not wait for the flush (``synchronous_commit = off``),
#: and reached by a replica once it has replayed that record. The insert position is where the next record
#: starts: when the last one ended a page, that is past the next page's header (24 bytes, 40 at the start of a
#: segment), a position no record ends at, which an idle replica would never be seen to reach; it is taken back
#: to the page boundary.
PRIMARY_LSN_SQL = ("(SELECT pg_wal_lsn_diff(l, '0/0')::bigint - CASE WHEN (pg_walfile_name_offset(l)).file_offset = 40 "
                   "THEN 40 WHEN pg_wal_lsn_diff(l, '0/0')::bigint % current_setting('wal_block_size')::bigint = 24 "
                   "THEN 24 ELSE 0 END FROM pg_current_wal_insert_lsn() AS l)")


def safe_url(url: str) -> str:
    """A database URL without its password (for the log)."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<unparsable database URL>"


@dataclass
class Server:
    """One database server reads may go to, with its read connections."""

    name: str
    reads: ReadConnections
    is_primary: bool = False
    replayed: int = -1  # the WAL position it had replayed when last asked
    asked_at: float = float("-inf")
    down_until: float = float("-inf")
    lag_reported: bool = False


@dataclass
class ReadRouter:
    """The primary and the replicas; :meth:`choose` picks the server of each read (round robin)."""

    primary: Server
    replicas: list[Server] = field(default_factory=list)
    max_lag_seconds: float = 5.0
    retry_seconds: float = 10.0
    needed: int = 0  # the WAL position a read must see (the primary's at the last generation seen)
    needed_since: float = 0.0
    _turn: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def build(cls, primary: Callable[[], psycopg.Connection], replicas: dict[str, Callable[[], psycopg.Connection]],
              max_lag_seconds: float, retry_seconds: float) -> ReadRouter:
        """A router over a connect function for the primary and one per replica (by name)."""
        return cls(Server("primary", ReadConnections(primary), is_primary=True),
                   [Server(name, ReadConnections(connect)) for name, connect in replicas.items()],
                   max_lag_seconds, retry_seconds)

    def require(self, lsn: int) -> None:
        """Reads from now on must see the primary's WAL up to ``lsn``."""
        if lsn > self.needed:
            self.needed, self.needed_since = lsn, time.monotonic()

    def choose(self) -> Server:
        """A replica that is up and has replayed what reads must see, else the primary."""
        if not self.replicas:
            return self.primary
        with self._lock:
            self._turn = (self._turn + 1) % len(self.replicas)
            turn = self._turn
        now = time.monotonic()
        for server in self.replicas[turn:] + self.replicas[:turn]:
            if server.down_until > now:
                continue
            if server.replayed < self.needed and now - server.asked_at >= PROBE_SECONDS:
                self._probe(server, now)
            if server.replayed >= self.needed:
                return server
            if not server.lag_reported and now - self.needed_since > self.max_lag_seconds:
                server.lag_reported = True
                logger.warning("replica %s lags more than %.1f s behind the primary: reads go elsewhere until it "
                               "catches up", server.name, self.max_lag_seconds)
        return self.primary

    def _probe(self, server: Server, now: float) -> None:
        server.asked_at = now
        try:
            item = server.reads.get()
        except psycopg.Error as exc:
            self.failed(server, exc)
            return
        try:
            item[1].execute(REPLAY_SQL)
            row = item[1].fetchone()
            if row is None:  # the query always answers one row
                raise psycopg.DataError("no replay position")
            server.replayed = int(row[0])
        except psycopg.Error as exc:
            server.reads.discard(item)
            self.failed(server, exc)
            return
        except BaseException:
            item[0].close()
            raise
        server.reads.put(item)
        if server.lag_reported and server.replayed >= self.needed:
            server.lag_reported = False
            logger.warning("replica %s has caught up with the primary", server.name)

    def failed(self, server: Server, exc: BaseException) -> None:
        """A replica could not be reached or failed a read: left aside for ``retry_seconds``."""
        server.down_until = time.monotonic() + self.retry_seconds
        server.replayed, server.asked_at = -1, float("-inf")
        server.reads.close()
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        logger.warning("replica %s skipped for %.0f s: %s", server.name, self.retry_seconds, first_line)

    def close(self) -> None:
        for server in (self.primary, *self.replicas):
            server.reads.close()


#: Seconds a replica has to accept a connection (an unreachable host must not hold a read for long).
REPLICA_CONNECT_TIMEOUT = 3


def connector(engine: sa.engine.Engine, url: str | None = None, prepare: bool = True) -> Callable[[], Any]:
    """A function opening an autocommit psycopg connection as ``engine`` would (to the replica ``url`` when
    given, with a connection timeout)."""
    target = engine.url if url is None else sa.engine.make_url(
        "postgresql+psycopg://" + url[len("postgresql://"):] if url.startswith("postgresql://") else url)
    cargs, cparams = engine.dialect.create_connect_args(target)
    if not prepare:
        cparams = {**cparams, "prepare_threshold": None}
    if url is not None:
        cparams.setdefault("connect_timeout", REPLICA_CONNECT_TIMEOUT)
    return lambda: psycopg.connect(*cargs, **cparams, autocommit=True)


def fetch_on(reads: ReadConnections, statement: str, params: dict, one: bool) -> Any:
    """One statement on a replica's connection: the row (``one``) or the rows. Its driver's errors pass:
    ``OperationalError`` (down, dropped, a recovery conflict) after dropping the connection, for the caller to
    go elsewhere; any other (the statement's own) with the connection kept."""
    item = reads.get()
    try:
        item[1].execute(statement, params)
        rows = item[1].fetchone() if one else item[1].fetchall()
    except psycopg.OperationalError:
        reads.discard(item)
        raise
    except psycopg.Error:
        reads.put(item)
        raise
    except BaseException:  # interrupted mid-statement: the connection's state is unknown
        item[0].close()
        raise
    reads.put(item)
    return rows
