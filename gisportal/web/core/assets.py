"""Front-end assets served from installed packages: nothing is fetched from the internet.

Leaflet comes from the ``xstatic-leaflet`` package; the libraries npm installs (Leaflet.VectorGrid, Swagger UI)
are copied by ``make install`` into ``static/vendor/`` and ship inside the package with the other static files.
The app serves each under ``/vendor/<lib>/``.
"""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path

import xstatic.pkg.leaflet as leaflet
from flask import Blueprint, Response, abort, redirect, send_from_directory, url_for
from flask.typing import ResponseReturnValue

from gisportal.core.resources import resource_dir

logger = logging.getLogger(__name__)


def vendor_dirs() -> dict[str, Path]:
    """Name -> directory of each vendored front-end library."""
    vendor = resource_dir("static") / "vendor"
    return {"leaflet": Path(leaflet.BASE_DIR), "vectorgrid": vendor / "vectorgrid", "swagger-ui": vendor / "swagger-ui",
            "geoman": vendor / "geoman", "pmtiles": vendor / "pmtiles"}


@cache
def _vendor_dirs() -> dict[str, Path]:
    """:func:`vendor_dirs`, worked out once (the installed packages do not move while the process runs)."""
    return vendor_dirs()


#: The vendored front-end libraries and the favicon.
bp = Blueprint("assets", __name__)


@bp.get("/vendor/<lib>/<path:filename>")
def vendor(lib: str, filename: str) -> Response:
    """One file of a vendored library (404 for a library that is not one of :func:`vendor_dirs`)."""
    dirs = _vendor_dirs()
    if lib not in dirs:
        abort(404)
    return send_from_directory(dirs[lib], filename, max_age=7 * 24 * 3600)


@bp.get("/favicon.ico")
def favicon() -> ResponseReturnValue:
    """The favicon's old address, moved for good to the static SVG."""
    return redirect(url_for("static", filename="img/favicon.svg"), code=301)
