"""Front-end assets served from installed packages: nothing is fetched from the internet.

Leaflet comes from the ``xstatic-leaflet`` package; the libraries npm installs (Leaflet.VectorGrid, Swagger UI)
are copied by ``make install`` into ``static/vendor/`` and ship inside the package with the other static files.
The app serves each under ``/vendor/<lib>/``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import xstatic.pkg.leaflet as leaflet
from flask import Flask, Response, abort, redirect, send_from_directory, url_for
from flask.typing import ResponseReturnValue

from gisportal.core.resources import resource_dir

logger = logging.getLogger(__name__)


def vendor_dirs() -> dict[str, Path]:
    """Name -> directory of each vendored front-end library."""
    vendor = resource_dir("static") / "vendor"
    return {"leaflet": Path(leaflet.BASE_DIR), "vectorgrid": vendor / "vectorgrid", "swagger-ui": vendor / "swagger-ui",
            "geoman": vendor / "geoman", "pmtiles": vendor / "pmtiles"}


def init_app(app: Flask) -> None:
    """Register the ``/vendor/<lib>/<path>`` route."""
    dirs = vendor_dirs()

    @app.get("/vendor/<lib>/<path:filename>")
    def vendor(lib: str, filename: str) -> Response:
        if lib not in dirs:
            abort(404)
        return send_from_directory(dirs[lib], filename, max_age=7 * 24 * 3600)

    @app.get("/favicon.ico")
    def favicon() -> ResponseReturnValue:
        return redirect(url_for("static", filename="img/favicon.svg"), code=301)
