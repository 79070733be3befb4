"""The registry of issued notes: number, parcel, plan versions, content hash, signature, PDF.

Numbers run per year (``NRU-2026-000123``). The registry is a SQLite file in
the instance directory (write-ahead log, one transaction per issue, so two
processes never get the same number); a database backend can replace it
behind :class:`NoteRegistry`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

NUMBER_PREFIX = "NRU"


def like_pattern(text: str) -> str:
    """``%text%`` for ``LIKE … ESCAPE '\\'``, with ``%``, ``_`` and ``\\`` typed by a person matched as plain text."""
    plain = text.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{plain}%"


@dataclass(frozen=True)
class IssuedNote:
    """One issued note as recorded."""

    number: str
    parcel_ref: str
    lang: str
    as_of: date
    historical: bool
    plan_versions: list[dict[str, Any]]
    content_hash: str
    payload: dict[str, Any]
    key_id: str
    signature: str
    issued_at: datetime
    has_pdf: bool


#: Signs ``(number, issued_at iso)`` -> ``(key id, signature)``.
Signer = Callable[[str, str], tuple[str, str]]


class NoteRegistry(ABC):
    """Where issued notes are kept."""

    @abstractmethod
    def issue(self, payload: dict[str, Any], content_hash: str, sign: Signer) -> IssuedNote:
        """Allocate the next number, sign, and record the note, atomically."""

    @abstractmethod
    def get(self, number: str) -> IssuedNote | None:
        """The note with this number, or ``None``."""

    @abstractmethod
    def find(self, content_hash: str) -> IssuedNote | None:
        """The latest note issued with this exact content (to reuse it), or ``None``."""

    @abstractmethod
    def attach_pdf(self, number: str, pdf: bytes) -> bytes:
        """Store the sealed PDF of a note (first one wins); returns the stored PDF."""

    @abstractmethod
    def pdf(self, number: str) -> bytes | None:
        """The stored PDF, if any."""

    @abstractmethod
    def search(self, text: str = "", limit: int = 50, offset: int = 0) -> list[IssuedNote]:
        """Notes whose number or parcel reference contains ``text``, newest first."""

    @abstractmethod
    def insert(self, note: IssuedNote, pdf: bytes | None) -> None:
        """Store an already issued note as it is (moving an instance)."""

    def copy_from(self, other: NoteRegistry, batch: int = 500) -> int:
        """Copy every note of ``other`` (numbers, signatures and PDFs unchanged); returns the count."""
        count, offset = 0, 0
        while True:
            notes = other.search("", batch, offset)
            if not notes:
                return count
            for note in notes:
                self.insert(note, other.pdf(note.number))
            count += len(notes)
            offset += batch


_SCHEMA = """
CREATE TABLE IF NOT EXISTS issued_notes (
    number TEXT PRIMARY KEY, year INTEGER NOT NULL, seq INTEGER NOT NULL,
    parcel_ref TEXT NOT NULL, lang TEXT NOT NULL, as_of TEXT NOT NULL, historical INTEGER NOT NULL,
    plan_versions TEXT NOT NULL, content_hash TEXT NOT NULL, payload TEXT NOT NULL,
    key_id TEXT NOT NULL, signature TEXT NOT NULL, issued_at TEXT NOT NULL,
    pdf BLOB, UNIQUE (year, seq));
