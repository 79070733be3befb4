"""Search suggestions: parcels, quarters, streets, and typed coordinates.

One box takes whatever a person types: a land-title reference, an address, a
quarter name, WGS84 coordinates (decimal or DMS) or metric x/y.
"""

from __future__ import annotations

import logging
from typing import Any

from gisportal.core.coords import WGS84, parse_typed_point, transformer
from gisportal.core.errors import GisportalError
from gisportal.storage.base import Store, Suggestion
from gisportal.zoning.lookup import check_in_territory
from gisportal.zoning.quarter_names import is_arabic, matching

logger = logging.getLogger(__name__)


def _lonlat(store: Store, suggestion: Suggestion) -> tuple[float, float]:
    return transformer(store.crs, WGS84).transform(suggestion.x, suggestion.y)


def suggest(store: Store, text: str, limit: int = 10) -> list[dict[str, Any]]:
    """Suggestions for ``text``, each with a WGS84 point to go to (coordinates first)."""
    text = text.strip()
    out: list[dict[str, Any]] = []
    if not text or not store.crs:
        return out
    try:
        point = parse_typed_point(text, store.crs)
    except GisportalError:
        point = None
    if point is not None:
        x, y = (point.x, point.y) if point.crs == store.crs else transformer(point.crs, store.crs).transform(
            point.x, point.y)
        try:
            check_in_territory(store, x, y)
            lon, lat = transformer(store.crs, WGS84).transform(x, y)
            label = f"{lat:.6f}, {lon:.6f}" if point.crs == WGS84 else f"x={point.x:.1f} y={point.y:.1f} ({point.crs})"
            out.append({"kind": "coordinates", "label": label, "ref": None, "lon": lon, "lat": lat})
        except GisportalError:
            logger.debug("typed point %s outside territory", text)
    if is_arabic(text):  # quarters the data name in Latin script, found by their Arabic names
        for arabic, name in matching(store.meta(), text, limit - len(out)):
            quarter = next((s for s in store.search(name, 5) if s.kind == "quarter" and s.label == name), None)
            if quarter is not None:
                lon, lat = _lonlat(store, quarter)
                out.append({"kind": "quarter", "label": f"{arabic} ({name})", "ref": None,
                            "lon": round(lon, 7), "lat": round(lat, 7)})
    for suggestion in store.search(text, limit - len(out)):
        lon, lat = _lonlat(store, suggestion)
        out.append({"kind": suggestion.kind, "label": suggestion.label, "ref": suggestion.ref,
                    "lon": round(lon, 7), "lat": round(lat, 7)})
    return out
