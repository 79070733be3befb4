"""The ``staff`` role (citizen services) below ``planner``.

Revision ID: 0009
Revises: 0008
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_constraint("gp_users_role", "gp_users", type_="check")
    op.create_check_constraint("gp_users_role", "gp_users", "role IN ('staff', 'planner', 'admin')")


def downgrade() -> None:
    op.execute("UPDATE gp_users SET role = 'planner' WHERE role = 'staff'")
    op.drop_constraint("gp_users_role", "gp_users", type_="check")
    op.create_check_constraint("gp_users_role", "gp_users", "role IN ('planner', 'admin')")
