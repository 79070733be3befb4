"""Complaints filed by citizens and their handling by agency staff (issue 6).

A complaint gets a tracking number (``RC-2026-000123``, sequential per year) and a secret code shown once to
the citizen and stored only as a hash; number and code together open it (a wrong code and an unknown number
give the same answer). Its location is a WGS84 point, checked against the territory, with the parcel under
it (or the parcel typed) resolved through the store. Each step (filed, assigned, in progress, answered,
closed, reopened, information added, staff note) is a timeline row with its time and author (a staff user
name or ``citizen``), a public message and an internal staff note. Personal data (name, e-mail, phone, CIN)
lives in the complaint row only: never in logs, the audit log, notifications' topics or public answers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from gisportal.core.agencydb import _ID, _TIME, AgencyDB, as_utc, inserted_id, metadata, users, utcnow
from gisportal.core.errors import Conflict, InvalidInput, NotFound
from gisportal.core.numbering import next_in_year, yearly_number
from gisportal.core.secret_codes import code_matches, hash_code, new_code
from gisportal.services.complaints.files import AttachmentFiles, CheckedUpload
from gisportal.services.complaints.intake import CATEGORIES, MESSAGE_MAX, NewComplaint, clean_text, normalize_number

logger = logging.getLogger(__name__)

__all__ = ["CATEGORIES", "STATUSES", "EVENTS", "ComplaintBook", "Complaint", "ComplaintEvent", "Attachment",
           "NewComplaint"]
STATUSES = ("received", "assigned", "in_progress", "answered", "closed")
#: Timeline events; the first five set the status of the same name.
EVENTS = ("received", "assigned", "in_progress", "answered", "closed", "reopened", "citizen_info", "staff_note")
CITIZEN = "citizen"
NOT_FOUND_MESSAGE = "No complaint matches this number and code."

complaints = sa.Table(
    "gp_complaints", metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("number", sa.Text, nullable=False, unique=True),
    sa.Column("year", sa.Integer, nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("code_hash", sa.Text, nullable=False),
    sa.Column("category", sa.Text, nullable=False, index=True),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False, index=True),
    sa.Column("lon", sa.Float, nullable=False),
    sa.Column("lat", sa.Float, nullable=False),
    sa.Column("parcel_ref", sa.Text),
    sa.Column("contact_name", sa.Text, nullable=False),
    sa.Column("contact_email", sa.Text),
    sa.Column("contact_phone", sa.Text),
    sa.Column("contact_cin", sa.Text),
    sa.Column("lang", sa.Text, nullable=False, server_default="fr"),
    sa.Column("assignee", sa.Text, index=True),
    sa.Column("answer", sa.Text),
    sa.Column("created_at", _TIME, nullable=False, index=True),
    sa.Column("updated_at", _TIME, nullable=False),
    sa.Column("answered_at", _TIME),
    sa.Column("closed_at", _TIME),
    sa.UniqueConstraint("year", "seq", name="gp_complaints_year_seq"),
    sa.CheckConstraint("status IN ('received', 'assigned', 'in_progress', 'answered', 'closed')",
                       name="gp_complaints_status"),
)

complaint_events = sa.Table(
    "gp_complaint_events", metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("complaint_id", _ID, sa.ForeignKey("gp_complaints.id"), nullable=False, index=True),
    sa.Column("at", _TIME, nullable=False),
    sa.Column("event", sa.Text, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("public_message", sa.Text),
    sa.Column("staff_note", sa.Text),
)

complaint_attachments = sa.Table(
    "gp_complaint_attachments", metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("complaint_id", _ID, sa.ForeignKey("gp_complaints.id"), nullable=False, index=True),
    sa.Column("event_id", _ID, sa.ForeignKey("gp_complaint_events.id")),
    sa.Column("stored_name", sa.Text, nullable=False, unique=True),
    sa.Column("filename", sa.Text, nullable=False),
    sa.Column("content_type", sa.Text, nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("added_by", sa.Text, nullable=False),
    sa.Column("created_at", _TIME, nullable=False),
)


@dataclass(frozen=True)
class Complaint:
    """A complaint as stored (personal data included: for staff and for its own citizen's notifications)."""

    id: int
    number: str
    category: str
    description: str
    status: str
    lon: float
    lat: float
    parcel_ref: str | None
    contact_name: str
    contact_email: str | None
    contact_phone: str | None
    contact_cin: str | None
    lang: str
    assignee: str | None
    answer: str | None
    created_at: datetime
    updated_at: datetime
    answered_at: datetime | None
    closed_at: datetime | None

    def due_at(self, deadline_days: int) -> datetime:
        """When the agency's answer is due."""
        return self.created_at + timedelta(days=deadline_days)

    def is_overdue(self, deadline_days: int, now: datetime | None = None) -> bool:
        """Not answered nor closed, and past its due date."""
        return self.status not in ("answered", "closed") and (now or utcnow()) > self.due_at(deadline_days)

    @property
    def is_open(self) -> bool:
        """Whether the citizen may still add information."""
        return self.status != "closed"


@dataclass(frozen=True)
class ComplaintEvent:
    """One step of a complaint's timeline."""

    id: int
    at: datetime
    event: str
    actor: str
    status: str
    public_message: str | None
    staff_note: str | None


@dataclass(frozen=True)
class Attachment:
    """A file attached to a complaint (by the citizen, or later by staff)."""

    id: int
    complaint_id: int
    event_id: int | None
    stored_name: str
    filename: str
    content_type: str
    size: int
    added_by: str
    created_at: datetime




def _complaint(row: Any) -> Complaint:
    values = {name: getattr(row, name) for name in Complaint.__dataclass_fields__}
    for name in ("created_at", "updated_at", "answered_at", "closed_at"):
        values[name] = as_utc(values[name])
    return Complaint(**values)


def _event(row: Any) -> ComplaintEvent:
    return ComplaintEvent(row.id, as_utc(row.at), row.event, row.actor, row.status, row.public_message,
                          row.staff_note)


def _attachment(row: Any) -> Attachment:
    return Attachment(row.id, row.complaint_id, row.event_id, row.stored_name, row.filename, row.content_type,
                      row.size, row.added_by, as_utc(row.created_at))


#: Called after each committed change with the complaint and the new timeline event (notifications).
Notifier = Callable[[Complaint, ComplaintEvent], None]


class ComplaintBook:
    """Reading and writing complaints, their timelines and attachments, on the agency tables."""

    def __init__(self, db: AgencyDB, files: AttachmentFiles, notifier: Notifier | None = None) -> None:
        self.db, self.files, self.notifier = db, files, notifier

    # --- reading -------------------------------------------------------------------------------------------
    def get(self, number: str) -> Complaint:
        """The complaint of a tracking number (staff), or a 404."""
        key = normalize_number(number)
        with self.db.read() as conn:
            row = conn.execute(sa.select(complaints).where(complaints.c.number == key)).first() if key else None
        if row is None:
            raise NotFound("No such complaint.", number=str(number)[:40])
        return _complaint(row)

    def open_with_code(self, number: str, code: str) -> Complaint:
        """The complaint when number and code match; the same 404 for a wrong code and an unknown number."""
        key = normalize_number(number)
        with self.db.read() as conn:
            row = conn.execute(sa.select(complaints).where(complaints.c.number == key)).first() if key else None
        good = code_matches(code, row.code_hash if row else None)  # constant time, the same for unknown numbers
        if row is None or not good:
            raise NotFound(NOT_FOUND_MESSAGE)
        return _complaint(row)

    def timeline(self, complaint: Complaint) -> list[ComplaintEvent]:
        """Every step, oldest first."""
        with self.db.read() as conn:
            rows = conn.execute(sa.select(complaint_events).where(complaint_events.c.complaint_id == complaint.id)
                                .order_by(complaint_events.c.at, complaint_events.c.id)).all()
        return [_event(r) for r in rows]

    def attachments(self, complaint: Complaint) -> list[Attachment]:
        """The files of a complaint, oldest first."""
        with self.db.read() as conn:
            rows = conn.execute(sa.select(complaint_attachments)
                                .where(complaint_attachments.c.complaint_id == complaint.id)
                                .order_by(complaint_attachments.c.id)).all()
        return [_attachment(r) for r in rows]

    def attachment_file(self, complaint: Complaint, attachment_id: int) -> tuple[Attachment, Any]:
        """One attachment of ``complaint`` and its path (404 when it belongs to another complaint)."""
        found = next((a for a in self.attachments(complaint) if a.id == attachment_id), None)
        path = self.files.path(found.stored_name) if found else None
        if found is None or path is None or not path.is_file():
            raise NotFound("No such attachment.")
        return found, path

    def queue(self, status: str | None = None, category: str | None = None, assignee: str | None = None,
              overdue_days: int | None = None, limit: int = 500) -> list[Complaint]:
        """Complaints for the staff queue, newest first; ``overdue_days`` keeps those open past that deadline."""
        query = sa.select(complaints).order_by(complaints.c.created_at.desc(), complaints.c.id.desc()).limit(limit)
        if status:
            query = query.where(complaints.c.status == status)
        if category:
            query = query.where(complaints.c.category == category)
        if assignee == "-":
            query = query.where(complaints.c.assignee.is_(None))
        elif assignee:
            query = query.where(complaints.c.assignee == assignee)
        if overdue_days is not None:
            query = query.where(complaints.c.status.notin_(("answered", "closed")),
                                complaints.c.created_at < utcnow() - timedelta(days=overdue_days))
        with self.db.read() as conn:
            return [_complaint(r) for r in conn.execute(query).all()]

    # --- writing -------------------------------------------------------------------------------------------
    def file(self, new: NewComplaint, location: tuple[float, float, str | None],
             uploads: list[CheckedUpload]) -> tuple[Complaint, str]:
        """Store a checked submission with its files in one transaction; answers the complaint and its code."""
        code = new_code(12, 4)  # 60 bits, ABCD-EFGH-JKLM
        code_hash = hash_code(code)
        lon, lat, ref = location
        for attempt in range(5):  # two filings at the same instant may pick the same number: try the next one
            now = utcnow()
            try:
                with self.files.writing() as batch, self.db.write() as conn:
                    seq = next_in_year(conn, complaints.c.seq, complaints.c.year, now.year)
                    number = yearly_number("RC", now.year, seq)
                    complaint_id = inserted_id(conn.execute(sa.insert(complaints).values(
                        number=number, year=now.year, seq=seq, code_hash=code_hash, category=new.category,
                        description=new.description, status="received", lon=lon, lat=lat, parcel_ref=ref,
                        contact_name=new.contact_name, contact_email=new.contact_email,
                        contact_phone=new.contact_phone, contact_cin=new.contact_cin, lang=new.lang,
                        created_at=now, updated_at=now)))
                    event_id = self._add_event(conn, complaint_id, now, "received", CITIZEN, "received")
                    self._add_files(conn, batch, complaint_id, event_id, uploads, CITIZEN, now)
            except sa.exc.IntegrityError:
                if attempt == 4:
                    raise
                continue
            break
        logger.info("complaint %s filed (%s, %d attachment(s))", number, new.category, len(uploads))
        complaint = self.get(number)
        self._notify(complaint)
        return complaint, code

    def add_information(self, complaint: Complaint, message: str, uploads: list[CheckedUpload]) -> Complaint:
        """The citizen adds a message and/or files to an open complaint (an answered one goes back in progress)."""
        text = clean_text(message, MESSAGE_MAX + 1)
        if len(text) > MESSAGE_MAX:
            raise InvalidInput("Write at most 5000 characters.", parameter="message")
        if not text and not uploads:
            raise InvalidInput("Write a message or attach a file.", parameter="message")
        status = "in_progress" if complaint.status == "answered" else complaint.status
        return self._change(complaint, "citizen_info", CITIZEN, status, public_message=text or None,
                            uploads=uploads, open_only=True)

    def assign(self, complaint: Complaint, assignee: str, actor: str) -> Complaint:
        """Give the complaint to an active staff user (a received complaint becomes assigned)."""
        with self.db.read() as conn:
            known = conn.execute(sa.select(users.c.username).where(users.c.username == assignee,
                                                                   users.c.active.is_(True))).first()
        if known is None:
            raise InvalidInput("Assign the complaint to an active staff account.", parameter="assignee")
        status = "assigned" if complaint.status == "received" else complaint.status
        return self._change(complaint, "assigned", actor, status, open_only=True, values={"assignee": assignee},
                            staff_note=f"→ {assignee}")

    def start(self, complaint: Complaint, actor: str, note: str = "") -> Complaint:
        """Mark the complaint as being worked on."""
        if complaint.status not in ("received", "assigned"):
            raise Conflict("Only a received or assigned complaint can be put in progress.")
        return self._change(complaint, "in_progress", actor, "in_progress",
                            staff_note=clean_text(note, MESSAGE_MAX) or None)

    def answer(self, complaint: Complaint, text: str, actor: str) -> Complaint:
        """The agency's answer, public to the citizen."""
        answer = clean_text(text, MESSAGE_MAX + 1)
        if not 2 <= len(answer) <= MESSAGE_MAX:
            raise InvalidInput("Write the answer (2 to 5000 characters).", parameter="answer")
        now = utcnow()
        return self._change(complaint, "answered", actor, "answered", public_message=answer, open_only=True,
                            values={"answer": answer, "answered_at": now})

    def close(self, complaint: Complaint, actor: str, message: str = "") -> Complaint:
        """Close the complaint (with an optional public message)."""
        return self._change(complaint, "closed", actor, "closed", open_only=True, values={"closed_at": utcnow()},
                            public_message=clean_text(message, MESSAGE_MAX) or None)

    def reopen(self, complaint: Complaint, actor: str, note: str = "") -> Complaint:
        """Reopen a closed complaint (back in progress)."""
        if complaint.status != "closed":
            raise Conflict("Only a closed complaint can be reopened.")
        return self._change(complaint, "reopened", actor, "in_progress", values={"closed_at": None},
                            staff_note=clean_text(note, MESSAGE_MAX) or None)

    def add_note(self, complaint: Complaint, note: str, actor: str) -> Complaint:
        """An internal note, seen by staff only (no notification)."""
        text = clean_text(note, MESSAGE_MAX + 1)
        if not 2 <= len(text) <= MESSAGE_MAX:
            raise InvalidInput("Write the note (2 to 5000 characters).", parameter="note")
        return self._change(complaint, "staff_note", actor, complaint.status, staff_note=text)

    # --- internals -----------------------------------------------------------------------------------------
    def _change(self, complaint: Complaint, event: str, actor: str, status: str, public_message: str | None = None,
                staff_note: str | None = None, uploads: list[CheckedUpload] | None = None,
                open_only: bool = False, values: dict[str, Any] | None = None) -> Complaint:
        now = utcnow()
        with self.files.writing() as batch, self.db.write() as conn:
            where = [complaints.c.id == complaint.id, complaints.c.updated_at == complaint.updated_at]
            if open_only:
                where.append(complaints.c.status != "closed")
            changed = conn.execute(sa.update(complaints).where(*where)
                                   .values(status=status, updated_at=now, **(values or {}))).rowcount
            if changed != 1:
                current = self.get(complaint.number)
                if open_only and current.status == "closed":
                    raise Conflict("This complaint is closed.")
                raise Conflict("This complaint changed meanwhile. Reload it and try again.")
            event_id = self._add_event(conn, complaint.id, now, event, actor, status, public_message, staff_note)
            self._add_files(conn, batch, complaint.id, event_id, uploads or [], actor, now)
        logger.info("complaint %s: %s by %s -> %s", complaint.number, event, actor, status)
        updated = self.get(complaint.number)
        if status != complaint.status or (event in ("answered", "assigned") and public_message):
            self._notify(updated)
        return updated

    @staticmethod
    def _add_event(conn: Connection, complaint_id: int, at: datetime, event: str, actor: str, status: str,
                   public_message: str | None = None, staff_note: str | None = None) -> int:
        return inserted_id(conn.execute(sa.insert(complaint_events).values(
            complaint_id=complaint_id, at=at, event=event, actor=actor, status=status,
            public_message=public_message, staff_note=staff_note)))

    @staticmethod
    def _add_files(conn: Connection, batch: Any, complaint_id: int, event_id: int, uploads: list[CheckedUpload],
                   actor: str, at: datetime) -> None:
        for upload in uploads:
            stored = batch.write(upload)
            conn.execute(sa.insert(complaint_attachments).values(
                complaint_id=complaint_id, event_id=event_id, stored_name=stored, filename=upload.filename,
                content_type=upload.content_type, size=len(upload.data), added_by=actor, created_at=at))

    def _notify(self, complaint: Complaint) -> None:
        if self.notifier is None or not complaint.contact_email:
            return
        last = self.timeline(complaint)[-1]
        try:
            self.notifier(complaint, last)
        except Exception:  # a notification never undoes a stored change
            logger.exception("notification of complaint %s failed", complaint.number)
