"""Invoice and receipt PDFs: French then Arabic pages in one file, QR code, printed by WeasyPrint without network.

The receipt is sealed like a note (:func:`gisportal.core.signing.seal_pdf`), and its
QR code opens ``/verify/REC-…?t=…``; the invoice's QR code opens the order's
page, where it can be paid.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import render_template, url_for
from flask_babel import force_locale

from gisportal.core.signing import seal_pdf
from gisportal.services.payments.orders import Order, Payment
from gisportal.services.payments.receipts import Receipt
from gisportal.web.core.context import portal, public_base
from gisportal.web.core.i18n import format_locale
from gisportal.web.core.pdf import inline_css, pdf_from_html
from gisportal.web.note.documents import qr_svg

logger = logging.getLogger(__name__)


def _render(kind: str, context: dict[str, Any]) -> bytes:
    pages = []
    for lang in ("fr", "ar"):
        with force_locale(format_locale(lang)):
            pages.append(render_template("payments/document_pdf.html", kind=kind, doc_lang=lang, pdf=True,
                                         inline_css=inline_css(), **context))
    return pdf_from_html(*pages)


def render_invoice(order: Order, pay_url: str) -> bytes:
    """The invoice of an order as PDF bytes."""
    return _render("invoice", {"order": order, "payment": None, "receipt": None, "qr_url": pay_url,
                               "qr": qr_svg(pay_url)})


def receipt_verify_url(receipt: Receipt) -> str:
    """The public verification URL a receipt's QR code carries."""
    return f"{public_base()}{url_for('note.verify', number=receipt.number)}?t={receipt.token}"


def render_receipt(order: Order, payment: Payment, receipt: Receipt) -> bytes:
    """The sealed receipt of a paid order as PDF bytes."""
    url = receipt_verify_url(receipt)
    body = _render("receipt", {"order": order, "payment": payment, "receipt": receipt, "qr_url": url,
                               "qr": qr_svg(url)})
    return seal_pdf(body, receipt.number, portal().keyring)
