"""The document library: approved plans' regulations, plan maps, laws, decrees, circulars, procedures, forms.

Staff add a file (PDF, JPEG, PNG or WebP, recognised by its content, never by its name) with its metadata;
the file is kept once under ``<library dir>/<sha256[:2]>/<sha256>.<ext>`` (outside the web root), its text
extracted (PDFs) and indexed for full-text search (:mod:`gisportal.services.library.text`): SQLite FTS5 on embedded
instances (a virtual table kept in step by triggers), a stored ``tsvector`` column with a GIN index on
PostgreSQL (revision ``0007``). A document is never deleted: a newer one may *supersede* it, and the old one
stays available, marked "superseded by ...". Every change bumps a revision counter, which lets each process
cache the regulation documents per plan (linked from the notes) and drop the cache when another one changed it.
"""

from __future__ import annotations

import hashlib
import logging
import unicodedata
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from gisportal.core.agencydb import _ID, _TIME, AgencyDB, as_utc, inserted_id, metadata, utcnow
from gisportal.core.audit import AuditLog
from gisportal.core.errors import Conflict, InvalidInput, NotFound
from gisportal.core.filetypes import DOCUMENT_TYPES, sniff_document_type
from gisportal.core.private_files import private_dir, write_private
from gisportal.services.library.text import SNIPPET_SCAN_CHARS, extract_pdf_text, index_form, query_terms

logger = logging.getLogger(__name__)

#: Kinds of document, in the order the library lists them.
KINDS = ("plan_regulation", "plan_map", "law", "decree", "circular", "procedure", "form", "publication")
#: The kind linked from the notes of the parcels of its plan (and zones).
REGULATION = "plan_regulation"
#: Accepted files: media type (as recognised from the content) -> extension on disk.
MEDIA_TYPES = DOCUMENT_TYPES
#: Normalised text indexed per document (both backends; PostgreSQL's tsvector is limited to 1 MB).
MAX_INDEXED_CHARS = 600_000

documents = sa.Table(
    "gp_library_documents", metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("kind", sa.Text, nullable=False, index=True),
    sa.Column("title_fr", sa.Text, nullable=False),
    sa.Column("title_ar", sa.Text, nullable=False),
    sa.Column("reference", sa.Text, nullable=False, server_default=""),
    sa.Column("issued_on", sa.Date),
    sa.Column("plan_name", sa.Text, index=True),
    sa.Column("zone_codes", sa.Text, nullable=False, server_default=""),  # space-separated; empty: whole plan
    sa.Column("file_sha256", sa.Text, nullable=False),
    sa.Column("media_type", sa.Text, nullable=False),
    sa.Column("file_size", sa.BigInteger, nullable=False),
    sa.Column("file_name", sa.Text, nullable=False, server_default=""),
    sa.Column("body", sa.Text, nullable=False, server_default=""),  # extracted text, as in the file
    sa.Column("search_title", sa.Text, nullable=False, server_default=""),  # normalised, for the index
    sa.Column("search_body", sa.Text, nullable=False, server_default=""),
    sa.Column("superseded_by", sa.Integer),
    sa.Column("created_at", _TIME, nullable=False),
    sa.Column("created_by", sa.Text, nullable=False),
    sa.Column("updated_at", _TIME, nullable=False),
    sa.CheckConstraint("kind IN ('" + "', '".join(KINDS) + "')", name="gp_library_documents_kind"),
)

#: One row (id 1): bumped by every change, so that other processes drop what they cached. Each instance keeps
#: its own (seeded with the schema): a transfer leaves it out, then :func:`after_transfer` bumps it.
library_state = sa.Table(
    "gp_library_state", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("revision", sa.BigInteger, nullable=False, server_default="0"),
    info={"transfer": "skip"},
)

