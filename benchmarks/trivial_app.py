"""The HTTP peer: a trivial Flask JSON endpoint, served exactly like ``gisportal serve``.

``python benchmarks/trivial_app.py --port 5101`` runs gunicorn with the server ``gisportal serve`` uses
(:class:`gisportal.cli.serving.Server`: gthread workers and threads, keep-alive, preload, the masking access log
to stdout), on an app whose only route is ``GET /ok`` -> ``{"ok": true}``.
"""

from __future__ import annotations

import argparse
from typing import Any

from flask import Flask

from gisportal.cli.serving import Server


def create_trivial_app() -> Flask:
    """A Flask app with one JSON route."""
    app = Flask(__name__)

    @app.get("/ok")
    def ok() -> dict[str, Any]:
        return {"ok": True}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5101)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8, help="threads per worker (gisportal serve's default)")
    args = parser.parse_args()
    Server(create_trivial_app, args.host, args.port, args.workers, args.threads).run()


if __name__ == "__main__":
    main()
