"""Finding a parcel: by land-title reference or by a point in any CRS.

Inputs come from people: every bad value becomes a domain error with a
message that says what was wrong and how to fix it.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import date

import shapely

from gisportal.core.coords import WGS84, check_lon_lat, crs_from_user, to_float, transformer
from gisportal.core.errors import InvalidInput, NoParcelHere, NotFound, OutsideTerritory, told
from gisportal.storage.base import Store
from gisportal.zoning.parcels import ParcelRecord
from gisportal.zoning.plans import versions_in_force

logger = logging.getLogger(__name__)

#: How far outside the stored data a point may fall and still be "in the territory".
TERRITORY_MARGIN_M = 500.0


@dataclass(frozen=True)
class ParcelQuery:
    """What identifies a parcel in a request: a reference, WGS84 lon/lat, or x/y in a CRS."""

    ref: str | None = None
    lon: object = None
    lat: object = None
    x: object = None
    y: object = None
    crs: str | None = None

    @classmethod
    def from_mapping(cls, args: dict) -> ParcelQuery:
        """Build from request arguments or CLI options (unknown keys ignored)."""
        return cls(**{k: args.get(k) for k in ("ref", "lon", "lat", "x", "y", "crs") if args.get(k) not in (None, "")})


def point_in_store_crs(store: Store, query: ParcelQuery) -> tuple[float, float]:
    """The query's point in the store's metric CRS, checked against the territory."""
    if query.lon is not None or query.lat is not None:
        if query.lon is None or query.lat is None:
            raise InvalidInput(told("Give both 'lon' and 'lat' (WGS84 decimal degrees)."))
        lon, lat = to_float(query.lon, "lon"), to_float(query.lat, "lat")
        check_lon_lat(lon, lat)
        source, a, b = WGS84, lon, lat
    elif query.x is not None or query.y is not None:
        if query.x is None or query.y is None:
            raise InvalidInput(told("Give both 'x' and 'y', and the CRS they are in ('crs', e.g. EPSG:26191)."))
        a, b = to_float(query.x, "x"), to_float(query.y, "y")
        source = crs_from_user(query.crs).to_string() if query.crs else store.crs
    else:
        raise InvalidInput(told("Say which parcel: give 'ref', or 'lon' and 'lat', or 'x', 'y' and 'crs'."))
    if not store.crs:
        raise NotFound(told("This portal holds no data yet."))
    x, y = transformer(source, store.crs).transform(a, b) if source != store.crs else (a, b)
    if not (math.isfinite(x) and math.isfinite(y)):
        raise InvalidInput(f"The point ({a}, {b}) cannot be expressed in {store.crs}.")
    check_in_territory(store, x, y)
    return x, y


def check_in_territory(store: Store, x: float, y: float) -> None:
    """Refuse points outside the stored data's extent (plus a margin)."""
    extent = store.extent()
    if extent is None:
        raise NotFound(told("This portal holds no data yet."))
    minx, miny, maxx, maxy = extent
    m = TERRITORY_MARGIN_M
    if not (minx - m <= x <= maxx + m and miny - m <= y <= maxy + m):
        raise OutsideTerritory(told("This point is outside the territory covered by this portal."),
                               x=round(x, 2), y=round(y, 2), crs=store.crs)


def find_parcel(store: Store, query: ParcelQuery, as_of: date | None = None) -> ParcelRecord:
    """The parcel a query designates, or a 404 that says why (with the zones at a point)."""
    if query.ref is not None:
        ref = str(query.ref).strip()
        if not ref or len(ref) > 64:
            raise InvalidInput(told("A land-title reference looks like TF-104523/06."), parameter="ref")
        parcel = store.parcel_by_ref(ref)
        if parcel is None:
            raise NotFound(told("No parcel with the land-title reference '%(ref)s'.", ref=ref), ref=ref)
        return parcel
    x, y = point_in_store_crs(store, query)
    parcel = store.parcel_at(x, y)
    if parcel is None:
        raise NoParcelHere(told("No parcel at this point."), zones_at_point=zones_at_point(store, x, y, as_of))
    return parcel


def zones_at_point(store: Store, x: float, y: float, as_of: date | None = None) -> list[dict]:
    """Zones in force at a point (for clicks outside any parcel)."""

    versions = versions_in_force(store.plan_versions(), as_of or date.today())
    by_id = {v.id: v for v in versions}
    hits = store.zones_on(shapely.Point(x, y), list(by_id))
    return [{"plan": by_id[h.version_id].plan_name, "plan_version": by_id[h.version_id].version,
             "code": h.code, "label_fr": h.label_fr, "label_ar": h.label_ar} for h in hits]
