"""Search examples taken from the instance's own data (what a person can type and will find).

The examples under the map's search box must answer on *this* portal, whichever city it serves: a real
land-title reference, the quarter of that parcel, and the coordinates of the territory's centre.
"""

from __future__ import annotations

import logging

from gisportal.core.coords import WGS84, transformer
from gisportal.storage.base import Store

logger = logging.getLogger(__name__)

#: Points tried, as fractions of the extent, from its centre outwards, until one falls on a parcel.
_PROBES = [(0.5, 0.5)] + [(fx, fy) for fx in (0.4, 0.6, 0.3, 0.7, 0.2, 0.8) for fy in (0.4, 0.6, 0.3, 0.7, 0.5)]


def search_examples(store: Store) -> list[str]:
    """Up to three things to type that this store answers: a parcel's reference, its quarter, a point."""
    extent = store.extent()
    if not extent or not store.crs:
        return []
    x0, y0, x1, y1 = extent
    found = None
    for fx, fy in _PROBES:
        found = store.parcel_at(x0 + (x1 - x0) * fx, y0 + (y1 - y0) * fy)
        if found is not None:
            break
    examples: list[str] = []
    if found is not None:
        examples.append(found.ref)
        if found.quarter:
            examples.append(found.quarter)
        point = found.geometry.representative_point()
        lon, lat = transformer(store.crs, WGS84).transform(point.x, point.y)
    else:
        lon, lat = transformer(store.crs, WGS84).transform((x0 + x1) / 2, (y0 + y1) / 2)
    examples.append(f"{lat:.4f}, {lon:.4f}")
    return examples
