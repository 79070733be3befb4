"""Anonymous JSON GETs of the note (``GET /api/v1/notes``), answered by a lean WSGI app in front of the portal.

The note is the busiest endpoint, and for an anonymous JSON GET most of a full Flask dispatch does nothing: no
sign-in, no CSRF, no rate limit, no language cookie to set, and the flask-smorest/webargs layers around the view.
:class:`NoteFront` wraps ``app.wsgi_app`` (Flask's documented way to add WSGI middleware) and dispatches by path:
it answers those requests inside the app's own request context (``app.request_context``: the store, ``url_for``
and the language work as in a view) with the view's own parts (the note schema, :func:`note_view_data`,
:func:`json_response`), then the app's ``process_response`` (its after-request hooks, e.g. headers every answer
carries; the session, untouched, is not saved and adds no ``Vary: Cookie``).

Everything else goes to the app untouched: other paths and methods, ``?lang=`` (the app remembers it in a
cookie), other formats, a request with any cookie but ``lang`` (a session: maybe signed in), and every request
the lean path cannot answer with a note (invalid arguments, no parcel there, an unexpected error): the app answers
those itself, error handler included, so every answer is the app's own, byte for byte.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, Response
from marshmallow import EXCLUDE

from gisportal.web.api import NOTE_ARGS, note_view_data
from gisportal.web.core.context import json_response
from gisportal.web.core.i18n import COOKIE

logger = logging.getLogger(__name__)

#: The path answered here (GET, JSON, anonymous).
PATH = "/api/v1/notes"

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class NoteFront:
    """WSGI middleware: the lean note app for anonymous JSON GETs of :data:`PATH`, the portal for the rest."""

    def __init__(self, app: Flask, wsgi_app: WSGIApp) -> None:
        self.app, self.wsgi_app = app, wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == PATH and environ.get("REQUEST_METHOD") == "GET":
            response = self.answer(environ)
            if response is not None:
                return response(environ, start_response)
        return self.wsgi_app(environ, start_response)

    def answer(self, environ: dict[str, Any]) -> Response | None:
        """The note's JSON answer, or ``None`` when the request is for the portal to answer."""
        with self.app.request_context(environ) as context:
            request = context.request
            args = request.args
            if "lang" in args or args.get("format", "json") != "json":
                return None
            if "HTTP_COOKIE" in environ and any(name != COOKIE for name in request.cookies):
                return None
            try:
                self.app.extensions["gisportal"].refresh()  # the app's first before-request hook
                # As webargs loads a query: the first of repeated keys, unknown keys left out.
                _note, data = note_view_data(NOTE_ARGS.load(args.to_dict(), unknown=EXCLUDE))
                return self.app.process_response(json_response(data))  # after-request hooks, session
            except Exception:  # noqa: BLE001 - invalid input, no parcel, or a fault: the portal answers it itself
                return None
