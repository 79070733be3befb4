"""Complaints filed by citizens: complaints, their timeline events and attachments.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "gp_complaints",
        sa.Column("id", sa.BigInteger, primary_key=True),
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
    op.create_table(
        "gp_complaint_events",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("complaint_id", sa.BigInteger, sa.ForeignKey("gp_complaints.id"), nullable=False, index=True),
        sa.Column("at", _TIME, nullable=False),
        sa.Column("event", sa.Text, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("public_message", sa.Text),
        sa.Column("staff_note", sa.Text),
    )
    op.create_table(
        "gp_complaint_attachments",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("complaint_id", sa.BigInteger, sa.ForeignKey("gp_complaints.id"), nullable=False, index=True),
        sa.Column("event_id", sa.BigInteger, sa.ForeignKey("gp_complaint_events.id")),
        sa.Column("stored_name", sa.Text, nullable=False, unique=True),
        sa.Column("filename", sa.Text, nullable=False),
        sa.Column("content_type", sa.Text, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("added_by", sa.Text, nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("gp_complaint_attachments")
    op.drop_table("gp_complaint_events")
    op.drop_table("gp_complaints")
