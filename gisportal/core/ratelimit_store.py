"""A rate-limit storage for the ``limits`` library shared by every worker of one machine: a SQLite file.

``memory://`` counts per process: with 2 workers, twice the documented number of attempts got through. Redis or
memcached share counters between machines; this default (``gisportal+sqlite:///<data_dir>/ratelimit.sqlite``)
shares them between the workers of one machine with nothing more to run. Fixed windows only (the app's strategy).
"""

from __future__ import annotations

import logging
import random
import sqlite3
import time
from pathlib import Path
from typing import Any

from limits.storage import Storage

logger = logging.getLogger(__name__)

SCHEME = "gisportal+sqlite"
_SCHEMA = "CREATE TABLE IF NOT EXISTS counters (key TEXT PRIMARY KEY, count INTEGER NOT NULL, expiry REAL NOT NULL)"


def storage_uri(path: Path) -> str:
    """The storage URI of a counter file."""
    return f"{SCHEME}://{Path(path).resolve()}"


class SqliteStorage(Storage):
    """Fixed-window counters in a SQLite file (WAL; one short write transaction per hit)."""

    STORAGE_SCHEME = [SCHEME]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: Any) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.path = Path((uri or "").split("://", 1)[1])
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(_SCHEMA)
        self.path.chmod(0o600)

    @property
    def base_exceptions(self) -> type[Exception]:  # noqa: D102
        return sqlite3.Error

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=10, isolation_level=None)

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:  # noqa: D102
        now = time.time()
        db = self._connect()
        try:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute("SELECT count, expiry FROM counters WHERE key = ?", (key,)).fetchone()
            if row is None or row[1] <= now:
                count = amount
                db.execute("INSERT OR REPLACE INTO counters (key, count, expiry) VALUES (?, ?, ?)",
                           (key, count, now + expiry))
            else:
                count = row[0] + amount
                db.execute("UPDATE counters SET count = ? WHERE key = ?", (count, key))
            if random.random() < 0.01:  # forget expired windows now and then
                db.execute("DELETE FROM counters WHERE expiry <= ?", (now,))
            db.execute("COMMIT")
            return count
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        finally:
            db.close()

    def _row(self, key: str) -> tuple[int, float] | None:
        with self._connect() as db:
            row = db.execute("SELECT count, expiry FROM counters WHERE key = ?", (key,)).fetchone()
        return row if row is not None and row[1] > time.time() else None

    def get(self, key: str) -> int:  # noqa: D102
        row = self._row(key)
        return row[0] if row else 0

    def get_expiry(self, key: str) -> float:  # noqa: D102
        row = self._row(key)
        return row[1] if row else time.time()

    def check(self) -> bool:  # noqa: D102
        try:
            self.get("__check__")
            return True
        except sqlite3.Error:
            return False

    def reset(self) -> int | None:  # noqa: D102
        with self._connect() as db:
            return db.execute("DELETE FROM counters").rowcount

    def clear(self, key: str) -> None:  # noqa: D102
        with self._connect() as db:
            db.execute("DELETE FROM counters WHERE key = ?", (key,))
