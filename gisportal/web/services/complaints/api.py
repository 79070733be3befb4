"""The complaints API: ``POST /api/v1/complaints`` (multipart form: fields and up to five files) answers the
tracking number and the secret code; ``GET /api/v1/complaints/<number>?code=`` the status, timeline and answer.

Filing is exempt from CSRF (it uses no cookie) and rate-limited per address (see :func:`init_app` of
:mod:`gisportal.web.services.complaints.public`). What the API shows never includes the citizen's personal data.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response
from flask.views import MethodView
from flask_smorest import Blueprint
from flask_smorest.fields import Upload as UploadField
from marshmallow import Schema, fields, validate

from gisportal.services.complaints.intake import CATEGORIES
from gisportal.web.core.context import json_response, portal
from gisportal.web.core.request_codes import RequestCode
from gisportal.web.core.throttle import wrong_code_limit
from gisportal.web.services.complaints.public import (
    attachment_response,
    book,
    file_complaint,
    public_view,
    tracking_url,
)

logger = logging.getLogger(__name__)

blp = Blueprint("complaints_api", __name__, url_prefix="/api/v1/complaints",
                description="Complaints: file one, follow it with its number and secret code.")


class FilingSchema(Schema):
    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    description = fields.String(required=True, metadata={"description": "20 to 5000 characters"})
    lon = fields.Float(metadata={"description": "WGS84 longitude of the place (with lat), or give parcel_ref"})
    lat = fields.Float(metadata={"description": "WGS84 latitude of the place"})
    parcel_ref = fields.String(metadata={"description": "Land-title reference, e.g. TF-104523/06"})
    contact_name = fields.String(required=True, metadata={"description": "Seen by agency staff only"})
    contact_email = fields.String(metadata={"description": "For notifications; staff only"})
    contact_phone = fields.String(metadata={"description": "Staff only; e-mail or phone is required"})
    contact_cin = fields.String(metadata={"description": "National identity card number (optional, staff only)"})
    lang = fields.String(validate=validate.OneOf(["fr", "ar", "en"]))
    # read from the request's files (documented here: one multipart body)
    attachments = fields.List(UploadField(), load_only=True,
                              metadata={"description": "Up to 5 JPEG, PNG, WebP or PDF files"})


class FiledSchema(Schema):
    number = fields.String(metadata={"description": "Tracking number, e.g. RC-2026-000123"})
    code = fields.String(metadata={"description": "Secret code: shown once, needed to follow the complaint"})
    status = fields.String()
    tracking_url = fields.String()


#: The complaint's secret code: the ``X-Tracking-Code`` header, else the ``code`` parameter.
SECRET_CODE = RequestCode("code", "X-Tracking-Code", "The complaint's secret code (given when it is filed)")


class EventSchema(Schema):
    event, status, at, by, message = (fields.String(), fields.String(), fields.String(), fields.String(),
                                      fields.String(allow_none=True))


class StatusSchema(Schema):
    number, category, status, created_at = fields.String(), fields.String(), fields.String(), fields.String()
    parcel_ref, answer = fields.String(allow_none=True), fields.String(allow_none=True)
    lon, lat, open = fields.Float(), fields.Float(), fields.Boolean()
    timeline = fields.List(fields.Nested(EventSchema))
    attachments = fields.List(fields.Dict())


@blp.route("")
class ComplaintsCollection(MethodView):
    @blp.arguments(FilingSchema(), location="form", content_type="multipart/form-data")
    @blp.response(201, FiledSchema)
    @blp.alt_response(400, description="A field is missing or wrong (message says which)")
    @blp.alt_response(413, description="A file, or all of them together, too large")
    @blp.alt_response(422, description="The place is outside the territory")
    @blp.alt_response(429, description="Too many submissions from this address")
    def post(self, values: dict[str, Any]) -> Response:
        """File a complaint (multipart form); answers its tracking number and secret code."""
        complaint, code = file_complaint(values)
        return json_response({"number": complaint.number, "code": code, "status": complaint.status,
                              "tracking_url": tracking_url(complaint.number)}, 201)


@blp.route("/<number>")
class ComplaintStatus(MethodView):
    @blp.arguments(SECRET_CODE.query_schema(), location="query")
    @blp.arguments(SECRET_CODE.header_schema(), location="headers")
    @blp.response(200, StatusSchema)
    @blp.alt_response(404, description="No complaint matches this number and code")
    def get(self, args: dict[str, Any], headers: dict[str, Any], number: str) -> Response:
        """Status, timeline and answer of a complaint (needs its secret code)."""
        complaints = book()
        complaint = complaints.open_with_code(number, SECRET_CODE.read(args, headers))
        view = public_view(complaint, complaints.timeline(complaint), complaints.attachments(complaint),
                           lambda a: f"/api/v1/complaints/{complaint.number}/attachments/{a.id}")
        view.pop("description")
        return json_response(view)


@blp.route("/<number>/attachments/<int:attachment_id>")
class ComplaintAttachment(MethodView):
    @blp.arguments(SECRET_CODE.query_schema(), location="query")
    @blp.arguments(SECRET_CODE.header_schema(), location="headers")
    @blp.alt_response(200, description="The file (its checked content type, as a download)")
    @blp.alt_response(404, description="No complaint matches this number and code, or no such file")
    def get(self, args: dict[str, Any], headers: dict[str, Any], number: str, attachment_id: int) -> Response:
        """A file of a complaint (needs its secret code)."""
        complaints = book()
        complaint = complaints.open_with_code(number, SECRET_CODE.read(args, headers))
        return attachment_response(*complaints.attachment_file(complaint, attachment_id))


def init_app(app: Flask) -> None:
    """Register the API (CSRF-exempt filing: no cookie is used) with its rate limits."""
    limiter = app.extensions["gisportal_limiter"]
    limiter.limit(lambda: portal().settings.form_rate_limit, methods=["POST"])(blp)  # its only POST: filing
    wrong_code_limit(limiter)(blp)  # its GETs: a complaint's status and files, by secret code
    app.extensions["gisportal_api"].register_blueprint(blp)
    app.extensions["gisportal_csrf"].exempt(ComplaintsCollection)
