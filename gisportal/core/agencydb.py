"""The agency's own tables (accounts, audit log, upload drafts) on either backend, through SQLAlchemy Core.

Embedded instances keep them in ``<data_dir>/agency.sqlite`` (write-ahead log,
schema made with :meth:`MetaData.create_all` plus triggers); PostGIS instances
keep them in the store's database, on the store's engine, with the schema made
by the Alembic chain (revision ``0002``) that the store runs when it opens.

``gp_audit_log`` is append-only in the database itself: SQLite refuses every
``UPDATE``/``DELETE`` with ``RAISE(ABORT)`` triggers, PostgreSQL with a trigger
function (``TRUNCATE`` included), so no code path, however buggy, rewrites history.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, overload

import sqlalchemy as sa
from sqlalchemy.engine import Connection, CursorResult, Engine
from sqlalchemy.pool import NullPool

from gisportal.core.errors import StoreUnavailable

logger = logging.getLogger(__name__)

#: Name of the SQLite file of an embedded instance, in its data directory.
SQLITE_NAME = "agency.sqlite"
#: Roles, from least to most powerful: ``staff`` handles the citizen services (complaints, committee results,
#: the document library, reconciliation), ``planner`` also publishes plans and rules, ``admin`` also manages
#: accounts, fees and reads the audit log.
ROLES = ("staff", "planner", "admin")
#: Statuses of an upload draft.
DRAFT_STATUSES = ("draft", "published", "discarded")
APPEND_ONLY_MESSAGE = "gp_audit_log is append-only"

metadata = sa.MetaData()

# Integer ids everywhere: on SQLite an INTEGER PRIMARY KEY is the rowid (BIGINT would not autoincrement).
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIME = sa.DateTime(timezone=True)

users = sa.Table(
    "gp_users", metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("username", sa.Text, nullable=False, unique=True),
    sa.Column("display_name", sa.Text, nullable=False, server_default=""),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("created_at", _TIME, nullable=False),
    sa.Column("last_login_at", _TIME),
    sa.Column("failed_logins", sa.Integer, nullable=False, server_default="0"),
    # bumped to end every open session of the user (disabling, password change)
    sa.Column("session_version", sa.Integer, nullable=False, server_default="0"),
    sa.CheckConstraint("role IN ('staff', 'planner', 'admin')", name="gp_users_role"),
)

audit_log = sa.Table(
    "gp_audit_log", metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("at", _TIME, nullable=False, index=True),
    sa.Column("actor", sa.Text, index=True),
    sa.Column("action", sa.Text, nullable=False, index=True),
    sa.Column("target", sa.Text),
    sa.Column("details", sa.Text, nullable=False, server_default="{}"),
    sa.Column("ip", sa.Text),
)

drafts = sa.Table(
    "gp_drafts", metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("plan_name", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False, server_default="draft"),
    sa.Column("uploaded_by", sa.Text, nullable=False),
    sa.Column("created_at", _TIME, nullable=False),
    sa.Column("file_path", sa.Text, nullable=False),
    sa.Column("mapping", sa.Text, nullable=False, server_default="{}"),
    sa.Column("report", sa.Text, nullable=False, server_default="{}"),
    sa.Column("published_version_id", sa.Integer),
    sa.Column("approval_act", sa.Text),
    sa.Column("effective_from", sa.Date),
    sa.CheckConstraint("status IN ('draft', 'published', 'discarded')", name="gp_drafts_status"),
)

rules_catalogues = sa.Table(
    "gp_rules_catalogues", metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("effective_from", sa.Date, nullable=False),
    sa.Column("created_at", _TIME, nullable=False),
    sa.Column("created_by", sa.Text, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("note", sa.Text, nullable=False, server_default=""),
    sa.Column("document", sa.Text, nullable=False),
)

#: Modules of the citizen services that define their own tables on :data:`metadata` (imported before the
#: schema is made, so that ``create_all`` and exports see them). PostGIS gets them from their Alembic revisions.
TABLE_MODULES = (
    "gisportal.services.complaints.handling",
    "gisportal.services.committees.records",
    "gisportal.services.subscriptions",
    "gisportal.services.payments.orders",
    "gisportal.services.library.documents",
    "gisportal.note.registry",
)


def load_table_modules() -> None:
    """Import every module of :data:`TABLE_MODULES` so their tables join :data:`metadata`."""

    for name in TABLE_MODULES:
        importlib.import_module(name)


_SQLITE_TRIGGERS = [
    f"CREATE TRIGGER IF NOT EXISTS gp_audit_log_no_update BEFORE UPDATE ON gp_audit_log "
    f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}'); END",
    f"CREATE TRIGGER IF NOT EXISTS gp_audit_log_no_delete BEFORE DELETE ON gp_audit_log "
    f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}'); END",
]


def utcnow() -> datetime:
    """Now, in UTC, to the second (what the agency tables record)."""
    return datetime.now(UTC).replace(microsecond=0)


@overload
def as_utc(value: datetime) -> datetime: ...
@overload
def as_utc(value: None) -> None: ...
def as_utc(value: datetime | None) -> datetime | None:
    """A time read back from either backend, in UTC (SQLite answers naive UTC; PostgreSQL the session's zone)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def inserted_id(result: CursorResult[Any]) -> int:
    """The primary key of the row an INSERT just wrote (SQLAlchemy types it optional: None for other statements)."""
    key = result.inserted_primary_key
    if key is None:
        raise TypeError("not the result of an INSERT")
    return int(key[0])


def sqlite_engine(path: Path) -> Engine:
    """An engine on a SQLite file in WAL mode (no pool: connections are cheap and never cross a fork)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(f"sqlite:///{path}", poolclass=NullPool, connect_args={"timeout": 30})

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, record) -> None:  # noqa: ANN001
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


def create_sqlite_schema(engine: Engine) -> None:
    """Create the tables and the append-only triggers on a SQLite engine (idempotent)."""
    load_table_modules()
    _widen_roles(engine)
    with engine.begin() as conn:
        metadata.create_all(conn)
        for statement in _SQLITE_TRIGGERS:
            conn.execute(sa.text(statement))


def _widen_roles(engine: Engine) -> None:
    """An agency.sqlite made before the ``staff`` role: rebuild ``gp_users`` with the new role check (SQLite
    cannot alter a CHECK), rows and ids kept, in one transaction (PostgreSQL: Alembic revision 0009)."""
    with engine.connect() as conn:
        ddl = conn.execute(sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'gp_users'")).scalar()
    if ddl is None or "'staff'" in ddl:
        return
    with engine.begin() as conn:
        conn.execute(sa.text("PRAGMA defer_foreign_keys = ON"))
        conn.execute(sa.text("ALTER TABLE gp_users RENAME TO gp_users_before_staff"))
        for index in users.indexes:
            conn.execute(sa.text(f'DROP INDEX IF EXISTS "{index.name}"'))
        users.create(conn)
        columns = ", ".join(c.name for c in users.columns)
        conn.execute(sa.text(f"INSERT INTO gp_users ({columns}) SELECT {columns} FROM gp_users_before_staff"))
        conn.execute(sa.text("DROP TABLE gp_users_before_staff"))
    logger.info("gp_users rebuilt with the staff role")



@contextlib.contextmanager
def database_errors() -> Iterator[None]:
    """A database that cannot be reached becomes :class:`StoreUnavailable` (503); other errors pass through."""
    try:
        yield
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
        if isinstance(exc, sa.exc.DBAPIError) and not exc.connection_invalidated and "connect" not in str(exc):
            raise
        logger.warning("database unavailable: %s", str(exc).splitlines()[0])
        raise StoreUnavailable("The database is not reachable right now; please try again in a moment.") from None


class AgencyDB:
    """The agency tables on one engine; :meth:`read` and :meth:`write` give connections."""

    def __init__(self, engine: Engine, owned: bool = True) -> None:
        self.engine = engine
        self._owned = owned

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for reading; an unreachable database is a 503, not a 500."""

        with database_errors(), self.engine.connect() as conn:
            yield conn

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """A connection in one transaction: committed at the end, rolled back on any error."""

        with database_errors(), self.engine.begin() as conn:
            yield conn

    def close(self) -> None:
        """Release the connections (only when the engine is ours, not the store's)."""
        if self._owned:
            self.engine.dispose()

    def counts(self) -> dict[str, int]:
        """Rows per table (for logs and checks)."""
        with self.read() as conn:
            return {t.name[3:]: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
                    for t in (users, audit_log, drafts)}
