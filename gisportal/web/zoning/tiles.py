"""Vector tile endpoint: ``/tiles/{layer}/{z}/{x}/{y}.pbf`` for the versions in force."""

from __future__ import annotations

import gzip
import logging
from datetime import date

from flask import Blueprint, Response, request

from gisportal.core.errors import InvalidInput
from gisportal.web.core.context import portal
from gisportal.zoning.plans import versions_in_force
from gisportal.zoning.tiles import tile_address, tiles_etag

logger = logging.getLogger(__name__)

MVT = "application/vnd.mapbox-vector-tile"
CACHE_SECONDS = 300


def _as_of() -> date:
    value = request.args.get("as_of")
    if not value:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"'{value[:20]}' is not a date; write it as YYYY-MM-DD.", parameter="as_of") from None


def tile(layer: str, z: str, x: str, y: str) -> Response:
    """One vector tile; empty (but 200) where the layer is not drawn at that zoom."""
    address = tile_address(layer, z, x, y)
    p = portal()
    versions = sorted(v.id for v in versions_in_force(p.store.plan_versions(), _as_of()))
    gzipped = "gzip" in request.headers.get("Accept-Encoding", "")
    # one strong validator per representation: the gzip and plain bodies differ byte for byte
    etag = tiles_etag(p.store.generation(), versions, address.layer, "gzip" if gzipped else "identity")
    headers = {"ETag": etag, "Cache-Control": f"public, max-age={CACHE_SECONDS}", "Vary": "Accept-Encoding",
               "Access-Control-Allow-Origin": "*"}
    if etag in request.headers.get("If-None-Match", ""):
        return Response(status=304, headers=headers)
    data = p.store.tile(address.layer, address.z, address.x, address.y, versions) if address.in_range else b""
    if data and gzipped:
        data = gzip.compress(data, compresslevel=5, mtime=0)  # same bytes for the same ETag, whatever the second
        headers["Content-Encoding"] = "gzip"
    return Response(data, mimetype=MVT, headers=headers)


#: The vector tiles.
bp = Blueprint("tiles", __name__, url_prefix="/tiles")
bp.add_url_rule("/<layer>/<z>/<x>/<y>.pbf", "tile", tile)
