"""Payment receipts: numbered ``REC-2026-000042``, signed with the portal's Ed25519 keys, verifiable by QR code.

The signature covers the facts of the receipt (number, order, invoice, service,
amount, currency, transaction, time). The QR code carries the number and a
short token cut from the signature, like a note's; ``/verify/REC-…`` checks
both against the stored, signed record.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from gisportal.core.agencydb import AgencyDB, as_utc
from gisportal.core.errors import told
from gisportal.core.signing import KeyRing, NotAuthentic, UnknownNumber, canonical_json
from gisportal.services.payments.orders import Order, ReceiptSigner, orders, payments
from gisportal.services.payments.providers import CallbackData

logger = logging.getLogger(__name__)

PREFIX = "REC-"


def is_receipt_number(number: str) -> bool:
    """Whether a number is a receipt's (rather than a note's)."""
    return number.strip().upper().startswith(PREFIX)


def receipt_payload(number: str, order_reference: str, invoice_number: str, service: str, amount: int,
                    currency: str, provider: str, transaction_id: str, paid_at: datetime) -> dict[str, Any]:
    """What a receipt's signature covers."""
    return {"receipt": number, "order": order_reference, "invoice": invoice_number, "service": service,
            "amount": amount, "currency": currency, "provider": provider, "transaction": transaction_id,
            "paid_at": paid_at.isoformat()}


def receipt_signer(keyring: KeyRing) -> ReceiptSigner:
    """A signer for :meth:`gisportal.services.payments.orders.Orders.record_callback`."""
    def sign(order: Order, payment_id: int, data: CallbackData, paid_at: datetime) -> tuple[str, str, str]:
        number = f"{PREFIX}{paid_at.year}-{payment_id:06d}"
        payload = receipt_payload(number, order.reference, order.invoice_number, order.service, data.amount,
                                  data.currency, data.provider, data.transaction_id, paid_at)
        kid, signature = keyring.sign(canonical_json(payload))
        return number, kid, signature

    return sign


def receipt_token(signature: str) -> str:
    """The short code the QR code carries beside the number."""
    return signature[:16]


@dataclass(frozen=True)
class Receipt:
    """A verified receipt."""

    number: str
    payload: dict[str, Any]
    key_id: str
    signature: str

    @property
    def token(self) -> str:
        """The QR code's verification token."""
        return receipt_token(self.signature)


def load_receipt(db: AgencyDB, number: str) -> Receipt | None:
    """The stored receipt with this number (not yet checked), or ``None``."""
    number = number.strip().upper()
    if not number or len(number) > 40:
        return None
    with db.read() as conn:
        row = conn.execute(sa.select(payments, orders.c.reference, orders.c.invoice_number, orders.c.service)
                           .join(orders, orders.c.id == payments.c.order_id)
                           .where(payments.c.receipt_number == number)).first()
    if row is None:
        return None
    payload = receipt_payload(row.receipt_number, row.reference, row.invoice_number, row.service, row.amount,
                              row.currency, row.provider, row.transaction_id, as_utc(row.received_at))
    return Receipt(row.receipt_number, payload, row.receipt_key_id, row.receipt_signature)


def check_receipt(db: AgencyDB, keyring: KeyRing, number: str, token: str | None) -> Receipt:
    """The receipt behind a number and QR token, its signature checked; :class:`NotAuthentic` otherwise.

    ``token=None``: no token checked (staff); an empty token is refused before the number is looked up. An unknown
    number and a wrong token raise the same :class:`UnknownNumber` (404): numbers cannot be probed.
    """
    asked, number = number or "", (number or "")[:40]
    if token is not None and not token:
        raise NotAuthentic(told("Enter the verification code printed with the number (the QR code carries it)."),
                           number=number)
    receipt = load_receipt(db, asked)
    if receipt is None or (token is not None and not hmac.compare_digest(token.encode(), receipt.token.encode())):
        if token is None:
            raise UnknownNumber(told("No receipt numbered '%(number)s' was issued by this portal.", number=number),
                                number=number)
        raise UnknownNumber(told("No receipt numbered '%(number)s' with this verification code was issued by this "
                                 "portal.", number=number), number=number)
    keyring.verify(canonical_json(receipt.payload), receipt.key_id, receipt.signature)
    return receipt
