"""Fees and e-payment pages: the calculator, orders, paying through the provider, invoice, receipt and note.

A person orders from the calculator (``/fees``) or from a note (``order the
official note``); the order page (reference + access code in the link) shows
the frozen quote, the invoice, and a button that sends the person to the
provider's payment page. The provider's signed callback lands on
``/payments/callback/<provider>`` (CSRF-exempt: the HMAC signature is the
check), is recorded once, and the person comes back to the order, where the
receipt and, for a note order, the signed note are released.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from flask import Blueprint, Flask, Response, current_app, flash, redirect, render_template, request, session, url_for
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue
from flask_babel import format_currency
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm

from gisportal.core.errors import CallbackRefused, GisportalError, InvalidInput, NotFound, PaymentRequired
from gisportal.note.build import build_note
from gisportal.services.payments.fees import FeeBook, QuoteRequest, load_schedule
from gisportal.services.payments.orders import NOTE_SERVICE, CallbackOutcome, Order, Orders
from gisportal.services.payments.providers import PaymentProvider, hmac_secret, open_provider
from gisportal.services.payments.receipts import check_receipt, receipt_signer
from gisportal.web.accounts.auth import audit_log, client_ip
from gisportal.web.core.context import portal, public_base
from gisportal.web.core.throttle import wrong_code_limit
from gisportal.web.note.documents import pdf_response
from gisportal.web.services.payments.documents import render_invoice, render_receipt
from gisportal.zoning.lookup import ParcelQuery, find_parcel
from gisportal.zoning.zone_cover import CoverLimits

logger = logging.getLogger(__name__)

SESSION_KEY = "payment_orders"
MAX_REMEMBERED = 20
FORM_EXPIRED = _l("This form has expired or did not come from this site. Reload the page and try again.")


class CsrfForm(FlaskForm):
    """A form carrying only its CSRF token; fields are read from the request."""


@dataclass
class PaymentsService:
    """What the payment pages share: the fee schedule's versions, the orders, the provider's secret."""

    fees: FeeBook
    orders: Orders
    secret: str


def service() -> PaymentsService:
    """The current app's payments service."""

    return current_app.extensions["gisportal_payments"]


#: The portal's public base URL (``public_url`` or the request's host).
base_url = public_base


def provider() -> PaymentProvider:
    """The provider named in the settings; the sandbox's page is served by this app."""
    return open_provider(portal().settings, base_url() + url_for("sandbox.pay"))


def mad(centimes: int | str | None) -> str:
    """An amount of centimes written in dirhams in the page's language (exact: Decimal, never float)."""
    if centimes in (None, ""):
        return ""
    return format_currency(Decimal(int(centimes)).scaleb(-2), "MAD")


def _remember(order: Order) -> None:
    remembered = dict(session.get(SESSION_KEY) or {})
    remembered[order.reference] = order.access_token
    session[SESSION_KEY] = dict(list(remembered.items())[-MAX_REMEMBERED:])


def _token(reference: str) -> str | None:
    return request.values.get("t") or (session.get(SESSION_KEY) or {}).get(reference)


def open_order(reference: str) -> Order:
    """The order named in the URL, opened with the link's access code (or the one this browser remembers)."""
    return service().orders.open(reference, _token(reference))


def order_url(order: Order, endpoint: str = "payments.order", external: bool = False) -> str:
    """A URL of the order carrying its access code."""
    path = url_for(endpoint, reference=order.reference, t=order.access_token)
    return base_url() + path if external else path


def quote_request(values: Any) -> QuoteRequest:
    """The quote request of a form or query."""
    return QuoteRequest.from_mapping(values)


def create_order(values: Any) -> Order:
    """A new order from form or JSON values (a note order's parcel must exist)."""
    request_ = quote_request(values)
    parcel_ref = str(values.get("parcel_ref") or "").strip()[:64] or None
    if request_.service == NOTE_SERVICE:
        if not parcel_ref:
            raise InvalidInput(_("Give the land-title reference of the parcel."), parameter="parcel_ref")
        if portal().store.parcel_by_ref(parcel_ref) is None:
            raise NotFound(_("No parcel with the reference %(ref)s.", ref=parcel_ref), parameter="parcel_ref")
    lang = str(values.get("lang") or ("both" if request_.service == NOTE_SERVICE else "")).strip()[:5] or None
    return service().orders.create(request_, parcel_ref, lang)


