"""Fee orders and payments (issue 7): orders with a frozen quote, provider callbacks recorded once, reconciliation.

* An order gets a reference (``CMD-2026-000123``) and an invoice number
  (``FAC-2026-000123``) from one per-year sequence (unique in the database, so
  two processes never share one), the quote of its day frozen as JSON, and a
  random access token: the person's key to the order, its invoice, receipt and
  (for a note order) the note.
* A verified callback is recorded once per provider transaction id (a unique
  constraint; replays and concurrent duplicates find the first record). Its
  amount and currency must be the order's; an authorised payment on an order
  already paid is kept as ``duplicate`` (to refund), never applied twice.
* Refused callbacks (forged, tampered) are kept in ``gp_payment_events`` and the
  audit log for reconciliation: per day, orders, payments and differences.
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa

from gisportal.core.agencydb import _ID, _TIME, AgencyDB, as_utc, inserted_id, metadata, utcnow
from gisportal.core.errors import CallbackRefused, InvalidInput, NotFound
from gisportal.core.numbering import next_in_year, yearly_number
from gisportal.services.payments.fees import FeeBook, QuoteRequest
from gisportal.services.payments.providers import CallbackData

logger = logging.getLogger(__name__)

NOTE_SERVICE = "nru_note"
NOTE_LANGS = ("fr", "ar", "both")
_AMOUNT = sa.BigInteger

orders = sa.Table(
    "gp_orders", metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("reference", sa.Text, nullable=False, unique=True),
    sa.Column("invoice_number", sa.Text, nullable=False, unique=True),
    sa.Column("year", sa.Integer, nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("service", sa.Text, nullable=False),
    sa.Column("parcel_ref", sa.Text),
    sa.Column("note_lang", sa.Text),
    sa.Column("quote", sa.Text, nullable=False),
    sa.Column("amount", _AMOUNT, nullable=False),
    sa.Column("currency", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False, server_default="pending"),
    sa.Column("access_token", sa.Text, nullable=False),
    sa.Column("created_at", _TIME, nullable=False, index=True),
    sa.Column("paid_at", _TIME),
    sa.Column("note_number", sa.Text),
    sa.UniqueConstraint("year", "seq", name="gp_orders_year_seq"),
    sa.CheckConstraint("status IN ('pending', 'paid')", name="gp_orders_status"),
    sa.CheckConstraint("amount >= 0", name="gp_orders_amount"),
)

payments = sa.Table(
    "gp_payments", metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("order_id", _ID, sa.ForeignKey("gp_orders.id"), nullable=False, index=True),
    sa.Column("provider", sa.Text, nullable=False),
    sa.Column("transaction_id", sa.Text, nullable=False),
    sa.Column("amount", _AMOUNT, nullable=False),
    sa.Column("currency", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("received_at", _TIME, nullable=False, index=True),
    sa.Column("receipt_number", sa.Text, unique=True),
    sa.Column("receipt_key_id", sa.Text),
    sa.Column("receipt_signature", sa.Text),
    sa.UniqueConstraint("provider", "transaction_id", name="gp_payments_transaction"),
    sa.CheckConstraint("status IN ('authorised', 'declined', 'duplicate')", name="gp_payments_status"),
)

payment_events = sa.Table(
    "gp_payment_events", metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("at", _TIME, nullable=False, index=True),
    sa.Column("provider", sa.Text, nullable=False),
    sa.Column("order_reference", sa.Text),
    sa.Column("transaction_id", sa.Text),
    sa.Column("amount", sa.Text),
    sa.Column("reason", sa.Text, nullable=False),
)


@dataclass(frozen=True)
class Order:
    """One order as stored."""

    id: int
    reference: str
    invoice_number: str
    service: str
    parcel_ref: str | None
    note_lang: str | None
    quote: dict[str, Any]
    amount: int
    currency: str
    status: str
    access_token: str
    created_at: datetime
    paid_at: datetime | None
    note_number: str | None

    def opens_with(self, token: str | None) -> bool:
        """Whether ``token`` is this order's access token (constant-time)."""
        return bool(token) and hmac.compare_digest(self.access_token.encode(), str(token).encode())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (without the access token)."""
        return {"reference": self.reference, "invoice_number": self.invoice_number, "service": self.service,
                "parcel_ref": self.parcel_ref, "note_lang": self.note_lang, "status": self.status,
                "amount": self.amount, "currency": self.currency, "quote": self.quote,
                "created_at": self.created_at.isoformat(),
                "paid_at": self.paid_at.isoformat() if self.paid_at else None, "note_number": self.note_number}


@dataclass(frozen=True)
class Payment:
    """One provider transaction recorded for an order."""

    id: int
    order_id: int
    provider: str
    transaction_id: str
    amount: int
    currency: str
    status: str
    received_at: datetime
    receipt_number: str | None
    receipt_key_id: str | None
    receipt_signature: str | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"provider": self.provider, "transaction_id": self.transaction_id, "amount": self.amount,
                "currency": self.currency, "status": self.status, "received_at": self.received_at.isoformat(),
                "receipt_number": self.receipt_number}


@dataclass(frozen=True)
class CallbackOutcome:
    """What recording a callback did: the order, the payment, and whether it was already known."""

    order: Order
    payment: Payment
    replayed: bool


def _order(row: Any) -> Order:
    return Order(row.id, row.reference, row.invoice_number, row.service, row.parcel_ref, row.note_lang,
                 json.loads(row.quote), row.amount, row.currency, row.status, row.access_token,
                 as_utc(row.created_at), as_utc(row.paid_at), row.note_number)


def _payment(row: Any) -> Payment:
    return Payment(row.id, row.order_id, row.provider, row.transaction_id, row.amount, row.currency, row.status,
                   as_utc(row.received_at), row.receipt_number, row.receipt_key_id, row.receipt_signature)


#: Signs a receipt: ``(payment row values) -> (receipt number, key id, signature)``.
ReceiptSigner = Callable[[Order, int, CallbackData, datetime], tuple[str, str, str]]


class Orders:
    """Orders and payments of one instance."""

    def __init__(self, db: AgencyDB, fees: FeeBook) -> None:
        self.db, self.fees = db, fees

    def create(self, request: QuoteRequest, parcel_ref: str | None = None, note_lang: str | None = None,
               today: date | None = None) -> Order:
        """A new order for ``request`` at today's fees (a note order names its parcel and language)."""
        quote = self.fees.quote(request, today)
        if request.service == NOTE_SERVICE:
            if not parcel_ref:
                raise InvalidInput("An order for a note names the parcel (parcel_ref).", parameter="parcel_ref")
            if note_lang not in NOTE_LANGS:
                raise InvalidInput(f"lang must be one of {', '.join(NOTE_LANGS)} for a note.", parameter="lang")
        else:
            parcel_ref = note_lang = None
        now = utcnow()
        for attempt in range(20):
            try:
                with self.db.write() as conn:
                    seq = next_in_year(conn, orders.c.seq, orders.c.year, now.year)
                    new_id = inserted_id(conn.execute(sa.insert(orders).values(
                        reference=yearly_number("CMD", now.year, seq),
                        invoice_number=yearly_number("FAC", now.year, seq),
                        year=now.year, seq=seq, service=request.service, parcel_ref=parcel_ref, note_lang=note_lang,
                        quote=json.dumps(quote.to_dict(), ensure_ascii=False), amount=quote.total,
                        currency=quote.currency, status="pending", access_token=secrets.token_urlsafe(18),
                        created_at=now)))
                break
            except sa.exc.IntegrityError:  # another process took the number: take the next one
                logger.info("order number taken, retrying (%d)", attempt + 1)
        else:
            raise InvalidInput("Too many orders at once; please try again.")
        order = self.get_by_id(new_id)
        logger.info("order %s: %s, %d centimes", order.reference, order.service, order.amount)
        return order

    def get_by_id(self, order_id: int) -> Order:
        """The order with this id."""
        with self.db.read() as conn:
            return _order(conn.execute(sa.select(orders).where(orders.c.id == order_id)).one())

    def get(self, reference: str) -> Order | None:
        """The order with this reference, or ``None``."""
        if not reference or len(reference) > 40:
            return None
        with self.db.read() as conn:
            row = conn.execute(sa.select(orders).where(orders.c.reference == reference.strip())).first()
        return _order(row) if row else None

    def open(self, reference: str, token: str | None) -> Order:
        """The order for its reference and access token (the same 404 for an unknown order or a wrong token)."""
        order = self.get(reference)
        if order is None or not order.opens_with(token):
            raise NotFound(f"No order '{str(reference)[:40]}' with this access code.", reference=str(reference)[:40])
        return order

    def payments_of(self, order: Order) -> list[Payment]:
        """The provider transactions of an order, oldest first."""
        with self.db.read() as conn:
            rows = conn.execute(sa.select(payments).where(payments.c.order_id == order.id)
                                .order_by(payments.c.id)).all()
        return [_payment(r) for r in rows]

    def receipt_payment(self, order: Order) -> Payment | None:
        """The payment that paid the order (it carries the receipt)."""
        return next((p for p in self.payments_of(order) if p.status == "authorised"), None)

    def set_note_number(self, order: Order, number: str) -> None:
        """Remember the note released for a paid note order."""
        with self.db.write() as conn:
            conn.execute(sa.update(orders).where(orders.c.id == order.id, orders.c.note_number.is_(None))
                         .values(note_number=number))

    def record_callback(self, data: CallbackData, sign_receipt: ReceiptSigner) -> CallbackOutcome:
        """Record a verified callback once; a replay returns the first record; wrong amounts are refused."""
        for _attempt in range(3):
            try:
                return self._record(data, sign_receipt)
            except sa.exc.IntegrityError:  # a concurrent duplicate won the unique constraint: read its record
                logger.info("concurrent callback for transaction %s", data.transaction_id)
        raise CallbackRefused("The callback could not be recorded; the provider will retry.")

    def _record(self, data: CallbackData, sign_receipt: ReceiptSigner) -> CallbackOutcome:
        with self.db.write() as conn:
            # Lock the order row first (SQLite: takes the write lock before reading; PostgreSQL: a row lock).
            claimed = conn.execute(sa.update(orders).where(orders.c.reference == data.order_reference)
                                   .values(status=orders.c.status)).rowcount
            if not claimed:
                raise CallbackRefused(f"No order '{data.order_reference}'.", reason="unknown_order")
            order = _order(conn.execute(sa.select(orders).where(orders.c.reference == data.order_reference)).one())
            known = conn.execute(sa.select(payments).where(payments.c.provider == data.provider,
                                                           payments.c.transaction_id == data.transaction_id)).first()
            if known is not None:
                same = known.order_id == order.id and known.amount == data.amount and \
                    known.status in (data.status, "duplicate")
                if not same:
                    raise CallbackRefused("This transaction id was already recorded with other details.",
                                          reason="transaction_reused")
                return CallbackOutcome(order, _payment(known), True)
            if data.amount != order.amount or data.currency != order.currency:
                raise CallbackRefused(f"The amount paid ({data.amount} {data.currency}) is not the order's "
                                      f"({order.amount} {order.currency}).", reason="amount_mismatch")
            status = "duplicate" if data.status == "authorised" and order.status == "paid" else data.status
            now = utcnow()
            payment_id = inserted_id(conn.execute(sa.insert(payments).values(
                order_id=order.id, provider=data.provider, transaction_id=data.transaction_id, amount=data.amount,
                currency=data.currency, status=status, received_at=now)))
            if status == "authorised":
                number, kid, signature = sign_receipt(order, payment_id, data, now)
                conn.execute(sa.update(payments).where(payments.c.id == payment_id).values(
                    receipt_number=number, receipt_key_id=kid, receipt_signature=signature))
                conn.execute(sa.update(orders).where(orders.c.id == order.id).values(status="paid", paid_at=now))
            payment = _payment(conn.execute(sa.select(payments).where(payments.c.id == payment_id)).one())
            order = _order(conn.execute(sa.select(orders).where(orders.c.id == order.id)).one())
        logger.info("payment %s for %s: %s", data.transaction_id, order.reference, status)
        return CallbackOutcome(order, payment, False)

    def record_refusal(self, provider: str, fields: dict[str, str], reason: str, audit: Any = None,
                       ip: str | None = None) -> None:
        """Keep a refused callback (for reconciliation) and audit it, in one transaction."""
        values = {"order_reference": str(fields.get("order", ""))[:40] or None,
                  "transaction_id": str(fields.get("transaction", ""))[:64] or None,
                  "amount": str(fields.get("amount", ""))[:20] or None}
        with self.db.write() as conn:
            conn.execute(sa.insert(payment_events).values(at=utcnow(), provider=provider[:20], reason=reason[:300],
                                                          **values))
            if audit is not None:
                audit.record(None, "payment.callback_refused", values["order_reference"],
                             {"provider": provider[:20], "reason": reason[:300], **values}, ip, conn=conn)
        logger.warning("refused %s callback for %s: %s", provider[:20], values["order_reference"], reason)


