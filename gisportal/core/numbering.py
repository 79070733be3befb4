"""Yearly sequences (``RC-2026-000123``, ``CMD-2026-000123`` / ``FAC-2026-000123``): one way to take the next
number, on both backends.

Inside the caller's write transaction: on PostgreSQL a transaction-scoped advisory lock, one per table,
serialises numbering; on SQLite the write transaction holds the database's write lock once it writes. The
table's unique ``(year, seq)`` constraint is the last guard: a caller retries on ``IntegrityError``.
"""

from __future__ import annotations

import zlib

import sqlalchemy as sa
from sqlalchemy.engine import Connection


def lock_key(table: sa.Table) -> int:
    """The advisory lock key of ``table``'s sequence (stable across processes and versions)."""
    return zlib.crc32(f"gisportal.core.numbering.{table.name}".encode())


def next_in_year(conn: Connection, seq: sa.Column, year: sa.Column, value: int) -> int:
    """The next number of year ``value`` in column ``seq`` (years in column ``year`` of the same table)."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(lock_key(seq.table))))
    return conn.execute(sa.select(sa.func.coalesce(sa.func.max(seq), 0) + 1).where(year == value)).scalar_one()


def yearly_number(prefix: str, year: int, seq: int) -> str:
    """``RC-2026-000123``."""
    return f"{prefix}-{year}-{seq:06d}"