_SQLITE_FTS = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS gp_library_fts USING fts5(search_title, search_body, "
    "content='gp_library_documents', content_rowid='id', tokenize='unicode61 remove_diacritics 2', "
    "prefix='2 3')",
    "CREATE TRIGGER IF NOT EXISTS gp_library_fts_insert AFTER INSERT ON gp_library_documents BEGIN "
    "INSERT INTO gp_library_fts(rowid, search_title, search_body) VALUES (new.id, new.search_title, "
    "new.search_body); END",
    "CREATE TRIGGER IF NOT EXISTS gp_library_fts_delete AFTER DELETE ON gp_library_documents BEGIN "
    "INSERT INTO gp_library_fts(gp_library_fts, rowid, search_title, search_body) VALUES ('delete', old.id, "
    "old.search_title, old.search_body); END",
    "CREATE TRIGGER IF NOT EXISTS gp_library_fts_update AFTER UPDATE OF search_title, search_body "
    "ON gp_library_documents BEGIN "
    "INSERT INTO gp_library_fts(gp_library_fts, rowid, search_title, search_body) VALUES ('delete', old.id, "
    "old.search_title, old.search_body); "
    "INSERT INTO gp_library_fts(rowid, search_title, search_body) VALUES (new.id, new.search_title, "
    "new.search_body); END",
]
for _statement in _SQLITE_FTS:  # with the table, on SQLite only (PostgreSQL: revision 0007)
    sa.event.listen(documents, "after_create", sa.DDL(_statement).execute_if(dialect="sqlite"))
sa.event.listen(library_state, "after_create", sa.DDL("INSERT INTO gp_library_state (id, revision) VALUES (1, 0)"))

def printable(text: str | None) -> str:
    """``text`` trimmed, without control characters (PostgreSQL refuses NUL; none belongs in a title)."""
    return "".join(c for c in (text or "") if unicodedata.category(c) != "Cc").strip()


@dataclass(frozen=True)
class DocumentMeta:
    """What staff say about a document."""

    kind: str
    title_fr: str
    title_ar: str
    reference: str = ""
    issued_on: date | None = None
    plan_name: str | None = None
    zone_codes: tuple[str, ...] = ()

    def checked(self, plans: set[str] | None = None) -> DocumentMeta:
        """The same, trimmed, or :class:`InvalidInput` naming what is wrong (``plans``: the known plan names)."""
        if self.kind not in KINDS:
            raise InvalidInput(f"Unknown kind of document '{self.kind}'. Kinds: {', '.join(KINDS)}.", field="kind")
        title_fr, title_ar = printable(self.title_fr), printable(self.title_ar)
        if not title_fr or not title_ar:
            raise InvalidInput("A document needs a title in French and in Arabic.", field="title")
        if len(title_fr) > 300 or len(title_ar) > 300 or len(self.reference or "") > 120:
            raise InvalidInput("Titles are limited to 300 characters and the reference to 120.", field="title")
        plan = printable(self.plan_name) or None
        if plan is not None and plans is not None and plan not in plans:
            raise InvalidInput(f"Unknown plan '{plan}'.", field="plan_name")
        codes = tuple(dict.fromkeys(c.strip() for c in self.zone_codes if c.strip()))
        if codes and plan is None:
            raise InvalidInput("Zone codes need the plan they belong to.", field="zone_codes")
        if any(len(c) > 20 or not c.replace("-", "").replace("_", "").isalnum() for c in codes):
            raise InvalidInput("Zone codes are short codes such as UA or UB2 (letters, digits, - and _).",
                               field="zone_codes")
        if self.kind == REGULATION and plan is None:
            raise InvalidInput("A plan regulation belongs to a plan: choose it.", field="plan_name")
        return replace(self, title_fr=title_fr, title_ar=title_ar, reference=printable(self.reference),
                       plan_name=plan, zone_codes=codes)


