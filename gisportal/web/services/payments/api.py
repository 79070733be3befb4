"""Fees, orders and payment status through the JSON API (``/api/v1``), documented in the OpenAPI document.

Public calls without cookie authentication: the order's access code (``t``)
is the key to an order, so the blueprint is exempt from CSRF; creating an
order is rate-limited per address like the public forms.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, request, url_for
from flask_limiter import Limiter
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from gisportal.web.core.context import json_response, portal
from gisportal.web.core.request_codes import RequestCode
from gisportal.web.core.schemas import ProblemSchema
from gisportal.web.core.throttle import wrong_code_limit
from gisportal.web.services.payments.public import (
    base_url,
    create_order,
    order_url,
    payment_redirect,
    quote_request,
    service,
)

logger = logging.getLogger(__name__)

blp = Blueprint("payments_api", __name__, url_prefix="/api/v1",
                description="Fees, quotes, orders and their payment (sandbox provider in tests).")


class QuoteArgs(Schema):
    service = fields.String(required=True, validate=validate.Length(min=1, max=64),
                            metadata={"description": "Service code, e.g. nru_note, permit_study, plan_copy"})
    project_type = fields.String(validate=validate.Length(max=64),
                                 metadata={"description": "Permit study: housing, commercial, industrial..."})
    floor_area_m2 = fields.String(validate=validate.Length(max=20),
                                  metadata={"description": "Permit study: floor area in m² (two decimals at most)"})
    format = fields.String(validate=validate.Length(max=20), metadata={"description": "Copies: A4, A3, A0..."})
    sheets = fields.Integer(validate=validate.Range(1, 10000), metadata={"description": "Copies: number of sheets"})
    date = fields.Date(metadata={"description": "Quote with the schedule in force on this date (default today)"})


class OrderArgs(QuoteArgs):
    parcel_ref = fields.String(validate=validate.Length(max=64),
                               metadata={"description": "Note orders: the parcel's land-title reference"})
    lang = fields.String(validate=validate.OneOf(["fr", "ar", "both"]),
                         metadata={"description": "Note orders: language of the note (default both)"})

    class Meta:
        exclude = ("date",)


#: The order's access code: the ``X-Access-Code`` header, else the ``t`` parameter.
ACCESS_CODE = RequestCode("t", "X-Access-Code", "The order's access code (given when the order is created)")


class QuoteLineSchema(Schema):
    label = fields.Dict(keys=fields.String(), values=fields.String())
    quantity = fields.String()
    unit_amount = fields.Integer(metadata={"description": "centimes of MAD"})
    amount = fields.Integer(metadata={"description": "centimes of MAD"})


class QuoteSchema(Schema):
    service = fields.String()
    label = fields.Dict(keys=fields.String(), values=fields.String())
    params = fields.Dict()
    currency = fields.String()
    lines = fields.List(fields.Nested(QuoteLineSchema))
    subtotal = fields.Integer()
    vat_percent = fields.Integer()
    vat = fields.Integer()
    stamp_duty = fields.Integer()
    total = fields.Integer(metadata={"description": "centimes of MAD"})
    schedule_version = fields.Integer()
    effective_from = fields.String(allow_none=True)
    quoted_on = fields.String()


class PaymentSchema(Schema):
    provider = fields.String()
    transaction_id = fields.String()
    amount = fields.Integer()
    currency = fields.String()
    status = fields.String(metadata={"description": "authorised, declined or duplicate"})
    received_at = fields.String()
    receipt_number = fields.String(allow_none=True)


class OrderSchema(Schema):
    reference = fields.String(metadata={"description": "e.g. CMD-2026-000123"})
    invoice_number = fields.String()
    service = fields.String()
    parcel_ref = fields.String(allow_none=True)
    status = fields.String(metadata={"description": "pending or paid"})
    amount = fields.Integer(metadata={"description": "centimes of MAD"})
    currency = fields.String()
    quote = fields.Nested(QuoteSchema)
    created_at = fields.String()
    paid_at = fields.String(allow_none=True)
    payments = fields.List(fields.Nested(PaymentSchema))
    links = fields.Dict(keys=fields.String(), values=fields.String())
    access_token = fields.String(metadata={"description": "Only in the answer to the creation: keep it"})


class PaymentStartSchema(Schema):
    redirect_url = fields.String(metadata={"description": "Send the person there to pay"})


def _errors(view: Any) -> Any:
    for status, text in ((400, "Bad request: a parameter is missing or wrong"), (404, "Unknown order or code"),
                         (422, "Invalid parameters")):
        view = blp.alt_response(status, schema=ProblemSchema, description=text)(view)
    return view


def _order_json(order: Any) -> dict[str, Any]:
    svc = service()
    links = {"self": base_url() + url_for("payments_api.order_status", reference=order.reference,
                                          t=order.access_token),
             "page": order_url(order, external=True),
             "invoice": order_url(order, "payments.invoice", external=True)}
    if order.status == "paid":
        links["receipt"] = order_url(order, "payments.receipt", external=True)
        if order.parcel_ref:
            links["note"] = order_url(order, "payments.note", external=True)
    return {**order.to_dict(), "payments": [p.to_dict() for p in svc.orders.payments_of(order)], "links": links}


@blp.route("/fees/quote", endpoint="fee_quote")
@blp.arguments(QuoteArgs(), location="query")
@blp.alt_response(200, schema=QuoteSchema, success=True, description="What the request costs, line by line")
@_errors
def fee_quote(args: dict[str, Any]) -> Response:
    """The quote of a service with the fee schedule in force (today, or on ``date``); amounts in centimes."""
    return json_response(service().fees.quote(quote_request(args), args.get("date")).to_dict())


@blp.route("/fees", endpoint="fee_schedule")
@blp.alt_response(200, success=True, description="The fee schedule in force")
def fee_schedule() -> Response:
    """The services and their fees in force today (amounts in centimes of MAD)."""
    version = service().fees.in_force()
    return json_response({"version": version.id, "effective_from": version.effective_from.isoformat()
                          if version.effective_from else None,
                          **version.schedule.model_dump(mode="json", exclude_none=True)})


@blp.route("/orders", methods=["POST"], endpoint="order_create")
@blp.arguments(OrderArgs())
@blp.alt_response(201, schema=OrderSchema, success=True, description="The order, with its access code")
@_errors
def order_create(args: dict[str, Any]) -> Response:
    """Order a service: the quote is frozen, the answer carries the reference, invoice number and access code."""
    order = create_order(args)
    return json_response({**_order_json(order), "access_token": order.access_token}, 201)


@blp.route("/orders/<reference>", endpoint="order_status")
@blp.arguments(ACCESS_CODE.query_schema(), location="query")
@blp.arguments(ACCESS_CODE.header_schema(), location="headers")
@blp.alt_response(200, schema=OrderSchema, success=True, description="The order and its payments")
@_errors
def order_status(args: dict[str, Any], headers: dict[str, Any], reference: str) -> Response:
    """An order's status and payments (with its access code: ``X-Access-Code`` header or ``t``)."""
    return json_response(_order_json(service().orders.open(reference, ACCESS_CODE.read(args, headers))))