# --------------------------------------------------------------------------- reconciliation

RECONCILIATION_COLUMNS = ["kind", "at", "order", "transaction", "order_amount", "paid_amount", "status", "detail"]


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(), UTC)
    return start, start + timedelta(days=1)


def reconciliation(db: AgencyDB, day: date) -> dict[str, Any]:
    """Orders created, payments received and differences on ``day`` (UTC), with totals in centimes."""
    start, end = _day_bounds(day)
    with db.read() as conn:
        day_orders = [_order(r) for r in conn.execute(sa.select(orders).where(
            orders.c.created_at >= start, orders.c.created_at < end).order_by(orders.c.id))]
        rows = conn.execute(sa.select(payments, orders.c.reference, orders.c.amount.label("order_amount"))
                            .join(orders, orders.c.id == payments.c.order_id)
                            .where(payments.c.received_at >= start, payments.c.received_at < end)
                            .order_by(payments.c.id)).all()
        events = conn.execute(sa.select(payment_events).where(payment_events.c.at >= start, payment_events.c.at < end)
                              .order_by(payment_events.c.id)).all()
    lines = []
    for r in rows:
        lines.append({"kind": "payment", "at": as_utc(r.received_at).isoformat(), "order": r.reference,
                      "transaction": r.transaction_id, "order_amount": r.order_amount, "paid_amount": r.amount,
                      "status": r.status, "detail": r.receipt_number or ""})
    differences = [dict(line, kind="difference", detail="paid twice: refund the duplicate")
                   for line in lines if line["status"] == "duplicate"]
    differences += [dict(line, kind="difference", detail="amount differs from the order")
                    for line in lines if line["status"] == "authorised" and line["paid_amount"] != line["order_amount"]]
    differences += [{"kind": "difference", "at": as_utc(e.at).isoformat(), "order": e.order_reference or "",
                     "transaction": e.transaction_id or "", "order_amount": "", "paid_amount": e.amount or "",
                     "status": "refused", "detail": e.reason} for e in events]
    paid = [line for line in lines if line["status"] == "authorised"]
    return {
        "day": day.isoformat(),
        "orders": [{"kind": "order", "at": o.created_at.isoformat(), "order": o.reference, "transaction": "",
                    "order_amount": o.amount, "paid_amount": "", "status": o.status, "detail": o.service}
                   for o in day_orders],
        "payments": lines, "differences": differences,
        "totals": {"orders": len(day_orders), "ordered": sum(o.amount for o in day_orders),
                   "payments": len(paid), "received": sum(line["paid_amount"] for line in paid),
                   "differences": len(differences)},
    }