CREATE INDEX IF NOT EXISTS issued_notes_hash ON issued_notes (content_hash);
CREATE INDEX IF NOT EXISTS issued_notes_ref ON issued_notes (parcel_ref);
"""
_COLUMNS = ("number, parcel_ref, lang, as_of, historical, plan_versions, content_hash, payload, key_id, signature, "
            "issued_at, pdf IS NOT NULL")


def _row(row: tuple) -> IssuedNote:
    return IssuedNote(row[0], row[1], row[2], date.fromisoformat(row[3]), bool(row[4]), json.loads(row[5]), row[6],
                      json.loads(row[7]), row[8], row[9], datetime.fromisoformat(row[10]), bool(row[11]))


def _use_wal(db: sqlite3.Connection, attempts: int = 100) -> None:
    """Put the file in WAL mode (once for good). Two processes opening a new registry at once race for the
    switch, which SQLite answers "database is locked" without waiting: the loser tries again."""
    for attempt in range(attempts):
        try:
            if db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.05)


class SqliteRegistry(NoteRegistry):
    """The registry in a SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            _use_wal(db)
            db.executescript(_SCHEMA)

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            yield db
        finally:
            db.close()

    def issue(self, payload: dict[str, Any], content_hash: str, sign: Signer) -> IssuedNote:
        now = datetime.now(UTC).replace(microsecond=0)
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM issued_notes WHERE year = ?",
                                 (now.year,)).fetchone()[0]
                number = f"{NUMBER_PREFIX}-{now.year}-{seq:06d}"
                kid, signature = sign(number, now.isoformat())
                db.execute(
                    "INSERT INTO issued_notes (number, year, seq, parcel_ref, lang, as_of, historical, plan_versions,"
                    " content_hash, payload, key_id, signature, issued_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (number, now.year, seq, payload["parcel"]["ref"], payload["lang"], payload["as_of"],
                     int(payload["historical"]), json.dumps(payload["plans"]), content_hash,
                     json.dumps(payload, ensure_ascii=False), kid, signature, now.isoformat()))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        logger.info("issued %s for parcel %s", number, payload["parcel"]["ref"])
        issued = self.get(number)
        assert issued is not None
        return issued

    def insert(self, note: IssuedNote, pdf: bytes | None) -> None:
        year, seq = (int(part) for part in note.number.split("-")[1:3])
        with self._db() as db:
            db.execute(
                "INSERT INTO issued_notes (number, year, seq, parcel_ref, lang, as_of, historical, plan_versions,"
                " content_hash, payload, key_id, signature, issued_at, pdf) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (note.number, year, seq, note.parcel_ref, note.lang, note.as_of.isoformat(), int(note.historical),
                 json.dumps(note.plan_versions), note.content_hash, json.dumps(note.payload, ensure_ascii=False),
                 note.key_id, note.signature, note.issued_at.isoformat(), pdf))

    def get(self, number: str) -> IssuedNote | None:
        with self._db() as db:
            row = db.execute(f"SELECT {_COLUMNS} FROM issued_notes WHERE number = ?", (number,)).fetchone()
        return _row(row) if row else None

    def find(self, content_hash: str) -> IssuedNote | None:
        with self._db() as db:
            row = db.execute(f"SELECT {_COLUMNS} FROM issued_notes WHERE content_hash = ? ORDER BY issued_at DESC,"
                             " seq DESC LIMIT 1", (content_hash,)).fetchone()
        return _row(row) if row else None

    def attach_pdf(self, number: str, pdf: bytes) -> bytes:
        with self._db() as db:
            db.execute("UPDATE issued_notes SET pdf = ? WHERE number = ? AND pdf IS NULL", (pdf, number))
            row = db.execute("SELECT pdf FROM issued_notes WHERE number = ?", (number,)).fetchone()
        return bytes(row[0]) if row and row[0] is not None else pdf

    def pdf(self, number: str) -> bytes | None:
        with self._db() as db:
            row = db.execute("SELECT pdf FROM issued_notes WHERE number = ?", (number,)).fetchone()
        return bytes(row[0]) if row and row[0] is not None else None

    def search(self, text: str = "", limit: int = 50, offset: int = 0) -> list[IssuedNote]:
        if "\x00" in text:  # no number or reference holds one, and SQLite's LIKE would stop at it (match all)
            return []
        like = like_pattern(text)
        with self._db() as db:
            rows = db.execute(f"SELECT {_COLUMNS} FROM issued_notes WHERE number LIKE ? ESCAPE '\\' "
                              "OR parcel_ref LIKE ? ESCAPE '\\' ORDER BY issued_at DESC, seq DESC LIMIT ? OFFSET ?",
                              (like, like, limit, offset)).fetchall()
        return [_row(r) for r in rows]