@blp.route("/orders/<reference>/payment", methods=["POST"], endpoint="order_payment")
@blp.arguments(ACCESS_CODE.query_schema(), location="query")
@blp.arguments(ACCESS_CODE.header_schema(), location="headers")
@blp.alt_response(200, schema=PaymentStartSchema, success=True, description="Where to pay")
@_errors
def order_payment(args: dict[str, Any], headers: dict[str, Any], reference: str) -> Response:
    """Start paying an order: the provider's payment page to send the person to."""
    order = service().orders.open(reference, ACCESS_CODE.read(args, headers))
    return json_response({"redirect_url": payment_redirect(order)})


def _not_order_create() -> bool:
    return request.endpoint != "payments_api.order_create"


def init_app(app: Flask) -> None:
    """Register the API blueprint (CSRF-exempt, order creation rate-limited like the page's form)."""
    limiter: Limiter = app.extensions["gisportal_limiter"]
    limiter.limit(lambda: portal().settings.form_rate_limit, methods=["POST"],  # POST /orders, not paying an
                  exempt_when=_not_order_create)(blp)  # order already made (its access code is the credential)
    wrong_code_limit(limiter)(blp)  # an order's status and payment, by access code
    app.extensions["gisportal_api"].register_blueprint(blp)
    app.extensions["gisportal_csrf"].exempt(blp)
