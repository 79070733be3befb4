"""Committee sessions, permit files and decisions; subscriptions to files and parcels (issue 6).

Revision ID: 0005
Revises: 0003

The tables are created from their SQLAlchemy definitions (``gisportal.services.committees.records``,
``gisportal.services.subscriptions``) as they stand at this revision; later changes get revisions of their own.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0003"
branch_labels = None
depends_on = None

_TABLES = ("gp_committee_sessions", "gp_permit_files", "gp_committee_decisions", "gp_subscriptions")


def _tables() -> list[sa.Table]:
    from gisportal.services import subscriptions
    from gisportal.services.committees import records as committees

    return [committees.sessions, committees.permit_files, committees.decisions, subscriptions.subscriptions]


def upgrade() -> None:
    bind = op.get_bind()
    for table in _tables():
        table.create(bind)


def downgrade() -> None:
    for name in reversed(_TABLES):
        op.drop_table(name)
