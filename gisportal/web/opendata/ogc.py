"""OGC API – Features at ``/ogc``: a thin Blueprint over :mod:`gisportal.opendata.ogcapi` (JSON/GeoJSON or HTML by ``f``
and by content negotiation)."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

import orjson
from flask import Blueprint, Flask, Response, render_template, request

from gisportal.core.errors import InvalidInput, NotFound
from gisportal.opendata.ogcapi import crs as crs_mod
from gisportal.opendata.ogcapi import documents, openapi
from gisportal.opendata.ogcapi.query import items_request
from gisportal.web.core.context import portal, public_base

logger = logging.getLogger(__name__)

bp = Blueprint("ogc", __name__, url_prefix="/ogc")
_FORMATS = {"json": "json", "geojson": "json", "html": "html"}
_OPENAPI = "application/vnd.oai.openapi+json;version=3.0"


def _base() -> str:
    return public_base() + "/ogc"


def _wants_html() -> bool:
    value = request.args.get("f")
    if value is not None:
        if value not in _FORMATS:
            raise InvalidInput("'f' must be json or html.", parameter="f")
        return _FORMATS[value] == "html"
    best = request.accept_mimetypes.best_match([documents.JSON, documents.GEOJSON, _OPENAPI, documents.HTML])
    return best == documents.HTML and request.accept_mimetypes[documents.HTML] > request.accept_mimetypes[
        documents.JSON]


def _only(*allowed: str) -> None:
    unknown = sorted(set(request.args) - set(allowed) - {"f", "lang"})
    if unknown:
        raise InvalidInput(f"Unknown parameter(s): {', '.join(unknown)}.", parameter=unknown[0])


def _answer(document: dict[str, Any] | bytes, mimetype: str, title: str, headers: dict[str, str] | None = None,
            rows: list[dict[str, Any]] | None = None) -> Response:
    if _wants_html():
        data = orjson.loads(document) if isinstance(document, bytes) else document
        page = render_template("opendata/ogc.html", title=title, document=data, rows=rows if rows is not None else None)
        return Response(page, mimetype="text/html", headers=headers)
    body = document if isinstance(document, bytes) else orjson.dumps(document)
    return Response(body, mimetype=mimetype, headers=headers)


def _layer(collection_id: str) -> str:
    if collection_id not in documents.COLLECTIONS:
        raise NotFound(f"No collection '{collection_id}'. Collections: {', '.join(documents.COLLECTIONS)}.",
                       collection=collection_id)
    return collection_id


def landing() -> Response:
    """The landing page."""
    _only()
    return _answer(documents.landing(_base(), portal().settings.agency_name_fr), documents.JSON, "OGC API")


def conformance() -> Response:
    """The conformance classes."""
    _only()
    return _answer(documents.conformance(), documents.JSON, "Conformance")


def api() -> Response:
    """The OpenAPI 3.0 definition."""
    _only()
    store = portal().store
    uris = crs_mod.supported(store.crs) if store.crs else [crs_mod.CRS84]
    return _answer(openapi.definition(_base(), portal().settings.agency_name_fr, uris), _OPENAPI, "OpenAPI")


def collections() -> Response:
    """Every collection."""
    _only()
    document = documents.collections(_base(), portal().store)
    return _answer(document, documents.JSON, "Collections", rows=[
        {"id": c["id"], "title": c["title"], "href": f"{_base()}/collections/{c['id']}/items?f=html"}
        for c in document["collections"]])


def collection(collection_id: str) -> Response:
    """One collection."""
    _only()
    layer = _layer(collection_id)
    return _answer(documents.collection(_base(), portal().store, layer), documents.JSON, layer)


def queryables(collection_id: str) -> Response:
    """The collection's queryables (JSON Schema)."""
    _only()
    layer = _layer(collection_id)
    return _answer(documents.queryables(_base(), layer), "application/schema+json", f"{layer}: queryables")


def items(collection_id: str) -> Response:
    """A page of features."""
    layer = _layer(collection_id)
    store = portal().store
    if not store.crs:
        raise NotFound("Nothing has been published yet.", collection=layer)
    asked = items_request(layer, request.args.to_dict(), store.crs, store.plan_versions(), date.today())
    page = store.feature_page(asked.query)
    body, links = documents.items_geojson(_base(), store, layer, page, asked.crs, asked.limit, asked.offset,
                                   list(request.args.items(multi=True)))
    rows = None
    if _wants_html():
        data = orjson.loads(body)
        rows = [{"id": f["id"], "href": f"{_base()}/collections/{layer}/items/{f['id']}?f=html", **f["properties"]}
                for f in data["features"]]
    return _answer(body, documents.GEOJSON, layer, {"Content-Crs": f"<{asked.crs}>", "Link": _link_header(links + [
        {"href": f"{_base()}/collections/{layer}/queryables", "rel": documents.QUERYABLES_REL,
         "type": "application/schema+json"}])}, rows)


def _link_header(links: list[dict[str, str]]) -> str:
    """The page's links as an HTTP ``Link`` header (RFC 8288)."""
    return ", ".join(f'<{link["href"]}>; rel="{link["rel"]}"; type="{link["type"]}"' for link in links)


def item(collection_id: str, feature_id: str) -> Response:
    """One feature (of the versions in force today, for zones and overlays)."""
    layer = _layer(collection_id)
    _only("crs")
    store = portal().store
    answer_crs = crs_mod.parse(request.args.get("crs"), store.crs, "crs") if store.crs else crs_mod.CRS84
    frame = store.feature_by_id(layer, int(feature_id)) if feature_id.isdigit() and len(feature_id) < 18 else None
    if frame is not None and len(frame) and layer != "parcels":
        frame = frame if int(frame["version_id"].iloc[0]) in documents.in_force_today(store, date.today()) else None
    if frame is None or not len(frame):
        raise NotFound(f"No feature '{feature_id[:40]}' in {layer}.", collection=layer)
    body = documents.item_geojson(_base(), store, layer, frame, answer_crs)
    return _answer(body, documents.GEOJSON, f"{layer} {feature_id}", {"Content-Crs": f"<{answer_crs}>"})


bp.add_url_rule("", "landing", landing, strict_slashes=False)
bp.add_url_rule("/conformance", "conformance", conformance)
bp.add_url_rule("/api", "api", api)
bp.add_url_rule("/collections", "collections", collections)
bp.add_url_rule("/collections/<collection_id>", "collection", collection)
bp.add_url_rule("/collections/<collection_id>/queryables", "queryables", queryables)
bp.add_url_rule("/collections/<collection_id>/items", "items", items)
bp.add_url_rule("/collections/<collection_id>/items/<feature_id>", "item", item)


def init_app(app: Flask) -> None:
    """Register the OGC API."""
    app.register_blueprint(bp)