class PostgresRegistry(NoteRegistry):
    """The registry in the PostGIS database (table ``gp_issued_notes``), shared by every app process."""

    def __init__(self, engine: Any) -> None:
        import sqlalchemy as sa

        self.engine = engine
        self._sa = sa

    @contextlib.contextmanager
    def _connect(self, begin: bool = False) -> Iterator[Any]:
        """A connection (in a transaction when ``begin``); an unreachable database is a 503, not a 500."""
        from gisportal.storage.postgis.db import database_errors

        with database_errors(), (self.engine.begin() if begin else self.engine.connect()) as conn:
            yield conn

    def _one(self, sql: str, **params: Any) -> IssuedNote | None:
        with self._connect() as conn:
            row = conn.execute(self._sa.text(sql), params).first()
        return _pg_row(row) if row else None

    def issue(self, payload: dict[str, Any], content_hash: str, sign: Signer) -> IssuedNote:
        now = datetime.now(UTC).replace(microsecond=0)
        text = self._sa.text
        with self._connect(begin=True) as conn:
            conn.execute(text("LOCK TABLE gp_issued_notes IN SHARE ROW EXCLUSIVE MODE"))
            seq = conn.execute(text("SELECT COALESCE(MAX(seq), 0) + 1 FROM gp_issued_notes WHERE year = :y"),
                               {"y": now.year}).scalar_one()
            number = f"{NUMBER_PREFIX}-{now.year}-{seq:06d}"
            kid, signature = sign(number, now.isoformat())
            conn.execute(text(
                "INSERT INTO gp_issued_notes (number, year, seq, parcel_ref, lang, as_of, historical, plan_versions,"
                " content_hash, payload, key_id, signature, issued_at) VALUES (:n, :y, :s, :r, :l, :a, :h, :pv, :c,"
                " :p, :k, :sig, :at)"),
                {"n": number, "y": now.year, "s": seq, "r": payload["parcel"]["ref"], "l": payload["lang"],
                 "a": date.fromisoformat(payload["as_of"]), "h": bool(payload["historical"]),
                 "pv": json.dumps(payload["plans"]), "c": content_hash, "p": json.dumps(payload, ensure_ascii=False),
                 "k": kid, "sig": signature, "at": now})
        issued = self.get(number)
        assert issued is not None
        return issued

    def insert(self, note: IssuedNote, pdf: bytes | None) -> None:
        year, seq = (int(part) for part in note.number.split("-")[1:3])
        with self._connect(begin=True) as conn:
            conn.execute(self._sa.text(
                "INSERT INTO gp_issued_notes (number, year, seq, parcel_ref, lang, as_of, historical, plan_versions,"
                " content_hash, payload, key_id, signature, issued_at, pdf) VALUES (:n, :y, :s, :r, :l, :a, :h, :pv,"
                " :c, :p, :k, :sig, :at, :pdf)"),
                {"n": note.number, "y": year, "s": seq, "r": note.parcel_ref, "l": note.lang, "a": note.as_of,
                 "h": note.historical, "pv": json.dumps(note.plan_versions), "c": note.content_hash,
                 "p": json.dumps(note.payload, ensure_ascii=False), "k": note.key_id, "sig": note.signature,
                 "at": note.issued_at, "pdf": pdf})

    def get(self, number: str) -> IssuedNote | None:
        if "\x00" in number:  # PostgreSQL text never holds NUL: no such note (and no error from the driver)
            return None
        return self._one(f"SELECT {_PG_COLUMNS} FROM gp_issued_notes WHERE number = :n", n=number)

    def find(self, content_hash: str) -> IssuedNote | None:
        return self._one(f"SELECT {_PG_COLUMNS} FROM gp_issued_notes WHERE content_hash = :c "
                         "ORDER BY issued_at DESC, seq DESC LIMIT 1", c=content_hash)

    def attach_pdf(self, number: str, pdf: bytes) -> bytes:
        with self._connect(begin=True) as conn:
            conn.execute(self._sa.text("UPDATE gp_issued_notes SET pdf = :p WHERE number = :n AND pdf IS NULL"),
                         {"p": pdf, "n": number})
        return self.pdf(number) or pdf

    def pdf(self, number: str) -> bytes | None:
        with self._connect() as conn:
            value = conn.execute(self._sa.text("SELECT pdf FROM gp_issued_notes WHERE number = :n"),
                                 {"n": number}).scalar()
        return bytes(value) if value is not None else None

    def search(self, text: str = "", limit: int = 50, offset: int = 0) -> list[IssuedNote]:
        if "\x00" in text:
            return []
        like = like_pattern(text)
        with self._connect() as conn:
            rows = conn.execute(self._sa.text(
                f"SELECT {_PG_COLUMNS} FROM gp_issued_notes WHERE number LIKE :q ESCAPE '\\' "
                "OR parcel_ref LIKE :q ESCAPE '\\' "
                "ORDER BY issued_at DESC, seq DESC LIMIT :l OFFSET :o"), {"q": like, "l": limit, "o": offset}).all()
        return [_pg_row(r) for r in rows]


_PG_COLUMNS = _COLUMNS


def _pg_row(row: tuple) -> IssuedNote:
    # issued_at back in UTC, as signed: PostgreSQL answers in the session's time zone (the server's setting).
    return IssuedNote(row[0], row[1], row[2], row[3], bool(row[4]), json.loads(row[5]), row[6], json.loads(row[7]),
                      row[8], row[9], row[10].astimezone(UTC), bool(row[11]))
