"""One place mapping errors to responses: JSON under ``/api/``, a page elsewhere.

Domain errors carry their HTTP status (:mod:`gisportal.core.errors`); request
validation errors (422 from webargs) are reworded for people; anything
unexpected is logged and answered with a plain 500 that leaks nothing.
"""

from __future__ import annotations

import errno
import logging
from typing import Any

from flask import Flask, Response, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException, SecurityError

from gisportal.core.errors import GisportalError, Told
from gisportal.web.core.context import json_response

logger = logging.getLogger(__name__)


def _wants_json() -> bool:
    return request.path.startswith(("/api/", "/tiles/", "/keys", "/ogc"))


def _respond(status: int, payload: dict[str, Any]) -> Response:
    if _wants_json():

        return json_response(payload, status)
    return Response(render_template("error.html", status=status, error=payload), status=status,
                    mimetype="text/html")


def _flatten(problems: Any) -> str:
    """Any shape of validation messages (string, list, nested dicts) as one line."""
    if isinstance(problems, dict):
        return "; ".join(f"{key}: {_flatten(value)}" for key, value in problems.items())
    if isinstance(problems, (list, tuple)):
        return " ".join(_flatten(item) for item in problems)
    return str(problems)


def _validation_message(messages: Any) -> str:
    """One readable line from webargs' messages, whatever their shape (location -> field -> problems usually)."""
    parts: list[str] = []
    if isinstance(messages, dict):
        for _location, fields in messages.items():
            if isinstance(fields, dict):
                parts.extend(f"'{name}': {_flatten(problems)}" for name, problems in fields.items())
            elif fields:
                parts.append(_flatten(fields))
    elif messages:
        parts.append(_flatten(messages))
    return "Invalid request parameters: " + "; ".join(parts) if parts else "Invalid request parameters."


def _json_safe(value: Any) -> Any:
    """Validation messages as plain JSON (keys as strings: marshmallow reports list items by int index)."""
    if isinstance(value, dict):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    return value if isinstance(value, (str, int, float, bool)) or value is None else str(value)


#: errno values meaning "the server cannot write now" (full disk, quota, read-only file system, permissions).
_STORAGE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}
_STORAGE_MESSAGES = ("database or disk is full", "readonly database", "read-only file system", "disk i/o error",
                     "no space left on device", "unable to open database file")


def storage_failure(error: BaseException) -> bool:
    """Whether ``error`` (or what caused it) is the server failing to write: a full disk, a read-only data dir."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _STORAGE_ERRNOS:
            return True
        if any(text in str(current).lower() for text in _STORAGE_MESSAGES):
            return True
        current = current.__cause__ or current.__context__ or getattr(current, "orig", None)
    return False


def tell(message: str) -> str:
    """A domain message in the page's language when the domain made it with :func:`gisportal.core.errors.told`."""
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


#: What a page says for the HTTP errors Werkzeug raises (its own descriptions are in English only).
_PAGE_MESSAGES = {
    404: _l("This page does not exist. Check the address, or start again from the map."),
    405: _l("This page cannot be used this way. Start again from the map."),
    413: _l("What was sent is too large."),
}


def handle_http_error(error: HTTPException) -> Response:
    """Werkzeug/webargs errors (404 route, 405, 422 validation...)."""
    if isinstance(error, SecurityError):  # a Host not trusted: no URL can be built, so no page
        return Response("Bad Request: unknown host.\n", status=400, mimetype="text/plain")
    data = getattr(error, "data", None) or {}
    if "messages" in data:
        payload = {"error": "invalid_parameters", "message": _validation_message(data["messages"]),
                   "errors": _json_safe(data["messages"])}
    else:
        payload = {"error": (error.name or "error").lower().replace(" ", "_"),
                   "message": error.description or error.name}
        if not _wants_json() and error.code in _PAGE_MESSAGES:  # Werkzeug's texts are English only
            payload["message"] = str(_PAGE_MESSAGES[error.code])
    response = _respond(error.code or 500, payload)
    for key, value in (data.get("headers") or {}).items():
        response.headers[key] = value
    return response


def handle_unexpected(error: Exception) -> Response:
    """A bug: log it with its traceback, answer a plain 500 (a 503 when the server cannot write: full disk...)."""
    if storage_failure(error):
        logger.error("storage failure on %s %s: %s", request.method, request.path, error)
        response = _respond(503, {"error": "service_unavailable",
                                  "message": _("The service cannot record anything right now. Nothing was "
                                               "changed; please try again later.")})
        response.headers["Retry-After"] = "300"
        return response
    logger.error("unexpected error on %s %s", request.method, request.path, exc_info=error)
    return _respond(500, {"error": "internal_error", "message": _("Something went wrong on our side.")})


def init_app(app: Flask) -> None:
    """Register the handlers (after flask-smorest, so ours win)."""
    app.register_error_handler(GisportalError, handle_domain_error)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(Exception, handle_unexpected)
