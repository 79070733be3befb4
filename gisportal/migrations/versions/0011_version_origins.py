"""What published each plan version (a planner's draft), recorded with the version.

A draft's publication writes the version in the store and then marks the draft published in the agency's
tables: two commits. The version's origin (``draft:<id>:<created>``) is written in the store's transaction, so a
publication whose mark was lost (a failure between the two) is recognised when the draft is published again,
and never made twice.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gp_version_origins",
        sa.Column("version_id", sa.Integer, sa.ForeignKey("gp_plan_versions.id"), primary_key=True),
        sa.Column("origin", sa.Text, nullable=False, unique=True))


def downgrade() -> None:
    op.drop_table("gp_version_origins")