def payment_redirect(order: Order) -> str:
    """Where to send the person to pay the order (400 when it is already paid)."""
    if order.status == "paid":
        raise InvalidInput(_("This order is already paid."), reference=order.reference)
    chosen = provider()
    return chosen.start_payment(order.reference, order.amount, order.currency,
                                base_url() + url_for("payments.callback", provider_name=chosen.name),
                                base_url() + url_for("payments.provider_return", provider_name=chosen.name,
                                                     order=order.reference))


def receive_callback(provider_name: str, fields: dict[str, str]) -> CallbackOutcome:
    """Verify and record a provider callback; a refused one is kept, logged and audited, then raised (400)."""
    chosen = provider()
    try:
        if provider_name != chosen.name:
            raise CallbackRefused(_("Unknown payment provider."))
        data = chosen.verify_callback(fields)
        return service().orders.record_callback(data, receipt_signer(portal().keyring))
    except CallbackRefused as exc:
        service().orders.record_refusal(provider_name[:20], fields, exc.message, audit_log(), client_ip())
        raise


# --------------------------------------------------------------------------- views

def fees_page() -> tuple[str, int] | str:
    """The fee calculator: the schedule in force and, when a service is chosen, its quote."""
    svc = service()
    version = svc.fees.in_force()
    quote, problem, status = None, None, 200
    if request.args.get("service"):
        try:
            quote = svc.fees.quote(quote_request(request.args))
        except GisportalError as exc:
            problem, status = exc.message, exc.status
    return render_template("payments/fees.html", version=version, schedule=version.schedule, quote=quote,
                           args=request.args, problem=problem, form=CsrfForm(formdata=None)), status


def order_create() -> ResponseReturnValue:
    """Create an order from the calculator's form; the browser remembers its access code."""
    form = CsrfForm()
    if not form.validate_on_submit():
        raise InvalidInput(str(FORM_EXPIRED))
    try:
        order = create_order(request.form)
    except GisportalError as exc:
        version = service().fees.in_force()
        return render_template("payments/fees.html", version=version, schedule=version.schedule, quote=None,
                               args=request.form, problem=exc.message, form=form), exc.status
    _remember(order)
    return redirect(order_url(order), code=303)


def order_page(reference: str) -> str:
    """The order: frozen quote, status, invoice, pay button; receipt and note once paid."""
    order = open_order(reference)
    svc = service()
    return render_template("payments/order.html", order=order, payments=svc.orders.payments_of(order),
                           receipt=svc.orders.receipt_payment(order), token=order.access_token,
                           form=CsrfForm(formdata=None))


def order_pay(reference: str) -> ResponseReturnValue:
    """Send the person to the provider's payment page."""
    if not CsrfForm().validate_on_submit():
        raise InvalidInput(str(FORM_EXPIRED))
    order = open_order(reference)
    if order.status == "paid":
        flash(_("This order is already paid."), "info")
        return redirect(order_url(order), code=303)
    return redirect(payment_redirect(order), code=303)


def payment_callback(provider_name: str) -> ResponseReturnValue:
    """The provider's signed callback: recorded once, then back to the order's return page."""
    outcome = receive_callback(provider_name, {k: v for k, v in request.form.items()})
    return redirect(url_for("payments.provider_return", provider_name=provider_name, order=outcome.order.reference),
                    code=303)


def payment_return(provider_name: str) -> ResponseReturnValue:
    """The person is back from the payment page: to the order when this browser knows its code."""
    reference = provider().parse_return(request.args)
    token = (session.get(SESSION_KEY) or {}).get(reference)
    order = service().orders.get(reference)
    if order is not None and order.opens_with(token):
        if order.status == "paid":
            flash(_("Payment received. Your receipt is ready."), "success")
        else:
            flash(_("The payment did not go through. You can try again."), "error")
        return redirect(order_url(order), code=303)
    paid = order is not None and order.status == "paid"
    payment = service().orders.receipt_payment(order) if (order is not None and paid) else None
    return render_template("payments/returned.html", reference=reference, paid=paid,
                           receipt_number=payment.receipt_number if payment else None)


