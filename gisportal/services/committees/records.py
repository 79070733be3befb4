"""The building committees' tables (sessions, permit files, decisions) and the records that
:class:`~gisportal.services.committees.sessions.Committees` takes and gives: decisions to record, decisions as
the public sees them, problems found in an entry.

The applicant's personal data (name, CIN, phone) are columns of ``gp_permit_files`` only: no record here that
leaves for the public carries them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa

from gisportal.core.agencydb import _ID, _TIME, metadata

sessions = sa.Table(
    "gp_committee_sessions", metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("held_on", sa.Date, nullable=False, index=True),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("title", sa.Text, nullable=False, server_default=""),
    sa.Column("created_at", _TIME, nullable=False),
    sa.Column("created_by", sa.Text, nullable=False),
)

permit_files = sa.Table(
    "gp_permit_files", metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("number", sa.Text, nullable=False, unique=True),
    sa.Column("applicant_reference", sa.Text, nullable=False, server_default=""),
    sa.Column("parcel_ref", sa.Text, nullable=False, index=True),
    sa.Column("quarter", sa.Text),
    sa.Column("lon", sa.Float),
    sa.Column("lat", sa.Float),
    sa.Column("project_type", sa.Text, nullable=False),
    # personal data: staff pages only, never public, never logged
    sa.Column("applicant_name", sa.Text, nullable=False, server_default=""),
    sa.Column("applicant_cin", sa.Text, nullable=False, server_default=""),
    sa.Column("applicant_phone", sa.Text, nullable=False, server_default=""),
    sa.Column("code_hash", sa.Text, nullable=False),
    sa.Column("created_at", _TIME, nullable=False),
    sa.Column("created_by", sa.Text, nullable=False),
)

decisions = sa.Table(
    "gp_committee_decisions", metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("file_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
              sa.ForeignKey("gp_permit_files.id"), nullable=False, index=True),
    sa.Column("session_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
              sa.ForeignKey("gp_committee_sessions.id"), nullable=False, index=True),
    sa.Column("decision", sa.Text, nullable=False),
    sa.Column("conditions", sa.Text, nullable=False, server_default=""),
    sa.Column("recorded_at", _TIME, nullable=False),
    sa.Column("recorded_by", sa.Text, nullable=False),
    sa.UniqueConstraint("file_id", "session_id", name="gp_committee_decisions_once_per_session"),
    sa.CheckConstraint("decision IN ('favourable', 'unfavourable', 'adjourned')", name="gp_committee_decision"),
)


@dataclass(frozen=True)
class Finding:
    """One problem with one value: the row (1 = first data row; ``None`` for a form), column and a code."""

    row: int | None
    column: str
    code: str
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"row": self.row, "column": self.column, "problem": self.code, **self.params}


@dataclass(frozen=True)
class CommitteeSession:
    """A sitting of a committee."""

    id: int
    held_on: date
    kind: str
    title: str


@dataclass(frozen=True)
class DecisionEntry:
    """A decision to record (a form or a CSV row): the file's fields and the decision."""

    file_number: str
    parcel_ref: str
    project_type: str
    decision: str
    conditions: str = ""
    applicant_reference: str = ""
    applicant_name: str = ""
    applicant_cin: str = ""
    applicant_phone: str = ""


@dataclass(frozen=True)
class PublicDecision:
    """A decision as the public sees it: no personal data."""

    file_number: str
    project_type: str
    quarter: str | None
    parcel_ref: str
    lon: float | None
    lat: float | None
    session_id: int
    held_on: date
    session_kind: str
    decision: str
    conditions: str


@dataclass(frozen=True)
class Recorded:
    """A recorded decision; ``code`` is the new file's personal code (to hand to the applicant), else ``None``."""

    decision: PublicDecision
    code: str | None
