"""The registry of issued notes: number, parcel, plan versions, content hash, signature, PDF.

Numbers run per year (``NRU-2026-000123``), taken through :mod:`gisportal.core.numbering` like every other yearly
sequence. The notes are an agency table (``gp_issued_notes`` on :data:`gisportal.core.agencydb.metadata`), written
through SQLAlchemy Core on either backend: ``<data_dir>/agency.sqlite`` for an embedded instance, the store's
database for a PostGIS one (revision ``0001``). An embedded instance made before this kept its notes in
``<data_dir>/registry.sqlite``: :func:`open_registry` moves them into the agency database once, unchanged.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.pool import NullPool

from gisportal.core.agencydb import AgencyDB, as_utc, metadata
from gisportal.core.numbering import next_in_year, yearly_number
from gisportal.core.settings import Settings
from gisportal.storage import open_agency
from gisportal.storage.base import Store

logger = logging.getLogger(__name__)

NUMBER_PREFIX = "NRU"
#: The file of an embedded instance's registry before it joined the agency database, and its name once moved.
LEGACY_FILE = "registry.sqlite"
LEGACY_MOVED = "registry.sqlite.migrated"
#: Tries at a number: two issuers may read the same maximum; the unique ``(year, seq)`` refuses the second one.
_ATTEMPTS = 20

issued_notes = sa.Table(
    "gp_issued_notes", metadata,
    sa.Column("number", sa.Text, primary_key=True),
    sa.Column("year", sa.Integer, nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("parcel_ref", sa.Text, nullable=False, index=True),
    sa.Column("lang", sa.Text, nullable=False),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("historical", sa.Boolean, nullable=False),
    sa.Column("plan_versions", sa.Text, nullable=False),  # JSON
    sa.Column("content_hash", sa.Text, nullable=False, index=True),
    sa.Column("payload", sa.Text, nullable=False),  # JSON, as signed
    sa.Column("key_id", sa.Text, nullable=False),
    sa.Column("signature", sa.Text, nullable=False),
    sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("pdf", sa.LargeBinary),
    sa.UniqueConstraint("year", "seq"),
    # moved between instances by copy_instance through the registry API (NoteRegistry.copy_from), not row for row
    info={"transfer": "skip"},
)

#: Every column but the PDF (read on its own), and whether there is one.
_COLUMNS = [c for c in issued_notes.c if c.name not in ("pdf", "year", "seq")]
_HAS_PDF = issued_notes.c.pdf.isnot(None).label("has_pdf")


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


def _note(m: RowMapping) -> IssuedNote:
    return IssuedNote(m["number"], m["parcel_ref"], m["lang"], m["as_of"], bool(m["historical"]),
                      json.loads(m["plan_versions"]), m["content_hash"], json.loads(m["payload"]), m["key_id"],
                      m["signature"], as_utc(m["issued_at"]), bool(m["has_pdf"]))


def _values(note: IssuedNote, pdf: bytes | None) -> dict[str, Any]:
    year, seq = (int(part) for part in note.number.split("-")[1:3])
    return {"number": note.number, "year": year, "seq": seq, "parcel_ref": note.parcel_ref, "lang": note.lang,
            "as_of": note.as_of, "historical": note.historical, "plan_versions": json.dumps(note.plan_versions),
            "content_hash": note.content_hash, "payload": json.dumps(note.payload, ensure_ascii=False),
            "key_id": note.key_id, "signature": note.signature, "issued_at": note.issued_at, "pdf": pdf}


class NoteRegistry:
    """Where issued notes are kept: the ``gp_issued_notes`` agency table, on either backend."""

    def __init__(self, db: AgencyDB) -> None:
        self.db = db

    def issue(self, payload: dict[str, Any], content_hash: str, sign: Signer) -> IssuedNote:
        """Take the next number of the year, sign, and record the note, in one transaction."""
        for attempt in range(_ATTEMPTS):
            now = datetime.now(UTC).replace(microsecond=0)
            try:
                with self.db.write() as conn:
                    seq = next_in_year(conn, issued_notes.c.seq, issued_notes.c.year, now.year)
                    number = yearly_number(NUMBER_PREFIX, now.year, seq)
                    kid, signature = sign(number, now.isoformat())
                    conn.execute(sa.insert(issued_notes).values(
                        number=number, year=now.year, seq=seq, parcel_ref=payload["parcel"]["ref"],
                        lang=payload["lang"], as_of=date.fromisoformat(payload["as_of"]),
                        historical=bool(payload["historical"]), plan_versions=json.dumps(payload["plans"]),
                        content_hash=content_hash, payload=json.dumps(payload, ensure_ascii=False), key_id=kid,
                        signature=signature, issued_at=now))
                break
            except sa.exc.IntegrityError:  # another process took the number: take the next one
                if attempt == _ATTEMPTS - 1:
                    raise
                logger.info("note number taken, retrying (%d)", attempt + 1)
        logger.info("issued %s for parcel %s", number, payload["parcel"]["ref"])
        issued = self.get(number)
        assert issued is not None
        return issued

    def insert(self, note: IssuedNote, pdf: bytes | None) -> None:
        """Store an already issued note as it is (moving an instance)."""
        with self.db.write() as conn:
            conn.execute(sa.insert(issued_notes).values(_values(note, pdf)))

    def _first(self, query: sa.Select[Any]) -> IssuedNote | None:
        with self.db.read() as conn:
            row = conn.execute(query.limit(1)).first()
        return _note(row._mapping) if row else None

    def get(self, number: str) -> IssuedNote | None:
        """The note with this number, or ``None``."""
        if "\x00" in number:  # PostgreSQL text never holds NUL: no such note (and no error from the driver)
            return None
        return self._first(sa.select(*_COLUMNS, _HAS_PDF).where(issued_notes.c.number == number))

    def find(self, content_hash: str) -> IssuedNote | None:
        """The latest note issued with this exact content (to reuse it), or ``None``."""
        if "\x00" in content_hash:
            return None
        return self._first(sa.select(*_COLUMNS, _HAS_PDF).where(issued_notes.c.content_hash == content_hash)
                           .order_by(issued_notes.c.issued_at.desc(), issued_notes.c.seq.desc()))

    def attach_pdf(self, number: str, pdf: bytes) -> bytes:
        """Store the sealed PDF of a note (first one wins); returns the stored PDF."""
        with self.db.write() as conn:
            conn.execute(sa.update(issued_notes).where(issued_notes.c.number == number,
                                                       issued_notes.c.pdf.is_(None)).values(pdf=pdf))
        return self.pdf(number) or pdf

    def pdf(self, number: str) -> bytes | None:
        """The stored PDF, if any."""
        if "\x00" in number:
            return None
        with self.db.read() as conn:
            value = conn.execute(sa.select(issued_notes.c.pdf).where(issued_notes.c.number == number)).scalar()
        return bytes(value) if value is not None else None

    def search(self, text: str = "", limit: int = 50, offset: int = 0) -> list[IssuedNote]:
        """Notes whose number or parcel reference contains ``text``, newest first."""
        if "\x00" in text:  # no number or reference holds one, and SQLite's LIKE would stop at it (match all)
            return []
        like = like_pattern(text)
        query = (sa.select(*_COLUMNS, _HAS_PDF)
                 .where(sa.or_(issued_notes.c.number.like(like, escape="\\"),
                               issued_notes.c.parcel_ref.like(like, escape="\\")))
                 .order_by(issued_notes.c.issued_at.desc(), issued_notes.c.seq.desc()).limit(limit).offset(offset))
        with self.db.read() as conn:
            return [_note(r) for r in conn.execute(query).mappings().all()]

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


def open_registry(settings: Settings, store: Store, agency: AgencyDB | None = None) -> NoteRegistry:
    """The registry of issued notes that goes with the store: in its agency tables (``agency`` when the caller
    already opened them). An embedded instance's notes kept in the old ``registry.sqlite`` are moved in first."""
    registry = NoteRegistry(agency if agency is not None else open_agency(settings, store))
    if registry.db.dialect == "sqlite":
        adopt_legacy_file(Path(settings.data_dir) / LEGACY_FILE, registry.db)
    return registry


