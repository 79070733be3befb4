"""The document library: documents with their extracted text, full-text search vector, revision counter.

Revision ID: 0007
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0003"
branch_labels = None
depends_on = None

KINDS = ("plan_regulation", "plan_map", "law", "decree", "circular", "procedure", "form", "publication")
# Titles weigh more than the body; the text is normalised by the application (gisportal.services.library.text), so the
# 'simple' configuration (no stemming, no stop words) treats French and Arabic alike.
SEARCH_VECTOR = ("setweight(to_tsvector('simple'::regconfig, search_title), 'A') || "
                 "setweight(to_tsvector('simple'::regconfig, search_body), 'B')")


def upgrade() -> None:
    op.create_table(
        "gp_library_documents", sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("kind", sa.Text, nullable=False, index=True),
        sa.Column("title_fr", sa.Text, nullable=False), sa.Column("title_ar", sa.Text, nullable=False),
        sa.Column("reference", sa.Text, nullable=False, server_default=""), sa.Column("issued_on", sa.Date),
        sa.Column("plan_name", sa.Text, index=True),
        sa.Column("zone_codes", sa.Text, nullable=False, server_default=""),
        sa.Column("file_sha256", sa.Text, nullable=False), sa.Column("media_type", sa.Text, nullable=False),
        sa.Column("file_size", sa.BigInteger, nullable=False),
        sa.Column("file_name", sa.Text, nullable=False, server_default=""),
        sa.Column("body", sa.Text, nullable=False, server_default=""),
        sa.Column("search_title", sa.Text, nullable=False, server_default=""),
        sa.Column("search_body", sa.Text, nullable=False, server_default=""),
        sa.Column("superseded_by", sa.Integer),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('" + "', '".join(KINDS) + "')", name="gp_library_documents_kind"))
    op.execute(f"ALTER TABLE gp_library_documents ADD COLUMN search_vector tsvector "
               f"GENERATED ALWAYS AS ({SEARCH_VECTOR}) STORED")
    op.execute("CREATE INDEX gp_library_documents_search ON gp_library_documents USING gin (search_vector)")
    op.create_table(
        "gp_library_state", sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("revision", sa.BigInteger, nullable=False, server_default="0"))
    op.execute("INSERT INTO gp_library_state (id, revision) VALUES (1, 0)")


def downgrade() -> None:
    op.drop_table("gp_library_state")
    op.drop_table("gp_library_documents")
