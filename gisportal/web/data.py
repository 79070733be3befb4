"""Open data: the ``/data`` page and the downloads under ``/api/v1/downloads`` (files served from disk, streamed,
with a strong ETag)."""

from __future__ import annotations

import hashlib
import logging
from datetime import date
from typing import Any

from flask import Flask, Response, render_template, request, send_file

from gisportal import downloads
from gisportal.rulesbook import to_csv
from gisportal.web.api import json_response
from gisportal.web.context import Portal, portal, public_base

logger = logging.getLogger(__name__)

CACHE_SECONDS = 300


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
    return render_template("data.html", groups=list(groups.values()), licence=p.settings.open_data_licence,
                           ogc_url=f"{public_base()}/ogc")


def list_downloads() -> Response:
    """The downloads as JSON (names, stable URLs, sizes, ETags, approval acts, dates, licence)."""
    return json_response({"downloads": _entries(portal())})


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
    """Register the open-data page and downloads."""
    app.add_url_rule("/data", "data", data_page)
    app.add_url_rule("/api/v1/downloads", "downloads", list_downloads)
    app.add_url_rule("/api/v1/downloads/<name>", "download", download_file)
