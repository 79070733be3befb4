"""The agency's own tables: accounts, an append-only audit log, upload drafts.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "gp_users", sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("username", sa.Text, nullable=False, unique=True),
        sa.Column("display_name", sa.Text, nullable=False, server_default=""),
        sa.Column("role", sa.Text, nullable=False), sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created_at", _TIME, nullable=False), sa.Column("last_login_at", _TIME),
        sa.Column("failed_logins", sa.Integer, nullable=False, server_default="0"),
        sa.Column("session_version", sa.Integer, nullable=False, server_default="0"),
        sa.CheckConstraint("role IN ('planner', 'admin')", name="gp_users_role"))
    op.create_table(
        "gp_audit_log", sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("at", _TIME, nullable=False, index=True), sa.Column("actor", sa.Text, index=True),
        sa.Column("action", sa.Text, nullable=False, index=True), sa.Column("target", sa.Text),
        sa.Column("details", sa.Text, nullable=False, server_default="{}"), sa.Column("ip", sa.Text))
    op.create_table(
        "gp_drafts", sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("plan_name", sa.Text, nullable=False), sa.Column("kind", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False, server_default="draft"),
        sa.Column("uploaded_by", sa.Text, nullable=False), sa.Column("created_at", _TIME, nullable=False),
        sa.Column("file_path", sa.Text, nullable=False),
        sa.Column("mapping", sa.Text, nullable=False, server_default="{}"),
        sa.Column("report", sa.Text, nullable=False, server_default="{}"),
        sa.Column("published_version_id", sa.Integer),  # no FK: the store may be cleared and rebuilt
        sa.Column("approval_act", sa.Text), sa.Column("effective_from", sa.Date),
        sa.CheckConstraint("status IN ('draft', 'published', 'discarded')", name="gp_drafts_status"))
    # Append-only audit log: no UPDATE, DELETE or TRUNCATE, whoever asks.
    op.execute("""
        CREATE FUNCTION gp_audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'gp_audit_log is append-only' USING ERRCODE = 'insufficient_privilege';
        END $$""")
    op.execute("CREATE TRIGGER gp_audit_log_append_only BEFORE UPDATE OR DELETE ON gp_audit_log "
               "FOR EACH ROW EXECUTE FUNCTION gp_audit_log_append_only()")
    op.execute("CREATE TRIGGER gp_audit_log_no_truncate BEFORE TRUNCATE ON gp_audit_log "
               "FOR EACH STATEMENT EXECUTE FUNCTION gp_audit_log_append_only()")


def downgrade() -> None:
    for table in ("gp_drafts", "gp_audit_log", "gp_users"):
        op.drop_table(table)
    op.execute("DROP FUNCTION IF EXISTS gp_audit_log_append_only()")
