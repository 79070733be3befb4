"""Anonymous JSON GETs of the note (``GET /api/v1/notes``), answered by a lean WSGI app in front of the portal.

The note is the busiest endpoint, and for an anonymous JSON GET most of a full Flask dispatch does nothing: no
sign-in, no CSRF, no rate limit, no language cookie to set, and the flask-smorest/webargs layers around the view.
:class:`NoteFront` wraps ``app.wsgi_app`` (Flask's documented way to add WSGI middleware) and dispatches by path.
It answers in one of two ways, with the view's own parts (the note schema, :func:`note_data`, orjson):

* **bare**, when the client takes the answer as it is (no compression asked for): a plain WSGI answer, no Flask
  request context, with the headers the app's after-request hooks would give it, from the same functions
  (:class:`~gisportal.web.core.security.SecurityHeaders`, :func:`~gisportal.web.core.delivery.cors_headers`,
  Flask-Compress's ``Vary``);
* **in the app's request context** (``app.request_context``) otherwise, and through ``process_response``: the
  app's after-request hooks (Flask-Compress compresses the answer; the session, untouched, is not saved and adds
  no ``Vary: Cookie``).

Everything else goes to the app untouched: other paths and methods, ``?lang=`` (the app remembers it in a
cookie), other formats, a request with any cookie but ``lang`` (a session: maybe signed in) or with credentials, a
host the app does not answer for, and every request the lean path cannot answer with a note (invalid arguments, no
parcel there, an unexpected error): the app answers those itself, error handler included. Either way the answer is
the app's own: the same body, byte for byte, and the same headers (``tests/web/test_notes_wsgi.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

import orjson
from flask import Flask, Response
from marshmallow import EXCLUDE
from werkzeug.exceptions import SecurityError
from werkzeug.http import parse_accept_header
from werkzeug.routing import MapAdapter
from werkzeug.wrappers import Request
from werkzeug.wsgi import get_host

from gisportal.web.api import NOTE_ARGS, note_data, note_view_data
from gisportal.web.core.context import Portal, json_response
from gisportal.web.core.delivery import cors_headers
from gisportal.web.core.i18n import COOKIE, language_for
from gisportal.web.core.security import SecurityHeaders
from gisportal.web.note.regulations import DOCUMENT_ENDPOINT

logger = logging.getLogger(__name__)

#: The path answered here (GET, JSON, anonymous).
PATH = "/api/v1/notes"

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class NoteFront:
    """WSGI middleware: the lean note app for anonymous JSON GETs of :data:`PATH`, the portal for the rest."""

    def __init__(self, app: Flask, wsgi_app: WSGIApp) -> None:
        self.app, self.wsgi_app = app, wsgi_app
        self.portal: Portal = app.extensions["gisportal"]
        self.headers: SecurityHeaders = app.extensions["gisportal_security_headers"]
        self.compressions: tuple[str, ...] = tuple(app.config.get("COMPRESS_ALGORITHM") or ())

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == PATH and environ.get("REQUEST_METHOD") == "GET":
            request = Request(environ)
            if self._for_the_lean_path(request):
                if self._compressed(request):
                    response = self.answer(environ)
                    if response is not None:
                        return response(environ, start_response)
                else:
                    bare = self.bare_answer(request)
                    if bare is not None:
                        start_response("200 OK", bare[0])
                        return [bare[1]]
        return self.wsgi_app(environ, start_response)

    def _for_the_lean_path(self, request: Request) -> bool:
        """An anonymous JSON GET with no ``?lang=``, for a host the app answers for."""
        args = request.args
        if "lang" in args or args.get("format", "json") != "json" or "HTTP_AUTHORIZATION" in request.environ:
            return False
        if "HTTP_COOKIE" in request.environ and any(name != COOKIE for name in request.cookies):
            return False
        try:
            get_host(request.environ, self.app.config.get("TRUSTED_HOSTS"))
        except SecurityError:
            return False  # the app answers 400
        return True

    def _compressed(self, request: Request) -> bool:
        """Whether the client asks for an encoding the app compresses with (Flask-Compress answers it)."""
        header = request.environ.get("HTTP_ACCEPT_ENCODING")
        if not header:
            return False
        accepted = parse_accept_header(header)
        return any(accepted[name] for name in self.compressions)

    def bare_answer(self, request: Request) -> tuple[list[tuple[str, str]], bytes] | None:
        """The note's JSON answer (headers, body) without a Flask request context, or ``None`` when the request is
        for the app to answer."""
        p = self.portal
        try:
            p.refresh()  # the app's first before-request hook
            lang = language_for(p.settings, request)
            documents = self.app.extensions["gisportal_library_links"].for_notes(
                p, lang, lambda doc_id: self._urls(request).build(DOCUMENT_ENDPOINT, {"doc_id": doc_id}))
            # As webargs loads a query: the first of repeated keys, unknown keys left out.
            _note, data = note_data(p, NOTE_ARGS.load(request.args.to_dict(), unknown=EXCLUDE), lang, documents)
            body = orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY)
        except Exception:  # noqa: BLE001 - invalid input, no parcel, or a fault: the portal answers it itself
            return None
        cors = [] if "HTTP_COOKIE" in request.environ else cors_headers(
            p.settings.cors_origins, request.environ.get("HTTP_ORIGIN"), preflight=False)
        vary = "Origin, Accept-Encoding" if cors and cors[0][1] != "*" else "Accept-Encoding"
        return ([("Content-Type", "application/json"), ("Content-Length", str(len(body))), ("Vary", vary),
                 *self.headers.for_answer_without_scripts(), *cors], body)

    def _urls(self, request: Request) -> MapAdapter:
        """The app's URL map bound to ``request`` (what ``url_for`` uses in a request context)."""
        return self.app.url_map.bind_to_environ(request.environ)

    def answer(self, environ: dict[str, Any]) -> Response | None:
        """The note's JSON answer in the app's request context, through its after-request hooks (compression), or
        ``None`` when the request is for the portal to answer."""
        with self.app.request_context(environ) as context:
            try:
                self.portal.refresh()  # the app's first before-request hook
                _note, data = note_view_data(NOTE_ARGS.load(context.request.args.to_dict(), unknown=EXCLUDE))
                return self.app.process_response(json_response(data))  # after-request hooks, session
            except Exception:  # noqa: BLE001 - invalid input, no parcel, or a fault: the portal answers it itself
                return None
