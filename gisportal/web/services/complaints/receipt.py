"""The complaint receipt as a PDF: number, secret code, QR code to the tracking page (never the code)."""

from __future__ import annotations

import logging

from flask import render_template

from gisportal.services.complaints.handling import Complaint
from gisportal.web.core.pdf import inline_css, pdf_from_html
from gisportal.web.note.documents import qr_svg

logger = logging.getLogger(__name__)


def receipt_pdf_bytes(complaint: Complaint, code: str, track_url: str, categories: dict[str, str]) -> bytes:
    """Render the receipt with WeasyPrint (no network: the QR code is inline SVG, the styles inlined)."""

    html = render_template("complaints/receipt_pdf.html", complaint=complaint, code=code, track_url=track_url,
                           qr=qr_svg(track_url), categories=categories, pdf=True, inline_css=inline_css())
    return pdf_from_html(html)
