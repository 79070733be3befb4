"""The HTTP peer: a trivial Flask JSON endpoint, served exactly like ``gisportal serve``.

``python benchmarks/trivial_app.py --port 5101`` runs gunicorn with the settings
``gisportal serve`` uses (sync workers, ``--workers``, preload, access log to
stdout), on an app whose only route is ``GET /ok`` -> ``{"ok": true}``.
"""

from __future__ import annotations

import argparse
from typing import Any

from flask import Flask


def create_trivial_app() -> Flask:
    """A Flask app with one JSON route."""
    app = Flask(__name__)

    @app.get("/ok")
    def ok() -> dict[str, Any]:
        return {"ok": True}

    return app


def main() -> None:
    from gunicorn.app.base import BaseApplication

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5101)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    class _App(BaseApplication):  # same settings as gisportal.cli.commands.serve
        def load_config(self) -> None:
            self.cfg.set("bind", f"{args.host}:{args.port}")
            self.cfg.set("workers", args.workers)
            self.cfg.set("preload_app", True)
            self.cfg.set("accesslog", "-")

        def load(self) -> Any:
            return create_trivial_app()

    _App().run()


if __name__ == "__main__":
    main()
