"""One place mapping errors to responses: JSON under ``/api/``, a page elsewhere.

Domain errors carry their HTTP status (:mod:`gisportal.errors`); request
validation errors (422 from webargs) are reworded for people; anything
unexpected is logged and answered with a plain 500 that leaks nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, render_template, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from gisportal.errors import GisportalError, Told

logger = logging.getLogger(__name__)


def _wants_json() -> bool:
    return request.path.startswith(("/api/", "/tiles/", "/keys"))


def _respond(status: int, payload: dict[str, Any]) -> Response:
    if _wants_json():
        from gisportal.web.api import json_response

        return json_response(payload, status)
    return Response(render_template("error.html", status=status, error=payload), status=status,
                    mimetype="text/html")


def _validation_message(messages: dict[str, Any]) -> str:
    parts = []
    for _location, fields in (messages or {}).items():
        for name, problems in (fields or {}).items():
            text = " ".join(problems) if isinstance(problems, list) else str(problems)
            parts.append(f"'{name}': {text}")
    return "Invalid request parameters: " + "; ".join(parts) if parts else "Invalid request parameters."


def tell(message: str) -> str:
    """A domain message in the page's language when the domain made it with :func:`gisportal.errors.told`."""
    if isinstance(message, Told):
        return _(message.template, **message.params)
    return message


def handle_domain_error(error: GisportalError) -> Response:
    """A domain error: its own status and message (told in the page's language on pages; English in JSON)."""
    logger.info("%s %s -> %d %s", request.method, request.path, error.status, error.code)
    payload = error.to_dict()
    if not _wants_json():
        payload["message"] = tell(error.message)
    return _respond(error.status, payload)


def handle_http_error(error: HTTPException) -> Response:
    """Werkzeug/webargs errors (404 route, 405, 422 validation...)."""
    data = getattr(error, "data", None) or {}
    if "messages" in data:
        payload = {"error": "invalid_parameters", "message": _validation_message(data["messages"]),
                   "errors": data["messages"]}
    else:
        payload = {"error": (error.name or "error").lower().replace(" ", "_"),
                   "message": error.description or error.name}
    response = _respond(error.code or 500, payload)
    for key, value in (data.get("headers") or {}).items():
        response.headers[key] = value
    return response


def handle_unexpected(error: Exception) -> Response:
    """A bug: log it with its traceback, answer a plain 500."""
    logger.error("unexpected error on %s %s", request.method, request.path, exc_info=error)
    return _respond(500, {"error": "internal_error", "message": _("Something went wrong on our side.")})


def init_app(app: Flask) -> None:
    """Register the handlers (after flask-smorest, so ours win)."""
    app.register_error_handler(GisportalError, handle_domain_error)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(Exception, handle_unexpected)
