"""Versions of the rules catalogue, edited by planners.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gp_rules_catalogues", sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("effective_from", sa.Date, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Text, nullable=False), sa.Column("source", sa.Text, nullable=False),
        sa.Column("note", sa.Text, nullable=False, server_default=""), sa.Column("document", sa.Text, nullable=False))


def downgrade() -> None:
    op.drop_table("gp_rules_catalogues")
