"""Join the citizen services' revisions (complaints, committees, payments, library) into one line; geometry
columns of an instance that already holds data declare its SRID.

Revision ID: 0008
Revises: 0004, 0005, 0006, 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = ("0004", "0005", "0006", "0007")
branch_labels = None
depends_on = None


def upgrade() -> None:
    from gisportal.storage.postgis.db import declare_srid

    conn = op.get_bind()
    crs = conn.execute(sa.text("SELECT value FROM gp_meta WHERE key = 'crs'")).scalar()
    if crs and crs.upper().startswith("EPSG:") and crs.split(":", 1)[1].isdigit():
        declare_srid(conn, int(crs.split(":", 1)[1]))


def downgrade() -> None:
    """The SRID stays declared (harmless); the services' revisions are undone by their own downgrades."""
