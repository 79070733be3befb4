"""Front-end assets served from installed packages: nothing is fetched from the internet.

Leaflet comes from the ``xstatic-leaflet`` package; the app serves its files
under ``/vendor/leaflet/``.
"""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask, Response, abort, redirect, send_from_directory, url_for
from flask.typing import ResponseReturnValue

logger = logging.getLogger(__name__)


def vendor_dirs() -> dict[str, Path]:
    """Name -> directory of each vendored front-end library."""
    import xstatic.pkg.leaflet as leaflet

    from gisportal.settings import PROJECT_ROOT

    return {"leaflet": Path(leaflet.BASE_DIR),
            "vectorgrid": PROJECT_ROOT / "node_modules" / "leaflet.vectorgrid" / "dist",
            "geoman": PROJECT_ROOT / "node_modules" / "@geoman-io" / "leaflet-geoman-free" / "dist",
            "pmtiles": PROJECT_ROOT / "node_modules" / "pmtiles" / "dist"}


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