@dataclass(frozen=True)
class LibraryDocument:
    """A document of the library (``body``: the extracted text; in lists only what a snippet reads, or none)."""

    id: int
    kind: str
    title_fr: str
    title_ar: str
    reference: str
    issued_on: date | None
    plan_name: str | None
    zone_codes: tuple[str, ...]
    file_sha256: str
    media_type: str
    file_size: int
    file_name: str
    body: str
    superseded_by: int | None
    created_at: datetime
    created_by: str
    updated_at: datetime

    @property
    def extension(self) -> str:
        """The file's extension (from its media type)."""
        return MEDIA_TYPES[self.media_type]

    @property
    def is_pdf(self) -> bool:
        """True for a PDF (the others are images)."""
        return self.media_type == "application/pdf"

    def title(self, lang: str) -> str:
        """The title in ``lang`` (Arabic for ``ar``, French otherwise)."""
        return self.title_ar if lang == "ar" else self.title_fr


def after_transfer(db: AgencyDB) -> None:
    """After documents were copied in from another instance: rebuild the SQLite search index (PostgreSQL's
    vector is a generated column) and bump the revision, so every process reloads the notes' links."""
    with db.write() as conn:
        if db.dialect == "sqlite":
            conn.execute(sa.text("INSERT INTO gp_library_fts(gp_library_fts) VALUES ('rebuild')"))
        Library._bump(conn)


@dataclass(frozen=True)
class SearchHit:
    """A document found, with its rank (higher is better) and the normalised query terms to highlight."""

    document: LibraryDocument
    rank: float
    terms: tuple[str, ...]


def _document(row: Any) -> LibraryDocument:
    return LibraryDocument(
        row.id, row.kind, row.title_fr, row.title_ar, row.reference, row.issued_on, row.plan_name,
        tuple(row.zone_codes.split()), row.file_sha256, row.media_type, int(row.file_size), row.file_name,
        row.body, row.superseded_by, as_utc(row.created_at), row.created_by, as_utc(row.updated_at))


def _listed(body_chars: int = 0) -> list[Any]:
    """The columns of a list of documents: the text only as far as a snippet reads it (none by default)."""
    body = sa.func.substr(documents.c.body, 1, body_chars) if body_chars else sa.literal("")
    return [*(c for c in documents.c if c.name not in ("body", "search_title", "search_body")), body.label("body")]


def sniff_media_type(head: bytes) -> str:
    """The media type of a file from its first bytes, or :class:`InvalidInput` when not an accepted type."""
    media_type = sniff_document_type(head)
    if media_type is None:
        raise InvalidInput("Only PDF, JPEG, PNG and WebP files are accepted (recognised by their content).",
                           field="file")
    return media_type


