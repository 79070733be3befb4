"""The lean note path (``gisportal.web.note.notes_wsgi``, issue #13): anonymous JSON GETs of ``/api/v1/notes`` are
answered in front of the app (bare, or in the app's request context when the client asks for compression),
everything else by the app, and both give the very same answer: the same body, byte for byte, the same headers."""

from __future__ import annotations

import gzip
import re
from urllib.parse import urlencode

import pytest
from werkzeug.test import Client

from gisportal.web.note.notes_wsgi import NoteFront

GZIP = {"Accept-Encoding": "gzip, deflate"}
ANY = ["*"]
#: (query, headers, answered in front of the app, the cors_origins setting)
CASES = [({"ref": "TF-1001/06"}, {}, True, ANY),
         ({"ref": "tf 1002/06", "unknown": "kept out"}, {"Accept-Language": "ar"}, True, ANY),
         ({"ref": "TF-1002/06", "as_of": "2010-01-01"}, {"Cookie": "lang=ar"}, True, ANY),
         ({"ref": "TF-1001/06", "format": "json"}, {}, True, ANY),
         ({"ref": "TF-1001/06"}, {"Origin": "https://other.example"}, True, ANY),  # CORS: the public API is shared
         ({"ref": "TF-1001/06"}, {"Origin": "https://o.example", "Cookie": "lang=fr"}, True, ANY),  # no CORS: cookies
         ({"ref": "TF-1001/06"}, GZIP, True, ANY),  # compressed, by the app's Flask-Compress
         ({"ref": "TF-1001/06"}, {**GZIP, "Accept-Language": "en", "Origin": "https://x.example"}, True, ANY),
         ({"ref": "TF-1001/06"}, {"Accept-Encoding": "identity"}, True, ANY),
         ({"ref": "TF-1001/06"}, {"Origin": "https://other.example"}, True, ["https://other.example"]),
         ({"ref": "TF-1001/06"}, {**GZIP, "Origin": "https://other.example"}, True, ["https://other.example"]),
         ({"ref": "TF-1001/06"}, {"Origin": "https://x.example"}, True, ["https://other.example"]),
         ({"ref": "TF-1001/06", "lang": "ar"}, {}, False, ANY),  # the app remembers the language in a cookie
         ({"ref": "TF-1001/06"}, {"Cookie": "session=x"}, False, ANY),  # maybe signed in: the app's
         ({"ref": "TF-1001/06"}, {"Authorization": "Bearer x"}, False, ANY),
         ({"ref": "TF-1001/06"}, {"Host": "evil.example"}, False, ANY),  # 400: a host the app does not answer for
         ({"ref": "TF-1001/06", "format": "html"}, {}, False, ANY),
         ({"ref": "TF-9999/06"}, {}, False, ANY),  # 404 by the app's error handler
         ({"ref": "TF-9999/06"}, GZIP, False, ANY),
         ({"lon": "abc", "lat": "35"}, {}, False, ANY),  # 422 by webargs
         ({}, {}, False, ANY)]


class _Spy:
    """The app behind the front, counting the requests it answers."""

    def __init__(self, wsgi_app) -> None:
        self.wsgi_app, self.calls = wsgi_app, 0

    def __call__(self, environ, start_response):
        self.calls += 1
        return self.wsgi_app(environ, start_response)


def _get(wsgi_app, path: str, headers: dict[str, str]):
    """GET ``path`` with ``headers`` (a ``Cookie`` header's cookies set in the client's jar: the test client
    replaces that header with its jar's cookies)."""
    client = Client(wsgi_app)
    headers = dict(headers)
    for pair in filter(None, headers.pop("Cookie", "").split(";")):
        name, _, value = pair.strip().partition("=")
        client.set_cookie(name, value)
    return client.get(path, headers=headers)


def _body(response) -> bytes:
    data = response.get_data()
    return gzip.decompress(data) if response.headers.get("Content-Encoding") == "gzip" else data


@pytest.mark.parametrize("query, headers, lean, origins", CASES)
def test_the_lean_path_answers_exactly_as_the_app(tiny_app, monkeypatch, query, headers, lean, origins):
    front = tiny_app.wsgi_app
    assert isinstance(front, NoteFront)
    monkeypatch.setattr(tiny_app.extensions["gisportal"].settings, "cors_origins", origins)
    spy = _Spy(front.wsgi_app)
    monkeypatch.setattr(front, "wsgi_app", spy)
    path = "/api/v1/notes?" + urlencode(query)
    through_front = _get(front, path, headers)
    assert (spy.calls == 0) == lean
    through_app = _get(spy.wsgi_app, path, headers)  # the app alone, every hook and wrapper
    steady = re.compile(rb'"generated_at":"[^"]*"')
    assert through_front.status_code == through_app.status_code
    if query.get("format") != "html":  # (the page prints the time it was made, to the second)
        assert steady.sub(b"", _body(through_front)) == steady.sub(b"", _body(through_app))
        nonce = re.compile(r"'nonce-[^']*'")
        assert (sorted((k, nonce.sub("", v)) for k, v in through_front.headers.items() if k != "Content-Length")
                == sorted((k, nonce.sub("", v)) for k, v in through_app.headers.items() if k != "Content-Length"))
    if lean:  # an anonymous JSON note does not vary with cookies (shared caches keep working)
        assert "Cookie" not in through_front.headers.get("Vary", "")
        assert "nonce" not in through_front.headers["Content-Security-Policy"]  # a JSON answer runs no script
        assert through_front.headers.get("Content-Encoding") == ("gzip" if "gzip" in
                                                                 headers.get("Accept-Encoding", "") else None)
        shared = "Origin" in headers and "Cookie" not in headers
        assert through_front.headers.get("Access-Control-Allow-Origin") == (
            (origins[0] if origins == ["*"] else headers["Origin"] if headers["Origin"] in origins else None)
            if shared else None)


def test_other_paths_and_methods_go_to_the_app(tiny_app):
    client = Client(tiny_app.wsgi_app)
    assert client.post("/api/v1/notes?ref=TF-1001/06").status_code == 405
    assert client.get("/api/v1/notes/?ref=TF-1001/06").status_code in (308, 404)
    assert client.get("/api/v1/plans").status_code == 200