def _pdf(body: bytes, filename: str) -> Response:
    response = Response(body, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{filename}.pdf"'
    return response


def invoice_pdf(reference: str) -> Response:
    """The bilingual invoice of an order (QR code: the order's page, to pay)."""

    order = open_order(reference)
    return _pdf(render_invoice(order, order_url(order, external=True)), order.invoice_number)


def receipt_pdf(reference: str) -> Response:
    """The bilingual, sealed receipt of a paid order (QR code: ``/verify/REC-…``)."""

    order = open_order(reference)
    payment = service().orders.receipt_payment(order)
    if payment is None or payment.receipt_number is None:
        raise PaymentRequired(_("The receipt is issued once the order is paid."), reference=order.reference)
    receipt = check_receipt(portal().agency, portal().keyring, payment.receipt_number, None)
    return _pdf(render_receipt(order, payment, receipt), receipt.number)


def note_pdf(reference: str) -> Response:
    """The signed note of a paid note order (only this order's access code unlocks it)."""

    order = open_order(reference)
    if order.service != NOTE_SERVICE or not order.parcel_ref:
        raise NotFound(_("This order is not for a note."), reference=order.reference)
    if order.status != "paid":
        raise PaymentRequired(_("The note is released once the order is paid."), reference=order.reference)
    p = portal()
    parcel = find_parcel(p.store, ParcelQuery.from_mapping({"ref": order.parcel_ref}), None)
    note = build_note(p.store, p.catalogue, parcel, limits=CoverLimits.from_settings(p.settings))
    response = pdf_response(note, order.note_lang or "both", throttled=False)
    service().orders.set_note_number(order, response.headers["X-Note-Number"])
    return response


def init_app(app: Flask) -> None:
    """The payments service, the callback's CSRF exemption and the template helpers (the pages are :data:`bp`; the
    sandbox gateway, the API and the staff pages: :mod:`gisportal.web.services.payments.sandbox`,
    :mod:`~gisportal.web.services.payments.api`, :mod:`~gisportal.web.services.payments.admin`)."""
    p = app.extensions["gisportal"]
    fees = FeeBook(p.agency, load_schedule(p.settings.fees_file))
    app.extensions["gisportal_payments"] = PaymentsService(fees, Orders(p.agency, fees), hmac_secret(p.settings))
    app.extensions["gisportal_csrf"].exempt(payment_callback)  # server-to-server, HMAC-signed
    app.add_template_filter(mad, "mad")
    app.jinja_env.globals.setdefault("order_url", order_url)


#: The fees, the orders and their documents, the gateways' callback and return.
bp = Blueprint("payments", __name__)
bp.add_url_rule("/fees", "fees", fees_page)
bp.add_url_rule("/payments/orders/<reference>/pay", "pay", order_pay, methods=["POST"])
bp.add_url_rule("/payments/callback/<provider_name>", "callback", payment_callback, methods=["POST"])
bp.add_url_rule("/payments/return/<provider_name>", "provider_return", payment_return)


@bp.record
def _limited_routes(state: BlueprintSetupState) -> None:
    """Ordering (POSTs rate-limited) and the pages behind an order's access code (wrong codes limited), with the
    app's limiter (one per app: declared when the blueprint is registered)."""
    limiter = state.app.extensions["gisportal_limiter"]
    limit = limiter.limit(lambda: portal().settings.form_rate_limit, methods=["POST"])
    wrong_code = wrong_code_limit(limiter)
    state.add_url_rule("/payments/orders", "order_create", limit(order_create), methods=["POST"])
    state.add_url_rule("/payments/orders/<reference>", "order", wrong_code(order_page))
    state.add_url_rule("/payments/orders/<reference>/invoice.pdf", "invoice", wrong_code(invoice_pdf))
    state.add_url_rule("/payments/orders/<reference>/receipt.pdf", "receipt", wrong_code(receipt_pdf))
    state.add_url_rule("/payments/orders/<reference>/note.pdf", "note", wrong_code(note_pdf))