# --- the registry file of embedded instances before issue #13 ------------------------------------------------
_legacy = sa.Table(
    "issued_notes", sa.MetaData(),
    *(sa.Column(name, sa.Text) for name in ("number", "parcel_ref", "lang", "as_of", "plan_versions",
                                            "content_hash", "payload", "key_id", "signature", "issued_at")),
    sa.Column("year", sa.Integer), sa.Column("seq", sa.Integer), sa.Column("historical", sa.Integer),
    sa.Column("pdf", sa.LargeBinary),
)


@contextlib.contextmanager
def _legacy_connection(path: Path) -> Iterator[Connection]:
    """The old file, opened without creating it (``mode=rw``) when another process already moved it away."""
    engine = sa.create_engine(f"sqlite:///file:{path}?mode=rw&uri=true", poolclass=NullPool,
                              connect_args={"timeout": 30})
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def adopt_legacy_file(path: Path, db: AgencyDB, batch: int = 500) -> int:
    """Move the notes of an old ``registry.sqlite`` into ``gp_issued_notes`` (number, content, signature, times
    and PDF unchanged; notes already there are kept), in one transaction, then rename the file to
    :data:`LEGACY_MOVED` (kept as it was, for the record). Answers how many notes were moved."""
    if not path.is_file():
        return 0
    moved = 0
    try:
        with _legacy_connection(path) as old, db.write() as conn:
            result = old.execute(sa.select(_legacy).order_by(_legacy.c.year, _legacy.c.seq))
            while chunk := result.fetchmany(batch):
                rows = [{"number": r.number, "year": r.year, "seq": r.seq, "parcel_ref": r.parcel_ref,
                         "lang": r.lang, "as_of": date.fromisoformat(r.as_of), "historical": bool(r.historical),
                         "plan_versions": r.plan_versions, "content_hash": r.content_hash, "payload": r.payload,
                         "key_id": r.key_id, "signature": r.signature,
                         "issued_at": datetime.fromisoformat(r.issued_at).astimezone(UTC), "pdf": r.pdf}
                        for r in chunk]
                conn.execute(sqlite_insert(issued_notes).on_conflict_do_nothing(), rows)
                moved += len(rows)
    except sa.exc.OperationalError:
        if path.is_file():  # not a file another process moved meanwhile
            raise
        return 0
    for suffix in ("-wal", "-shm", ""):  # its log first: the moved file stays whole
        with contextlib.suppress(FileNotFoundError):  # none left, or another process moved it first
            Path(f"{path}{suffix}").rename(path.with_name(LEGACY_MOVED + suffix))
    logger.info("%d issued note(s) moved from %s into the agency database", moved, path)
    return moved
