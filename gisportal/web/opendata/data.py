"""Open data: the ``/data`` page and the downloads under ``/api/v1/downloads`` (files served from disk, streamed,
with a strong ETag)."""

from __future__ import annotations

import hashlib
import logging
from datetime import date
from typing import Any

from flask import Blueprint as PagesBlueprint
from flask import Flask, Response, render_template, request, send_file
from flask.views import MethodView
from flask_smorest import Blueprint

from gisportal.opendata import downloads
from gisportal.web.core.context import Portal, json_response, portal, public_base
from gisportal.web.core.schemas import ProblemSchema
from gisportal.zoning.rulesbook import to_csv

logger = logging.getLogger(__name__)

CACHE_SECONDS = 300

blp = Blueprint("downloads_api", __name__, url_prefix="/api/v1",
                description="Open data: every plan version, the parcels and the rules, as files.")


def _built(p: Portal, download: downloads.Download, wait: bool = True) -> tuple[Any, str | None, int | None]:
    """(file or bytes, etag, size) of a download; (None, None, None) for a large file not written yet when
    ``wait`` is false (its writing is started)."""
    if download.fmt == "csv":
        body = downloads.safe_csv(to_csv(p.catalogue))
        return body, hashlib.sha256(body).hexdigest()[:32], len(body)
    try:
        built = downloads.prepare(p.store, download, p.settings.data_dir / "downloads",
                                  p.settings.open_data_licence, p.settings.agency_name_fr)
    except downloads.Preparing:
        if wait:
            raise
        return None, None, None
    return built.path, built.etag, built.size


def _entries(p: Portal) -> list[dict[str, Any]]:
    entries = []
    for download in downloads.catalogue(p.store, date.today()):
        _body, etag, size = _built(p, download, wait=False)
        entry: dict[str, Any] = {"name": download.name, "url": f"{public_base()}/api/v1/downloads/{download.name}",
                                 "layer": download.layer, "format": download.fmt, "media_type": download.media_type,
                                 "size": size, "etag": etag, "status": download.status,
                                 "licence": p.settings.open_data_licence}
        if download.version is not None:
            entry.update(downloads.metadata(download, p.settings.open_data_licence, p.settings.agency_name_fr))
        entries.append(entry)
    return entries


def data_page() -> str:
    """Every plan version, the parcels and the rules, to download; the OGC API's address."""
    p = portal()
    entries = _entries(p)
    groups: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        key = f"{entry.get('plan', '')}|{entry.get('plan_version', '')}|{entry['layer']}"
        groups.setdefault(key, []).append(entry)
    return render_template("opendata/data.html", groups=list(groups.values()), licence=p.settings.open_data_licence,
                           ogc_url=f"{public_base()}/ogc")


@blp.route("/downloads", endpoint="downloads")
class Downloads(MethodView):
    @blp.alt_response(200, success=True, description="Names, stable URLs, sizes, ETags, approval acts, dates, licence")
    def get(self) -> Response:
        """Every downloadable file: each plan version (in force, superseded, lapsed) and layer as GeoPackage,
        zipped shapefile and GeoJSON, the parcels, the rules catalogue as CSV."""
        return json_response({"downloads": _entries(portal())})


@blp.route("/downloads/<name>", endpoint="download")
class Download(MethodView):
    @blp.alt_response(200, success=True, description="The file (GeoPackage, zipped shapefile, GeoJSON or CSV)")
    @blp.alt_response(304, description="Not modified (If-None-Match)")
    @blp.alt_response(404, schema=ProblemSchema, description="No such file")
    @blp.alt_response(503, schema=ProblemSchema, description="The file is being prepared: ask again after Retry-After")
    def get(self, name: str) -> Response:
        """One file by its stable name, streamed from disk, with a strong ETag."""
        return download_file(name)


def download_file(name: str) -> Response:
    """One file, streamed from disk; 304 when the client has it (If-None-Match)."""
    p = portal()
    download = downloads.find(p.store, name, date.today())
    try:
        body, etag, _size = _built(p, download)
    except downloads.Preparing as exc:
        response = json_response(exc.to_dict(), exc.status)
        response.headers["Retry-After"] = str(downloads.RETRY_AFTER_S)
        return response
    assert etag is not None  # _built waits: it answers no etag only when told not to
    if download.fmt == "csv":
        response = Response(body, mimetype="text/csv", headers={
            "Content-Disposition": f'attachment; filename="{download.name}"'})
        response.set_etag(etag)
        response.cache_control.max_age = CACHE_SECONDS
        response.make_conditional(request)  # in place
        return response
    return send_file(body, mimetype=download.media_type, as_attachment=True, download_name=download.name,
                     etag=etag, conditional=True, max_age=CACHE_SECONDS)


def init_app(app: Flask) -> None:
    """Register the downloads (the page is :data:`bp`)."""
    app.extensions["gisportal_api"].register_blueprint(blp)


#: The open-data page.
bp = PagesBlueprint("opendata", __name__)
bp.add_url_rule("/data", "data", data_page)
