"""QR codes printed on what the agency issues (notes, receipts, documents, posters): SVG or PNG bytes."""

from __future__ import annotations

import io
import logging

import qrcode
import qrcode.image.svg

logger = logging.getLogger(__name__)


def _code(text: str, box_size: int) -> qrcode.QRCode:
    # Medium error correction survives a crease or a stamp; a fixed mask spares trying all eight.
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=box_size, border=2,
                         mask_pattern=2)
    code.add_data(text)
    code.make(fit=True)
    return code


def qr_svg_text(text: str) -> str:
    """A QR code of ``text`` as an SVG document (one path: small, sharp at any print size)."""
    return _code(text, 8).make_image(image_factory=qrcode.image.svg.SvgPathImage).to_string(encoding="unicode")


def qr_png(text: str, box_size: int = 10) -> bytes:
    """A QR code of ``text`` as PNG bytes."""
    out = io.BytesIO()
    _code(text, box_size).make_image().save(out)
    return out.getvalue()
