"""Vector tiles: the tile grid, what each layer carries, and request validation.

Tiles follow the XYZ scheme in Web Mercator (EPSG:3857). Each layer carries
only what the map draws: zones (code, colour), overlays (kind, colour) and
parcels (reference), the last only from :data:`PARCEL_MIN_ZOOM`. Backends
produce the bytes (:meth:`gisportal.storage.base.Store.tile`).
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass

from gisportal.core.errors import InvalidInput, NotFound

logger = logging.getLogger(__name__)

TILE_LAYERS = ("zones", "overlays", "parcels")
#: Zoom range each layer is drawn at; tiles outside it are empty.
LAYER_ZOOMS = {"zones": (8, 16), "overlays": (10, 16), "parcels": (15, 16)}
#: Deepest zoom tiles are made for; the map over-zooms beyond it.
MAX_NATIVE_ZOOM = 16
MAX_ZOOM = 22
PARCEL_MIN_ZOOM = LAYER_ZOOMS["parcels"][0]
WEB_MERCATOR_HALF = 20037508.342789244


@dataclass(frozen=True)
class TileAddress:
    """A checked tile address."""

    layer: str
    z: int
    x: int
    y: int

    @property
    def in_range(self) -> bool:
        """True when the layer has content at this zoom."""
        low, high = LAYER_ZOOMS[self.layer]
        return low <= self.z <= high

    def bounds_3857(self) -> tuple[float, float, float, float]:
        """The tile's envelope in Web Mercator metres."""
        size = 2 * WEB_MERCATOR_HALF / (1 << self.z)
        minx = -WEB_MERCATOR_HALF + self.x * size
        maxy = WEB_MERCATOR_HALF - self.y * size
        return minx, maxy - size, minx + size, maxy


def tile_address(layer: str, z: object, x: object, y: object) -> TileAddress:
    """Validate a tile request; a 404 for an unknown layer, a 400 for coordinates off the grid."""
    if layer not in TILE_LAYERS:
        raise NotFound(f"Unknown tile layer '{layer[:40]}'. Layers: {', '.join(TILE_LAYERS)}.", layer=layer[:40])
    try:
        zi, xi, yi = int(str(z)), int(str(x)), int(str(y))
    except ValueError:
        raise InvalidInput("Tile coordinates z, x and y must be whole numbers.") from None
    if max(abs(zi), abs(xi), abs(yi)) >= 1 << 40:  # far off any grid (and too big for the JSON details below)
        raise InvalidInput(f"Tile {str(z)[:12]}/{str(x)[:12]}/{str(y)[:12]} is outside the grid: zoom goes from 0 "
                           f"to {MAX_ZOOM}, and x and y from 0 to 2^zoom - 1.")
    if not 0 <= zi <= MAX_ZOOM:
        raise InvalidInput(f"Zoom {zi} is out of range: tiles exist from 0 to {MAX_ZOOM}.", z=zi)
    side = 1 << zi
    if not (0 <= xi < side and 0 <= yi < side):
        raise InvalidInput(f"Tile {zi}/{xi}/{yi} is outside the grid: at zoom {zi}, x and y go from 0 to "
                           f"{side - 1}.", z=zi, x=xi, y=yi)
    return TileAddress(layer, zi, xi, yi)


def lonlat_to_tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The XYZ tile holding a WGS84 point at zoom ``z``."""
    n = 1 << z
    x = int((lon + 180.0) / 360.0 * n)
    lat_r = math.radians(lat)
    y = int((1.0 - math.asinh(math.tan(lat_r)) / math.pi) / 2.0 * n)
    return min(max(x, 0), n - 1), min(max(y, 0), n - 1)


def tiles_etag(*parts: object) -> str:
    """A strong ETag from what the tiles depend on (data generation, versions in force)."""
    return '"' + hashlib.sha1("|".join(map(str, parts)).encode()).hexdigest()[:20] + '"'
