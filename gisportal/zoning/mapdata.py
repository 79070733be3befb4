"""Map layers as GeoJSON for the browser: zones and overlays in force, parcels in a box."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from gisportal.core.coords import WGS84, check_lon_lat, to_float, transformer
from gisportal.core.errors import InvalidInput
from gisportal.note.render import frame_to_geojson, pick
from gisportal.storage.base import Store
from gisportal.zoning.overlays import overlay_kind
from gisportal.zoning.plans import versions_in_force
from gisportal.zoning.rules import RulesCatalogue

logger = logging.getLogger(__name__)

#: Colours of overlay kinds on the map.
OVERLAY_COLOURS = {
    "road_widening": "#e31a1c", "reserved_facility": "#ff7f00", "green_space": "#33a02c",
    "non_aedificandi": "#6a3d9a", "heritage": "#b15928", "flood_risk": "#1f78b4",
    "airport_easement": "#666666", "coastal_strip": "#a6cee3",
}


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    """``minlon,minlat,maxlon,maxlat`` as floats, checked."""
    parts = str(text).split(",")
    if len(parts) != 4:
        raise InvalidInput("bbox must be four numbers: minlon,minlat,maxlon,maxlat.", parameter="bbox")
    minx, miny, maxx, maxy = (to_float(p, "bbox") for p in parts)
    check_lon_lat(minx, miny)
    check_lon_lat(maxx, maxy)
    if minx >= maxx or miny >= maxy:
        raise InvalidInput("bbox must go from the south-west corner to the north-east corner.", parameter="bbox")
    return minx, miny, maxx, maxy


def bbox_to_store(store: Store, bbox: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """A WGS84 bbox in the store's metric CRS."""
    return transformer(WGS84, store.crs).transform_bounds(*bbox)


def layer_geojson(store: Store, catalogue: RulesCatalogue, layer: str, lang: str, as_of: date | None = None,
                  bbox: tuple[float, float, float, float] | None = None, limit: int | None = None) -> dict[str, Any]:
    """A layer as a WGS84 FeatureCollection with the properties the map draws."""
    if not store.crs:  # an empty portal: nothing imported yet
        return {"type": "FeatureCollection", "features": []}
    versions = [v.id for v in versions_in_force(store.plan_versions(), as_of or date.today())]
    frame = store.features(layer, versions, bbox_to_store(store, bbox) if bbox else None, limit)
    if layer == "zones":
        rules = [catalogue.rules_for(code) for code in frame["code"]]
        props = frame.assign(
            label=[pick(fr, ar, lang) or (r.label.get(lang) if r else code)
                   for fr, ar, r, code in zip(frame["label_fr"], frame["label_ar"], rules, frame["code"], strict=True)],
            color=[r.color if r else "#bbbbbb" for r in rules],
        )[["code", "label", "color", "geometry"]]
    elif layer == "overlays":
        props = frame.assign(
            kind_label=[pick(overlay_kind(k).label_fr, overlay_kind(k).label_ar, lang, overlay_kind(k).label_en)
                        for k in frame["kind"]],
            label=[pick(fr, ar, lang) for fr, ar in zip(frame["label_fr"], frame["label_ar"], strict=True)],
            color=[OVERLAY_COLOURS.get(k, "#444444") for k in frame["kind"]],
        )[["kind", "kind_label", "label", "color", "geometry"]]
    else:
        props = frame[["ref", "address", "quarter", "geometry"]]
    return frame_to_geojson(props, store.crs)
