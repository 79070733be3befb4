"""Fees and payments: fee schedule versions, orders, provider transactions, refused callbacks.

Revision ID: 0006
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0003"
branch_labels = None
depends_on = None

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "gp_fee_schedules", sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("effective_from", sa.Date, nullable=False), sa.Column("created_at", _TIME, nullable=False),
        sa.Column("created_by", sa.Text, nullable=False), sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.Column("document", sa.Text, nullable=False))
    op.create_table(
        "gp_orders", sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("reference", sa.Text, nullable=False, unique=True),
        sa.Column("invoice_number", sa.Text, nullable=False, unique=True),
        sa.Column("year", sa.Integer, nullable=False), sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("service", sa.Text, nullable=False), sa.Column("parcel_ref", sa.Text), sa.Column("note_lang", sa.Text),
        sa.Column("quote", sa.Text, nullable=False), sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False, server_default="pending"),
        sa.Column("access_token", sa.Text, nullable=False), sa.Column("created_at", _TIME, nullable=False),
        sa.Column("paid_at", _TIME), sa.Column("note_number", sa.Text),
        sa.UniqueConstraint("year", "seq", name="gp_orders_year_seq"),
        sa.CheckConstraint("status IN ('pending', 'paid')", name="gp_orders_status"),
        sa.CheckConstraint("amount >= 0", name="gp_orders_amount"))
    op.create_index("ix_gp_orders_created_at", "gp_orders", ["created_at"])
    op.create_table(
        "gp_payments", sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("order_id", sa.BigInteger, sa.ForeignKey("gp_orders.id"), nullable=False),
        sa.Column("provider", sa.Text, nullable=False), sa.Column("transaction_id", sa.Text, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False), sa.Column("currency", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False), sa.Column("received_at", _TIME, nullable=False),
        sa.Column("receipt_number", sa.Text, unique=True), sa.Column("receipt_key_id", sa.Text),
        sa.Column("receipt_signature", sa.Text),
        sa.UniqueConstraint("provider", "transaction_id", name="gp_payments_transaction"),
        sa.CheckConstraint("status IN ('authorised', 'declined', 'duplicate')", name="gp_payments_status"))
    op.create_index("ix_gp_payments_order_id", "gp_payments", ["order_id"])
    op.create_index("ix_gp_payments_received_at", "gp_payments", ["received_at"])
    op.create_table(
        "gp_payment_events", sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("at", _TIME, nullable=False), sa.Column("provider", sa.Text, nullable=False),
        sa.Column("order_reference", sa.Text), sa.Column("transaction_id", sa.Text), sa.Column("amount", sa.Text),
        sa.Column("reason", sa.Text, nullable=False))
    op.create_index("ix_gp_payment_events_at", "gp_payment_events", ["at"])


def downgrade() -> None:
    op.drop_table("gp_payment_events")
    op.drop_table("gp_payments")
    op.drop_table("gp_orders")
    op.drop_table("gp_fee_schedules")