class Library:
    """The documents of one instance: adding, describing, superseding, finding."""

    def __init__(self, db: AgencyDB, files_dir: Path, max_bytes: int, audit: AuditLog | None = None) -> None:
        self.db, self.files_dir, self.max_bytes = db, Path(files_dir), max_bytes
        self.audit = audit or AuditLog(db)

    # --- files -----------------------------------------------------------------------------------------
    def file_path(self, document: LibraryDocument) -> Path:
        """Where the document's file is kept."""
        digest = document.file_sha256
        return self.files_dir / digest[:2] / f"{digest}.{document.extension}"

    def _read_upload(self, data: bytes) -> tuple[bytes, str, str]:
        if not data:
            raise InvalidInput("The file is empty.", field="file")
        if len(data) > self.max_bytes:
            raise InvalidInput(f"The file is larger than the {self.max_bytes // (1024 * 1024)} MB allowed.",
                               field="file", max_bytes=self.max_bytes)
        media_type = sniff_media_type(data[:8192])
        return data, media_type, hashlib.sha256(data).hexdigest()

    # --- changes ---------------------------------------------------------------------------------------
    def add(self, data: bytes, file_name: str, meta: DocumentMeta, user: str, plans: set[str] | None = None,
            ip: str | None = None) -> LibraryDocument:
        """Check and keep a new document: metadata and file first, then the file, then one transaction."""
        meta = meta.checked(plans)
        data, media_type, digest = self._read_upload(data)
        body = extract_pdf_text(data) if media_type == "application/pdf" else ""
        path = self.files_dir / digest[:2] / f"{digest}.{MEDIA_TYPES[media_type]}"
        written = not path.exists()
        if written:
            private_dir(path.parent)
            temporary = path.with_suffix(".part")
            write_private(temporary, data)
            temporary.replace(path)
        now = utcnow()
        row = {**self._meta_row(meta), "file_sha256": digest, "media_type": media_type, "file_size": len(data),
               "file_name": Path(printable(file_name)).name[:200], "body": body,
               "search_body": index_form(body)[:MAX_INDEXED_CHARS], "created_at": now, "created_by": user,
               "updated_at": now}
        try:
            with self.db.write() as conn:
                new_id = inserted_id(conn.execute(sa.insert(documents).values(**row)))
                self._bump(conn)
                self.audit.record(user, "library.add", f"document:{new_id}",
                                  {"kind": meta.kind, "plan": meta.plan_name, "bytes": len(data)}, ip, conn=conn)
        except BaseException:
            if written:
                path.unlink(missing_ok=True)
            raise
        return self.get(new_id)

    def update(self, doc_id: int, meta: DocumentMeta, user: str, plans: set[str] | None = None,
               ip: str | None = None) -> LibraryDocument:
        """Change a document's metadata (the file and its text stay)."""
        meta = meta.checked(plans)
        with self.db.write() as conn:
            self._get(conn, doc_id)
            conn.execute(sa.update(documents).where(documents.c.id == doc_id)
                         .values(**self._meta_row(meta), updated_at=utcnow()))
            self._bump(conn)
            self.audit.record(user, "library.edit", f"document:{doc_id}", {"kind": meta.kind}, ip, conn=conn)
        return self.get(doc_id)

    def supersede(self, old_id: int, new_id: int | None, user: str, ip: str | None = None) -> LibraryDocument:
        """Mark ``old_id`` as superseded by ``new_id`` (``None``: in force again). Refuses loops."""
        with self.db.write() as conn:
            self._get(conn, old_id)
            if new_id is not None:
                if new_id == old_id:
                    raise InvalidInput("A document cannot supersede itself.", field="superseded_by")
                current, seen = self._get(conn, new_id), set()
                while current.superseded_by is not None and current.id not in seen:  # no loop back to old_id
                    if current.superseded_by == old_id:
                        raise Conflict(f"Document {new_id} is itself superseded by {old_id}: no loops.")
                    seen.add(current.id)
                    current = self._get(conn, current.superseded_by)
            conn.execute(sa.update(documents).where(documents.c.id == old_id)
                         .values(superseded_by=new_id, updated_at=utcnow()))
            self._bump(conn)
            self.audit.record(user, "library.supersede", f"document:{old_id}", {"superseded_by": new_id}, ip,
                              conn=conn)
        return self.get(old_id)

    @staticmethod
    def _meta_row(meta: DocumentMeta) -> dict[str, Any]:
        return {"kind": meta.kind, "title_fr": meta.title_fr, "title_ar": meta.title_ar,
                "reference": meta.reference, "issued_on": meta.issued_on, "plan_name": meta.plan_name,
                "zone_codes": " ".join(meta.zone_codes),
                "search_title": index_form(" ".join((meta.title_fr, meta.title_ar, meta.reference)))}

    @staticmethod
    def _bump(conn: Connection) -> None:
        done = conn.execute(sa.update(library_state).where(library_state.c.id == 1)
                            .values(revision=library_state.c.revision + 1)).rowcount
        if not done:
            conn.execute(sa.insert(library_state).values(id=1, revision=1))

    # --- reading ---------------------------------------------------------------------------------------
    def _get(self, conn: Connection, doc_id: int) -> LibraryDocument:
        row = conn.execute(sa.select(documents).where(documents.c.id == doc_id)).one_or_none()
        if row is None:
            raise NotFound(f"No document number {doc_id} in the library.")
        return _document(row)

    def get(self, doc_id: int) -> LibraryDocument:
        """One document, or :class:`NotFound`."""
        with self.db.read() as conn:
            return self._get(conn, doc_id)

    def superseded(self, doc_id: int) -> list[LibraryDocument]:
        """The documents ``doc_id`` superseded."""
        with self.db.read() as conn:
            rows = conn.execute(sa.select(*_listed()).where(documents.c.superseded_by == doc_id)
                                .order_by(documents.c.id)).all()
        return [_document(r) for r in rows]

    def revision(self) -> int:
        """The library's revision (changes with every change, in any process)."""
        with self.db.read() as conn:
            return int(conn.execute(sa.select(library_state.c.revision).where(library_state.c.id == 1))
                       .scalar_one_or_none() or 0)

    def search(self, query: str = "", kind: str | None = None, plan: str | None = None,
               include_superseded: bool = True, limit: int = 20, offset: int = 0) -> tuple[list[SearchHit], int]:
        """Documents matching the words of ``query`` (all of them, as word prefixes), best first, and how many.

        Without words: every document of the filters, newest first. ``kind`` and ``plan`` filter.
        """
        if kind is not None and kind not in KINDS:
            raise InvalidInput(f"Unknown kind of document '{kind}'. Kinds: {', '.join(KINDS)}.", parameter="kind")
        terms, plan = query_terms(query), printable(plan)[:80] or None
        conditions = [c for c in (documents.c.kind == kind if kind else None,
                                  documents.c.plan_name == plan if plan else None,
                                  documents.c.superseded_by.is_(None) if not include_superseded else None)
                      if c is not None]
        limit, offset = max(1, min(limit, 100)), max(0, offset)
        with self.db.read() as conn:
            if not terms:
                base = sa.select(*_listed()).where(*conditions)
                total = conn.execute(sa.select(sa.func.count()).select_from(base.subquery())).scalar_one()
                rows = conn.execute(base.order_by(documents.c.issued_on.desc().nulls_last(), documents.c.id.desc())
                                    .limit(limit).offset(offset)).all()
                return [SearchHit(_document(r), 0.0, ()) for r in rows], total
            source, match, rank = self._match(terms)
            base = sa.select(*_listed(SNIPPET_SCAN_CHARS), rank.label("rank")).select_from(source).where(
                match, *conditions)
            total = conn.execute(sa.select(sa.func.count()).select_from(base.subquery())).scalar_one()
            rows = conn.execute(base.order_by(sa.desc("rank"), documents.c.id.desc()).limit(limit)
                                .offset(offset)).all()
        return [SearchHit(_document(r), float(r.rank), tuple(terms)) for r in rows], total

    def _match(self, terms: list[str]) -> tuple[Any, Any, Any]:
        """The backend's FROM, full-text condition and rank (higher is better) for normalised ``terms``."""
        if self.db.dialect == "sqlite":
            fts = sa.table("gp_library_fts", sa.column("rowid"))
            expression = " AND ".join(f'"{t}"*' for t in terms)  # terms are word characters only: quoting is safe
            table: sa.ColumnElement[Any] = sa.literal_column("gp_library_fts")
            return (documents.join(fts, fts.c.rowid == documents.c.id), table.op("MATCH")(expression),
                    -sa.func.bm25(table, 4.0, 1.0))
        query = sa.func.to_tsquery("simple", " & ".join(f"{t}:*" for t in terms))
        vector: sa.ColumnElement[Any] = sa.literal_column("gp_library_documents.search_vector")
        return documents, vector.op("@@")(query), sa.func.ts_rank(vector, query)

    def regulations_by_plan(self) -> dict[str, list[LibraryDocument]]:
        """Plan regulations in force (not superseded), per plan name, oldest first (linked from the notes)."""
        query = (sa.select(*_listed()).where(documents.c.kind == REGULATION, documents.c.superseded_by.is_(None),
                                            documents.c.plan_name.is_not(None))
                 .order_by(documents.c.issued_on.nulls_last(), documents.c.id))
        found: dict[str, list[LibraryDocument]] = {}
        with self.db.read() as conn:
            for row in conn.execute(query):
                found.setdefault(row.plan_name, []).append(_document(row))
        return found
