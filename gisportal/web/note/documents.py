"""Official notes: numbered, signed, with QR verification, PDF download and public keys."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from flask import Blueprint, Flask, Response, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup

from gisportal.core.errors import InvalidInput, NotFound, PaymentRequired
from gisportal.core.qrcodes import qr_svg_text
from gisportal.core.signing import NotAuthentic
from gisportal.note.build import UrbanNote
from gisportal.note.issuing import (
    LANGS,
    check_number,
    currency,
    issue_note,
    note_pdf,
    verification_token,
    verify_document,
)
from gisportal.note.mapextract import render_map_extract
from gisportal.note.registry import IssuedNote
from gisportal.services.payments.receipts import check_receipt, is_receipt_number
from gisportal.web.core.context import json_response, portal, public_base
from gisportal.web.core.errors import tell
from gisportal.web.core.i18n import current_language
from gisportal.web.core.pdf import render_note_pdf
from gisportal.web.core.security import limit_request_size
from gisportal.web.core.throttle import issuance_guard
from gisportal.zoning.zone_cover import CoverLimits

logger = logging.getLogger(__name__)

MAX_UPLOAD = 20 * 1024 * 1024


def qr_svg(text: str) -> Markup:
    """A QR code as inline SVG, for templates."""
    return Markup(qr_svg_text(text))


def verify_url(issued: IssuedNote) -> str:
    """The public verification URL printed in the QR code."""
    return f"{public_base()}{url_for('note.verify', number=issued.number)}?t={verification_token(issued)}"


def document_context(note: UrbanNote, issued: IssuedNote) -> dict[str, Any]:
    """What the note template adds for an issued document: number, QR, map extract."""
    p = portal()
    extract = render_map_extract(p.store, p.catalogue, note, metre=_("m"))
    url = verify_url(issued)
    return {"number": issued.number, "issued_at": issued.issued_at, "verify_url": url, "qr": qr_svg(url),
            "map_svg": Markup(extract.svg), "scale": extract.scale_denominator, "key_id": issued.key_id}


def preview_context(note: UrbanNote) -> dict[str, Any]:
    """The map extract alone, for an information copy of the note (no number, no QR: nothing issued)."""
    p = portal()
    extract = render_map_extract(p.store, p.catalogue, note, metre=_("m"))
    return {"map_svg": Markup(extract.svg), "scale": extract.scale_denominator, "preview": True}


def pdf_language(value: str | None) -> str:
    """``fr``, ``ar`` or ``both`` (default: the page language when it is one of them)."""
    lang = value or current_language()
    if lang == "en":
        lang = "fr"
    if lang not in LANGS:
        raise InvalidInput(f"lang must be one of {', '.join(LANGS)} for a PDF note.", parameter="lang")
    return lang


def official_note_is_free() -> bool:
    """Whether the sealed note PDF is delivered on request here (not only through a paid order)."""

    return not portal().settings.note_requires_payment or bool(current_user.is_authenticated)


def require_official_note_paid(note: UrbanNote, lang: str) -> None:
    """Refuse the free sealed PDF where the agency charges for it (402, with where to order it)."""
    if not official_note_is_free():
        raise PaymentRequired(_("The official note is delivered once its fee is paid: order it, pay online, then "
                                "download it from your order. The note on screen stays free, for information."),
                              order_url=url_for("payments.fees", service="nru_note", parcel_ref=note.parcel.ref,
                                                lang=lang))


def pdf_response(note: UrbanNote, lang: str, throttled: bool = True) -> Response:
    """Issue (or reuse) the note and answer its sealed PDF (``throttled``: under the day's ceilings of new notes;
    a paid order's note is not)."""

    p = portal()
    guard = issuance_guard(note.parcel.ref) if throttled else None
    issued = issue_note(p.registry, p.keyring, note, lang, before_issue=guard)
    body = note_pdf(p.registry, p.keyring, issued,
                    lambda: render_note_pdf(note, lang, document_context(note, issued)))
    response = Response(body, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{issued.number}.pdf"'
    response.headers["X-Note-Number"] = issued.number
    return response


def _verification_page(issued: IssuedNote | None, problem: str | None, status: int = 200) -> Response:
    p = portal()
    state = currency(p.store, p.catalogue, issued, CoverLimits.from_settings(p.settings)) if issued else None
    html = render_template("note/verify.html", issued=issued, problem=problem, state=state)
    return Response(html, status=status, mimetype="text/html")


def verification_code() -> str | None:
    """The QR code's token of a verification request; ``None`` for signed-in staff, who may look any number up.

    Anybody else must bring the token (``t``) printed with the number: numbers are sequential, and without it
    the notes and receipts of other people could be read one after the other.
    """

    token = (request.args.get("t") or "").strip()[:64]
    if token or not current_user.is_authenticated:
        return token
    return None


def verify_receipt(number: str) -> Response:
    """``/verify/REC-…``: the receipt is authentic, or why not."""
    try:
        receipt = check_receipt(portal().agency, portal().keyring, number, verification_code())
    except NotAuthentic as exc:
        return Response(render_template("payments/verify_receipt.html", receipt=None, problem=tell(exc.message)),
                        status=exc.status, mimetype="text/html")  # unknown number or wrong token: 404 alike
    return Response(render_template("payments/verify_receipt.html", receipt=receipt, problem=None),
                    mimetype="text/html")


def verify(number: str) -> Response:
    """The page a QR code opens: authentic or not, what it rests on, still current or not."""
    if is_receipt_number(number):  # payment receipts (REC-...) are checked by the payments service
        return verify_receipt(number)
    p = portal()
    try:
        issued = check_number(p.registry, p.keyring, number, verification_code())
    except NotAuthentic as exc:
        return _verification_page(None, tell(exc.message), exc.status)  # unknown number or wrong token: 404
    return _verification_page(issued, None)


def verify_upload() -> Response:
    """Verify a PDF sent by a person (the same check as ``gisportal verify``)."""
    if request.method == "GET":
        return _verification_page(None, None)
    upload = request.files.get("document")
    if upload is None or not upload.filename:
        return _verification_page(None, _("Choose the PDF of the note to check."), 400)
    data = upload.stream.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        return _verification_page(None, _("This file is too large to be a note."), 413)
    try:
        issued = verify_document(portal().registry, portal().keyring, data)
    except NotAuthentic as exc:
        return _verification_page(None, tell(exc.message), 422)
    return _verification_page(issued if isinstance(issued, IssuedNote) else None, None)


def public_keys() -> Response:
    """Every public key of the portal (PEM), by key id."""

    return json_response({"algorithm": "Ed25519", "keys": portal().keyring.public_keys()})


def public_key(kid: str) -> Response:
    """One public key as a PEM file."""
    pem = portal().keyring.public_keys().get(kid)
    if pem is None:

        raise NotFound(f"No public key '{kid[:32]}'.")
    return Response(pem, mimetype="application/x-pem-file")


def init_app(app: Flask) -> None:
    """Template helpers and the upload size of the verification (the routes are :data:`bp`)."""
    app.jinja_env.globals["official_note_is_free"] = official_note_is_free
    limit_request_size(app, "note.verify_upload", MAX_UPLOAD + 1024 * 1024)
    app.jinja_env.globals["today"] = date.today


#: Verifying an issued note and the agency's public keys.
bp = Blueprint("note", __name__)
bp.add_url_rule("/verify/<number>", "verify", verify)
bp.add_url_rule("/verify", "verify_upload", verify_upload, methods=["GET", "POST"])
bp.add_url_rule("/keys", "public_keys", public_keys)
bp.add_url_rule("/keys/<kid>.pem", "public_key", public_key)
