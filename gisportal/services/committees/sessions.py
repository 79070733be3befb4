"""Building-committee sessions and their decisions on permit requests (issue 6).

Staff record a committee *session* (its date and its kind, from :data:`SESSION_KINDS`) and, per permit
*file*, the committee's *decision* (favourable, unfavourable, adjourned) with its conditions or reasons.
A file is recorded with its first decision; an adjourned file comes back to a later session, so a file
has a history of decisions, one per session.

Personal data stay with the staff: the applicant's name, national ID number (CIN) and phone are stored
in ``gp_permit_files`` and shown only on staff pages. The public sees sessions, file numbers, project
types, quarters, decisions and their conditions/reasons: those are free text entered by staff, public
by design, and the forms say that they must not contain personal data. The applicant follows the file
with its number and a *personal code* generated when the file is recorded (shown once to staff, stored
as a salted hash, compared in constant time; a wrong code and an unknown file give the same answer).
The tables and the records passed in and out are in :mod:`gisportal.services.committees.records`.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from gisportal.core.agencydb import AgencyDB, as_utc, inserted_id, utcnow
from gisportal.core.audit import AuditLog
from gisportal.core.contact_details import is_phone_number
from gisportal.core.coords import WGS84, transformer
from gisportal.core.errors import Conflict, InvalidInput, NotFound, RecordsInvalid
from gisportal.core.secret_codes import code_matches, hash_code, new_code
from gisportal.services.committees.records import (
    CommitteeSession,
    DecisionEntry,
    Finding,
    PublicDecision,
    Recorded,
    decisions,
    permit_files,
    sessions,
)
from gisportal.services.committees.terms import (
    CIN,
    DECISIONS,
    FILE_NUMBER,
    MAX_TEXT,
    PROJECT_TYPES,
    REASONED,
    SESSION_KINDS,
    clean_phone,
    normalise_number,
)
from gisportal.storage.base import Store
from gisportal.zoning.parcels import ref_key

logger = logging.getLogger(__name__)


def _row_decision(row: Any) -> PublicDecision:
    return PublicDecision(row.number, row.project_type, row.quarter, row.parcel_ref, row.lon, row.lat, row.session_id,
                          row.held_on, row.kind, row.decision, row.conditions)


_PUBLIC_COLUMNS = (permit_files.c.number, permit_files.c.project_type, permit_files.c.quarter,
                   permit_files.c.parcel_ref, permit_files.c.lon, permit_files.c.lat, decisions.c.session_id,
                   sessions.c.held_on, sessions.c.kind, decisions.c.decision, decisions.c.conditions)
_JOINED = decisions.join(permit_files, decisions.c.file_id == permit_files.c.id).join(
    sessions, decisions.c.session_id == sessions.c.id)


class Committees:
    """Sessions, files and decisions of one instance."""

    def __init__(self, db: AgencyDB, store: Store, audit: AuditLog) -> None:
        self.db, self.store, self.audit = db, store, audit

    # --- sessions ------------------------------------------------------------------------------------------
    def create_session(self, held_on: date, kind: str, title: str, *, user: str, ip: str | None = None
                       ) -> CommitteeSession:
        """Record a session (its kind one of :data:`SESSION_KINDS`)."""
        if kind not in SESSION_KINDS:
            raise InvalidInput(f"Unknown kind of session {kind!r}: use one of {', '.join(SESSION_KINDS)}.")
        title = (title or "").strip()
        if len(title) > MAX_TEXT["title"]:
            raise InvalidInput(f"The title has at most {MAX_TEXT['title']} characters.")
        with self.db.write() as conn:
            new_id = inserted_id(conn.execute(sa.insert(sessions).values(held_on=held_on, kind=kind, title=title,
                                                              created_at=utcnow(), created_by=user)
                                  ))
            self.audit.record(user, "committee.session", f"session:{new_id}",
                              {"held_on": held_on.isoformat(), "kind": kind}, ip, conn=conn)
        return CommitteeSession(new_id, held_on, kind, title)

    def sessions(self, limit: int = 200) -> list[CommitteeSession]:
        """Sessions, latest first."""
        with self.db.read() as conn:
            rows = conn.execute(sa.select(sessions).order_by(sessions.c.held_on.desc(), sessions.c.id.desc())
                                .limit(limit)).all()
        return [CommitteeSession(r.id, r.held_on, r.kind, r.title) for r in rows]

    def session(self, session_id: int) -> CommitteeSession:
        """One session, or :class:`NotFound`."""
        with self.db.read() as conn:
            r = conn.execute(sa.select(sessions).where(sessions.c.id == session_id)).first()
        if r is None:
            raise NotFound(f"No committee session {session_id}.", session=session_id)
        return CommitteeSession(r.id, r.held_on, r.kind, r.title)

    # --- checking and recording decisions ------------------------------------------------------------------
    def check(self, conn: Connection, session: CommitteeSession, entry: DecisionEntry, row: int | None
              ) -> list[Finding]:
        """Every problem of ``entry`` for ``session`` (nothing is written)."""
        found: list[Finding] = []

        def bad(column: str, code: str, **params: Any) -> None:
            found.append(Finding(row, column, code, params))

        number = normalise_number(entry.file_number)
        if not number:
            bad("file_number", "required")
        elif not FILE_NUMBER.match(number):
            bad("file_number", "bad_file_number")
        if entry.decision not in DECISIONS:
            bad("decision", "required" if not entry.decision else "unknown_decision", value=entry.decision,
                allowed=", ".join(DECISIONS))
        if entry.decision in REASONED and not entry.conditions.strip():
            bad("conditions", "reasons_required")
        for column, limit in MAX_TEXT.items():
            if len(getattr(entry, column, "") or "") > limit:
                bad(column, "too_long", max=limit)
        existing = conn.execute(sa.select(permit_files).where(permit_files.c.number == number)).first() \
            if number else None
        if existing is None:
            self._check_new_file(entry, bad)
        else:
            self._check_history(conn, session, existing, entry, bad)
        return found

    def _check_new_file(self, entry: DecisionEntry, bad: Any) -> None:
        if not entry.parcel_ref.strip():
            bad("parcel_ref", "required")
        elif self.store.parcel_by_ref(entry.parcel_ref.strip()) is None:
            bad("parcel_ref", "unknown_parcel", value=entry.parcel_ref.strip())
        if entry.project_type not in PROJECT_TYPES:
            bad("project_type", "required" if not entry.project_type else "unknown_project_type",
                value=entry.project_type, allowed=", ".join(PROJECT_TYPES))
        if not entry.applicant_name.strip():
            bad("applicant_name", "required")
        if entry.applicant_cin.strip() and not CIN.match(entry.applicant_cin.strip().upper()):
            bad("applicant_cin", "bad_cin")  # the value itself is personal data: never echoed
        if entry.applicant_phone.strip() and not is_phone_number(entry.applicant_phone, region_only="MA"):
            bad("applicant_phone", "bad_phone")

    @staticmethod
    def _check_history(conn: Connection, session: CommitteeSession, existing: Any, entry: DecisionEntry,
                       bad: Any) -> None:
        parcel = entry.parcel_ref.strip()
        if parcel and ref_key(parcel) != ref_key(existing.parcel_ref):
            bad("parcel_ref", "parcel_mismatch", value=existing.number, parcel=existing.parcel_ref)
        last = conn.execute(sa.select(decisions.c.decision, decisions.c.session_id, sessions.c.held_on)
                            .select_from(decisions.join(sessions, decisions.c.session_id == sessions.c.id))
                            .where(decisions.c.file_id == existing.id)
                            .order_by(sessions.c.held_on.desc(), decisions.c.id.desc())).first()
        if last is None:
            return
        if last.session_id == session.id:
            bad("file_number", "already_in_session", value=existing.number)
        elif last.decision != "adjourned":
            bad("file_number", "already_decided", value=existing.number, decision=last.decision)
        elif last.held_on >= session.held_on:
            bad("file_number", "later_session_needed", value=existing.number, date=last.held_on.isoformat())

    def findings(self, conn: Connection, session: CommitteeSession, entries: list[DecisionEntry],
                 rows: list[int] | None = None) -> list[Finding]:
        """Every problem of ``entries`` (``rows``: their line numbers in a file; ``None`` for a form)."""
        if not entries:
            return [Finding(None, "", "empty")]
        found: list[Finding] = []
        seen: dict[str, int | None] = {}
        for index, entry in enumerate(entries):
            row = rows[index] if rows else None
            number = normalise_number(entry.file_number)
            if number and number in seen:
                found.append(Finding(row, "file_number", "duplicate_in_file", {"value": number,
                                                                               "first": seen[number]}))
            seen.setdefault(number, row)
            found.extend(self.check(conn, session, entry, row))
        return found

    def validate(self, session_id: int, entries: list[DecisionEntry], rows: list[int] | None = None
                 ) -> list[Finding]:
        """The validation report of ``entries`` for a session; nothing is written."""
        session = self.session(session_id)
        with self.db.read() as conn:
            return self.findings(conn, session, entries, rows)

    def record(self, session_id: int, entries: list[DecisionEntry], *, user: str, ip: str | None = None,
               rows: list[int] | None = None, source: str = "form") -> list[Recorded]:
        """Check every entry, then record them all in one transaction, or none (:class:`RecordsInvalid`)."""
        session = self.session(session_id)
        out: list[Recorded] = []
        try:
            with self.db.write() as conn:
                findings = self.findings(conn, session, entries, rows)
                if findings:
                    raise RecordsInvalid(f"{len(findings)} problem(s): nothing was recorded.",
                                         findings=[f.to_dict() for f in findings])
                for entry in entries:
                    out.append(self._insert(conn, session, entry, user))
                self.audit.record(user, "committee.decisions", f"session:{session.id}",
                                  {"count": len(out), "source": source,
                                   "files": [r.decision.file_number for r in out][:50]}, ip, conn=conn)
        except sa.exc.IntegrityError:  # another member of staff recorded one of these files meanwhile
            raise Conflict("One of these files was recorded by someone else meanwhile: nothing was recorded; "
                           "reload the session and check.") from None
        logger.info("session %d: %d decision(s) recorded (%s)", session.id, len(out), source)
        return out

    def _insert(self, conn: Connection, session: CommitteeSession, entry: DecisionEntry, user: str) -> Recorded:
        number = normalise_number(entry.file_number)
        existing = conn.execute(sa.select(permit_files.c.id).where(permit_files.c.number == number)).first()
        code = None
        if existing is None:
            parcel = self.store.parcel_by_ref(entry.parcel_ref.strip())
            if parcel is None:  # checked just before; gone since (a publication replaced the parcels)
                raise Conflict("A parcel of these files was removed meanwhile: nothing was recorded; check again.")
            lon, lat = self._lon_lat(parcel.geometry)
            code = new_code(10, 5)  # 50 bits, ABCDE-FGHJK
            file_id = inserted_id(conn.execute(sa.insert(permit_files).values(
                number=number, applicant_reference=entry.applicant_reference.strip(), parcel_ref=parcel.ref,
                quarter=parcel.quarter, lon=lon, lat=lat, project_type=entry.project_type,
                applicant_name=entry.applicant_name.strip(), applicant_cin=entry.applicant_cin.strip().upper(),
                applicant_phone=clean_phone(entry.applicant_phone), code_hash=hash_code(code),
                created_at=utcnow(), created_by=user)))
        else:
            file_id = existing.id
        conn.execute(sa.insert(decisions).values(file_id=file_id, session_id=session.id, decision=entry.decision,
                                                 conditions=entry.conditions.strip(), recorded_at=utcnow(),
                                                 recorded_by=user))
        row = conn.execute(sa.select(*_PUBLIC_COLUMNS).select_from(_JOINED).where(
            decisions.c.file_id == file_id, decisions.c.session_id == session.id)).one()
        return Recorded(_row_decision(row), code)

    def _lon_lat(self, geometry: Any) -> tuple[float | None, float | None]:

        if not self.store.crs:
            return None, None
        point = geometry.representative_point()
        lon, lat = transformer(self.store.crs, WGS84).transform(point.x, point.y)
        return round(lon, 6), round(lat, 6)

    # --- reading -------------------------------------------------------------------------------------------
    def public_decisions(self, session_id: int | None = None, limit: int = 500, *, year: int | None = None,
                         decision: str | None = None, file_prefix: str | None = None) -> list[PublicDecision]:
        """Decisions without personal data, latest session first; narrowed to a session, a year, a decision or
        file numbers starting with ``file_prefix``."""
        query = sa.select(*_PUBLIC_COLUMNS).select_from(_JOINED).where(*self._public_filters(
            session_id, year, decision, file_prefix))
        with self.db.read() as conn:
            rows = conn.execute(query.order_by(sessions.c.held_on.desc(), permit_files.c.number)
                                .limit(limit)).all()
        return [_row_decision(r) for r in rows]

    def count_public_decisions(self, *, year: int | None = None, decision: str | None = None,
                               file_prefix: str | None = None) -> int:
        """How many decisions the same filters find (to say when a list is cut)."""
        with self.db.read() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(_JOINED).where(
                *self._public_filters(None, year, decision, file_prefix))).scalar_one()

    def decision_years(self) -> list[int]:
        """Years that have sessions with decisions, latest first."""
        with self.db.read() as conn:
            dates = conn.execute(sa.select(sessions.c.held_on).select_from(_JOINED).distinct()).scalars().all()
        return sorted({d.year for d in dates}, reverse=True)

    @staticmethod
    def _public_filters(session_id: int | None, year: int | None, decision: str | None,
                        file_prefix: str | None) -> list[Any]:
        where: list[Any] = []
        if session_id is not None:
            where.append(decisions.c.session_id == session_id)
        if year is not None:
            where.append(sessions.c.held_on.between(date(year, 1, 1), date(year, 12, 31)))
        if decision:
            where.append(decisions.c.decision == decision)
        if file_prefix:
            where.append(permit_files.c.number.startswith(normalise_number(file_prefix), autoescape=True))
        return where

    def history(self, number: str) -> list[PublicDecision]:
        """The decisions on one file, oldest first."""
        with self.db.read() as conn:
            rows = conn.execute(sa.select(*_PUBLIC_COLUMNS).select_from(_JOINED)
                                .where(permit_files.c.number == normalise_number(number))
                                .order_by(sessions.c.held_on, decisions.c.id)).all()
        return [_row_decision(r) for r in rows]

    def staff_file(self, number: str) -> dict[str, Any]:
        """A file with the applicant's personal data (staff pages only) and its history."""
        with self.db.read() as conn:
            row = conn.execute(sa.select(permit_files).where(permit_files.c.number == normalise_number(number))
                               ).first()
        if row is None:
            raise NotFound(f"No permit file {normalise_number(number)}.")
        data = {k: v for k, v in row._mapping.items() if k != "code_hash"}
        data["created_at"] = as_utc(data["created_at"])
        return {**data, "history": self.history(row.number)}

    def lookup(self, number: str, code: str) -> dict[str, Any]:
        """A file for its applicant: number + personal code -> public facts and history (no personal data).

        An unknown number and a wrong code give the same :class:`NotFound`, after the same work.
        """
        with self.db.read() as conn:
            row = conn.execute(sa.select(permit_files.c.number, permit_files.c.code_hash,
                                         permit_files.c.applicant_reference, permit_files.c.parcel_ref,
                                         permit_files.c.project_type, permit_files.c.quarter)
                               .where(permit_files.c.number == normalise_number(number))).first()
        if not code_matches(code, row.code_hash if row is not None else None) or row is None:
            raise NotFound("No file matches this number and personal code.")
        return {"file_number": row.number, "applicant_reference": row.applicant_reference,
                "parcel_ref": row.parcel_ref, "project_type": row.project_type, "quarter": row.quarter,
                "decisions": self.history(row.number)}

    def reset_code(self, number: str, *, user: str, ip: str | None = None) -> str:
        """A new personal code for a file (the applicant lost theirs); the old one stops working."""
        code = new_code(10, 5)  # 50 bits, ABCDE-FGHJK
        with self.db.write() as conn:
            done = conn.execute(sa.update(permit_files).where(permit_files.c.number == normalise_number(number))
                                .values(code_hash=hash_code(code))).rowcount
            if not done:
                raise NotFound(f"No permit file {normalise_number(number)}.")
            self.audit.record(user, "committee.code_reset", f"file:{normalise_number(number)}", None, ip, conn=conn)
        return code

