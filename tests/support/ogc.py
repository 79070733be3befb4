"""A real portal served over HTTP on a loopback port, recording the requests it receives (for the OGC API and
downloads tests driven by GDAL, OWSLib, ogctests and QGIS)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server


class _QuietHandler(WSGIRequestHandler):
    """Logs server errors only."""

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        if str(getattr(code, "value", code)).startswith("5"):
            super().log_request(code, size)


class Recorder:
    """WSGI middleware keeping (path, query string, status) of every request."""

    def __init__(self, app: Any) -> None:
        self.app, self.seen = app, []

    def __call__(self, environ: dict, start_response: Any) -> Any:
        entry = [environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", ""), None]
        self.seen.append(entry)

        def start(status: str, headers: list, exc_info: Any = None) -> Any:
            entry[2] = int(status.split()[0])
            return start_response(status, headers, exc_info)

        return self.app(environ, start)


@contextlib.contextmanager
def serving(make_app: Callable[[str], Any]) -> Iterator[tuple[str, Recorder]]:
    """The app ``make_app(base URL)`` builds, served by werkzeug on 127.0.0.1 and a free port: yields its base URL
    and the request recorder (the app gets its base URL as configuration: absolute links never come from Host)."""
    recorder = Recorder(None)
    server = make_server("127.0.0.1", 0, recorder, threaded=True, request_handler=_QuietHandler)
    recorder.app = make_app(f"http://127.0.0.1:{server.server_port}")
    thread = threading.Thread(target=server.serve_forever, name="ogc-test-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", recorder
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture(scope="module")
def ogc(tiny: SimpleNamespace) -> Iterator[SimpleNamespace]:
    """The tiny portal served on a loopback port: ``.base``, ``.url`` (…/ogc), ``.seen`` (requests received)."""
    from support.tiny import _create_app

    with serving(lambda base: _create_app({**tiny.settings, "rules_file": tiny.rules_file,
                                           "public_url": base})) as (base, recorder):
        yield SimpleNamespace(base=base, url=f"{base}/ogc", seen=recorder.seen, tiny=tiny)
