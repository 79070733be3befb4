"""PostgreSQL plumbing of the PostGIS store: the engine, the read connections, migrations, error mapping.

Shared by the store and the agency database (accounts, services) when they live in PostgreSQL.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from gisportal.core.resources import resource_dir

logger = logging.getLogger(__name__)

_LOCK_KEY = 7_301_924  # advisory lock for migrations


def make_engine(url: str, prepare: bool = True) -> Engine:
    """An engine on psycopg 3 with a pre-ping pool (survives database restarts).

    The pool is fork-safe: a process forked after connecting (a gunicorn worker of a preloaded app) never
    uses the connections it inherited, which would share one socket between processes. ``prepare=False``
    (a pooler in transaction mode in between, where a prepared statement lives on a server connection the
    next transaction may not get) turns psycopg's automatic server-side prepared statements off.
    """
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    engine = sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5, pool_recycle=1800,
                              connect_args={} if prepare else {"prepare_threshold": None})

    @sa.event.listens_for(engine, "connect")
    def _remember_pid(dbapi_connection, record) -> None:  # noqa: ANN001
        record.info["pid"] = os.getpid()

    @sa.event.listens_for(engine, "checkout")
    def _refuse_inherited(dbapi_connection, record, proxy) -> None:  # noqa: ANN001
        if record.info.get("pid") != os.getpid():
            record.dbapi_connection = proxy.dbapi_connection = None  # dropped, not closed: the parent owns it
            raise sa.exc.DisconnectionError("connection inherited from the parent process")

    return engine


#: Tables whose ``geom`` column declares the instance's SRID once it is known.
GEOMETRY_TABLES = ("gp_zones", "gp_overlays", "gp_parcels")


def declare_srid(conn: Connection, srid: int) -> None:
    """Make the geometry columns declare ``srid`` (desktop GIS and ``geometry_columns`` then know the CRS).

    The columns are created without one (the CRS comes with the first data); values already carry it.
    """
    for table in GEOMETRY_TABLES:
        declared = conn.execute(sa.text("SELECT Find_SRID(current_schema()::text, CAST(:t AS text), 'geom')"),
                                {"t": table}).scalar_one()
        if declared != srid:
            conn.execute(sa.text(f"ALTER TABLE {table} ALTER COLUMN geom TYPE geometry(MultiPolygon, {int(srid)}) "
                                 f"USING ST_SetSRID(geom, {int(srid)})"))


def migrate(engine: Engine) -> None:
    """Create or upgrade the schema to the latest revision."""
    # Alembic (and its script machinery) only for PostGIS instances, once at start-up
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(resource_dir("migrations")))
    with engine.begin() as conn:
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        config.attributes["connection"] = conn
        command.upgrade(config, "heads")


#: Idle read connections a process forked after connecting inherited: kept referenced, never used nor closed
#: (closing would end the parent's sessions, whose sockets they share).
_INHERITED: list[list] = []


class ReadConnections:
    """The connections of :meth:`PostgisStore._fetch`: autocommit, one cursor each, reused last in first out.

    At most ``keep`` idle ones are kept, each renewed after ``recycle`` seconds (as the engine's pool). Per
    process: a process forked after connecting (a gunicorn worker of a preloaded app) starts afresh. This
    costs some 25 µs less a statement than a checkout from SQLAlchemy's pool (with its events and reset).
    """

    def __init__(self, connect: Any, keep: int = 5, recycle: float = 1800) -> None:
        self._connect, self._keep, self._recycle = connect, keep, recycle
        self._idle: list[tuple[psycopg.Connection, psycopg.Cursor, float]] = []
        self._pid = os.getpid()

    def get(self) -> tuple[psycopg.Connection, psycopg.Cursor, float]:
        """An idle connection, or a new one (its driver's error when the database cannot be reached)."""
        if self._pid != os.getpid():
            _INHERITED.append(self._idle)
            self._idle, self._pid = [], os.getpid()
        now = time.monotonic()
        while True:
            try:
                item = self._idle.pop()
            except IndexError:
                conn = self._connect()
                return conn, conn.cursor(), now
            if now - item[2] < self._recycle:
                return item
            item[0].close()

    def put(self, item: tuple[psycopg.Connection, psycopg.Cursor, float]) -> None:
        """Give a connection back after a statement (whether it succeeded or failed)."""
        if len(self._idle) < self._keep and self._pid == os.getpid() and not item[0].closed:
            self._idle.append(item)
        else:
            item[0].close()

    def discard(self, item: tuple[psycopg.Connection, psycopg.Cursor, float]) -> None:
        """Close a connection the server dropped, and the idle ones: after a restart they are as stale."""
        stale, self._idle = self._idle, []
        for conn, _cur, _born in [item, *stale]:
            conn.close()

    def close(self) -> None:
        stale, self._idle = self._idle, []
        for conn, _cur, _born in stale:
            conn.close()
