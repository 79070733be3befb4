"""The lean note path (``gisportal.web.note.notes_wsgi``, issue #13): anonymous JSON GETs of ``/api/v1/notes`` are
answered in front of the app, everything else by the app, and both give the very same answer, byte for byte."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from werkzeug.test import Client, EnvironBuilder

from gisportal.web.note.notes_wsgi import NoteFront

#: (query, headers, answered by the lean path)
CASES = [({"ref": "TF-1001/06"}, {}, True),
         ({"ref": "tf 1002/06", "unknown": "kept out"}, {"Accept-Language": "ar"}, True),
         ({"ref": "TF-1002/06", "as_of": "2010-01-01"}, {"Cookie": "lang=ar"}, True),
         ({"ref": "TF-1001/06", "format": "json"}, {}, True),
         ({"ref": "TF-1001/06", "lang": "ar"}, {}, False),  # the app remembers the language in a cookie
         ({"ref": "TF-1001/06"}, {"Cookie": "session=x"}, False),  # maybe signed in: the app's
         ({"ref": "TF-1001/06", "format": "html"}, {}, False),
         ({"ref": "TF-9999/06"}, {}, False),  # 404 by the app's error handler
         ({"lon": "abc", "lat": "35"}, {}, False),  # 422 by webargs
         ({}, {}, False)]


@pytest.mark.parametrize("query, headers, lean", CASES)
def test_the_lean_path_answers_exactly_as_the_app(tiny_app, query, headers, lean):
    front = tiny_app.wsgi_app
    assert isinstance(front, NoteFront)
    path = "/api/v1/notes?" + urlencode(query)
    through_front = Client(front).get(path, headers=headers)
    through_app = Client(front.wsgi_app).get(path, headers=headers)  # the app alone, every hook and wrapper
    steady = re.compile(rb'"generated_at":"[^"]*"')
    assert through_front.status_code == through_app.status_code
    if query.get("format") != "html":  # (the page prints the time it was made, to the second)
        assert steady.sub(b"", through_front.get_data()) == steady.sub(b"", through_app.get_data())
        nonce = re.compile(r"'nonce-[^']*'")  # one per response (the Content-Security-Policy, issue #14)
        assert (sorted((k, nonce.sub("", v)) for k, v in through_front.headers.items())
                == sorted((k, nonce.sub("", v)) for k, v in through_app.headers.items()))
    if lean:  # an anonymous JSON note does not vary with cookies (shared caches keep working)
        assert "Cookie" not in through_front.headers.get("Vary", "")
    environ = EnvironBuilder(path="/api/v1/notes", query_string=urlencode(query), headers=headers).get_environ()
    assert (front.answer(environ) is not None) == lean


def test_other_paths_and_methods_go_to_the_app(tiny_app):
    client = Client(tiny_app.wsgi_app)
    assert client.post("/api/v1/notes?ref=TF-1001/06").status_code == 405
    assert client.get("/api/v1/notes/?ref=TF-1001/06").status_code in (308, 404)
    assert client.get("/api/v1/plans").status_code == 200
