"""Initial schema: plans and versions, zones, overlays, parcels, places, issued notes.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _geometry() -> sa.Column:
    return sa.Column("geom", Geometry("MULTIPOLYGON", srid=-1, spatial_index=False), nullable=False)


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_table("gp_meta", sa.Column("key", sa.Text, primary_key=True), sa.Column("value", sa.Text, nullable=False))
    op.create_table(
        "gp_plans", sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.Text, nullable=False, unique=True),
        sa.Column("title_fr", sa.Text, nullable=False), sa.Column("title_ar", sa.Text, nullable=False))
    op.create_table(
        "gp_plan_versions", sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("plan_id", sa.Integer, sa.ForeignKey("gp_plans.id"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False), sa.Column("approval_act", sa.Text, nullable=False),
        sa.Column("approval_date", sa.Date, nullable=False), sa.Column("effective_from", sa.Date, nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("plan_id", "version"))
    op.create_table(
        "gp_zones", sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("version_id", sa.Integer, sa.ForeignKey("gp_plan_versions.id"), nullable=False, index=True),
        sa.Column("code", sa.Text, nullable=False), sa.Column("label_fr", sa.Text, nullable=False),
        sa.Column("label_ar", sa.Text, nullable=False), _geometry())
    op.create_table(
        "gp_overlays", sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("version_id", sa.Integer, sa.ForeignKey("gp_plan_versions.id"), nullable=False, index=True),
        sa.Column("kind", sa.Text, nullable=False), sa.Column("label_fr", sa.Text, nullable=False),
        sa.Column("label_ar", sa.Text, nullable=False), sa.Column("provision_fr", sa.Text, nullable=False),
        sa.Column("provision_ar", sa.Text, nullable=False), sa.Column("max_height_m", sa.Float), _geometry())
    op.create_table(
        "gp_parcels", sa.Column("id", sa.BigInteger, primary_key=True), sa.Column("ref", sa.Text, nullable=False),
        sa.Column("ref_key", sa.Text, nullable=False, unique=True), sa.Column("address", sa.Text),
        sa.Column("quarter", sa.Text), sa.Column("search", sa.Text, nullable=False),
        sa.Column("label", sa.Text, nullable=False), sa.Column("px", sa.Float, nullable=False),
        sa.Column("py", sa.Float, nullable=False), _geometry())
    op.create_table(
        "gp_places", sa.Column("kind", sa.Text, nullable=False), sa.Column("label", sa.Text, nullable=False),
        sa.Column("x", sa.Float, nullable=False), sa.Column("y", sa.Float, nullable=False))
    for table in ("gp_zones", "gp_overlays", "gp_parcels"):
        op.create_index(f"{table}_geom", table, ["geom"], postgresql_using="gist")
    op.execute("CREATE INDEX gp_parcels_search ON gp_parcels USING gin (to_tsvector('simple', search))")
    op.create_table(
        "gp_issued_notes", sa.Column("number", sa.Text, primary_key=True),
        sa.Column("year", sa.Integer, nullable=False), sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("parcel_ref", sa.Text, nullable=False, index=True), sa.Column("lang", sa.Text, nullable=False),
        sa.Column("as_of", sa.Date, nullable=False), sa.Column("historical", sa.Boolean, nullable=False),
        sa.Column("plan_versions", sa.Text, nullable=False),
        sa.Column("content_hash", sa.Text, nullable=False, index=True), sa.Column("payload", sa.Text, nullable=False),
        sa.Column("key_id", sa.Text, nullable=False), sa.Column("signature", sa.Text, nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False), sa.Column("pdf", sa.LargeBinary),
        sa.UniqueConstraint("year", "seq"))
    op.execute("INSERT INTO gp_meta (key, value) VALUES ('generation', '0')")


def downgrade() -> None:
    for table in ("gp_issued_notes", "gp_places", "gp_parcels", "gp_overlays", "gp_zones", "gp_plan_versions",
                  "gp_plans", "gp_meta"):
        op.drop_table(table)
