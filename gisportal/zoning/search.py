"""Search suggestions: parcels, quarters, streets, and typed coordinates.

One box takes whatever a person types: a land-title reference, an address, a
quarter name, WGS84 coordinates (decimal or DMS) or metric x/y.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from typing import Any

from gisportal.core.coords import WGS84, parse_typed_point, transformer
from gisportal.core.errors import GisportalError
from gisportal.storage.base import Store, Suggestion
from gisportal.zoning.lookup import check_in_territory
from gisportal.zoning.quarter_names import is_arabic, matching, matching_streets

logger = logging.getLogger(__name__)

#: A house number before an Arabic street name ("12 شارع ...", "١٢ زنقة ..."): the number, then the rest.
_HOUSE_FIRST = re.compile(r"^\s*(\d+)\s*[,،]?\s*(.*)$")


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
    if is_arabic(text):  # quarters and streets the data name in Latin script, found by their Arabic names
        out += _arabic_places(store, text, limit - len(out))
    for suggestion in store.search(text, limit - len(out)):
        lon, lat = _lonlat(store, suggestion)
        out.append({"kind": suggestion.kind, "label": suggestion.label, "ref": suggestion.ref,
                    "lon": round(lon, 7), "lat": round(lat, 7)})
    return out


def _place(store: Store, kind: str, name: str) -> Suggestion | None:
    """The quarter or street the data calls ``name``."""
    return next((s for s in store.search(name, 10) if s.kind == kind and s.label == name), None)


def _arabic_places(store: Store, text: str, limit: int) -> list[dict[str, Any]]:
    """Quarters, streets and, when a house number is typed first, the parcels at that number of the streets,
    found by their Arabic names (``quarters_ar``, ``streets_ar`` in the store's metadata)."""
    out: list[dict[str, Any]] = []
    meta = store.meta()
    typed = "".join(str(unicodedata.digit(c)) if c.isdigit() else c for c in text)  # ١٢ -> 12
    house = _HOUSE_FIRST.match(typed)
    number, name_typed = (house.group(1), house.group(2)) if house and house.group(2) else (None, typed)
    found: list[tuple[str, str, str]] = [] if number else [("quarter", ar, latin) for ar, latin in
                                                           matching(meta, name_typed, limit)]
    found += [("street", ar, latin) for ar, latin in matching_streets(meta, name_typed, limit)]
    for kind, arabic, name in found:
        if len(out) >= limit:
            break
        if number:  # the parcels at this number of the street, exact number first (as typed in Latin script)
            parcels = [p for p in store.search(f"{number} {name}", limit - len(out)) if p.kind == "parcel"]
            for parcel in sorted(parcels, key=lambda p: not p.label.endswith(f" {number} {name}")):
                if parcel.ref not in {o["ref"] for o in out}:
                    out.append(_suggestion(store, parcel, parcel.label))
            continue
        place = _place(store, kind, name)
        if place is not None:
            out.append(_suggestion(store, place, f"{arabic} ({name})"))
    return out[:limit]


def _suggestion(store: Store, found: Suggestion, label: str) -> dict[str, Any]:
    lon, lat = _lonlat(store, found)
    return {"kind": found.kind, "label": label, "ref": found.ref, "lon": round(lon, 7), "lat": round(lat, 7)}
