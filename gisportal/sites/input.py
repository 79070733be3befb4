"""The outline of a site, from land-title references or a GeoJSON geometry, in the store's metric CRS.

Everything here comes from people: an unknown reference is named (404), an outline that cannot be read is a
422 that says why, a self-intersecting outline is repaired (``make_valid``) and the repair is said, an outline
outside the territory is a 422 that says where it lies, and a site above the configured limits (parcels,
vertices, area) is refused with the limit (413 / 422).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from gisportal.core.coords import WGS84, crs_from_user, transformer
from gisportal.core.errors import GisportalError, InvalidInput, NotFound, OutsideTerritory, told
from gisportal.storage.base import Store
from gisportal.zoning.lookup import TERRITORY_MARGIN_M

logger = logging.getLogger(__name__)

#: Most references one request may list (each one is a look-up).
MAX_REFS = 500


class SiteTooLarge(GisportalError):
    """A site above a configured limit (parcels covered, vertices of its outline)."""

    status, code = 413, "site_too_large"


class SiteInvalid(GisportalError):
    """An outline that cannot be a site (empty, not a polygon, unreadable, area over the limit)."""

    status, code = 422, "invalid_site"


@dataclass(frozen=True)
class SiteLimits:
    """How large a site may be (``GISPORTAL_SITE_MAX_*``)."""

    max_parcels: int = 500
    max_vertices: int = 10_000
    max_area_m2: float = 2_000_000.0


@dataclass(frozen=True)
class SiteInput:
    """A site's outline in the store's metric CRS, what it was made from, and what was done to it."""

    geometry: BaseGeometry  # a (Multi)Polygon, valid
    refs: tuple[str, ...]  # the parcels it was made from (empty for a drawn or uploaded outline)
    warnings: tuple[tuple[str, str], ...] = ()

    @property
    def label(self) -> str:
        """A short name for registers: the references, or "drawn site"."""
        if not self.refs:
            return "SITE (drawn)"
        text = "SITE " + "+".join(self.refs)
        return text if len(text) <= 120 else f"{text[:110]}… ({len(self.refs)})"


def site_from_refs(store: Store, refs: list[Any], limits: SiteLimits = SiteLimits()) -> SiteInput:
    """The union of the parcels named by ``refs``; every unknown reference named in one 404."""
    if not isinstance(refs, list) or not refs:
        raise InvalidInput(told("'refs' must be a non-empty list of land-title references."), parameter="refs")
    if len(refs) > min(MAX_REFS, limits.max_parcels):
        raise SiteTooLarge(told("A site may join at most %(limit)s parcels.", limit=limits.max_parcels),
                           limit=limits.max_parcels, given=len(refs))
    found, unknown, names = [], [], []
    for ref in refs:
        text = str(ref).strip() if isinstance(ref, (str, int)) else ""
        parcel = store.parcel_by_ref(text) if text and len(text) <= 64 else None
        if parcel is None:
            unknown.append(text[:64] or repr(ref)[:64])
        elif parcel.ref not in names:
            names.append(parcel.ref)
            found.append(parcel.geometry)
    if unknown:
        raise NotFound(told("Unknown land-title references: %(refs)s.", refs=", ".join(unknown)), unknown=unknown)
    geometry = _polygonal(shapely.union_all(found))
    check_site(store, geometry, limits)
    return SiteInput(geometry, tuple(names))


def site_from_geojson(store: Store, data: Any, limits: SiteLimits = SiteLimits()) -> SiteInput:
    """A GeoJSON Polygon or MultiPolygon (or a Feature / FeatureCollection of them) in WGS84, or in the CRS its
    ``crs`` member names, as a checked outline in the store's metric CRS."""
    geometry, source_crs = _read_geojson(data)
    return site_from_geometry(store, geometry, source_crs, limits)


def site_from_frame(store: Store, frame: gpd.GeoDataFrame, limits: SiteLimits = SiteLimits()) -> SiteInput:
    """The union of the polygons of a layer read from an uploaded file (any CRS its .prj or header names)."""
    polygons = [g for g in frame.geometry if g is not None and g.geom_type in ("Polygon", "MultiPolygon")]
    if not polygons:
        raise SiteInvalid(told("The file holds no polygon: a site is drawn as a polygon."))
    epsg = frame.crs.to_epsg() if frame.crs is not None else None
    source = f"EPSG:{epsg}" if epsg else (frame.crs.to_wkt() if frame.crs is not None else WGS84)
    return site_from_geometry(store, shapely.union_all(shapely.make_valid(np.asarray(polygons, dtype=object)))
                              if len(polygons) > 1 else polygons[0], source, limits)


def site_from_geometry(store: Store, geometry: BaseGeometry, source_crs: str,
                       limits: SiteLimits = SiteLimits()) -> SiteInput:
    """A polygonal geometry in ``source_crs`` as a checked outline in the store's metric CRS."""
    if not store.crs:
        raise NotFound(told("This portal holds no data yet."))
    if geometry.is_empty:
        raise SiteInvalid(told("The outline is empty."))
    count = int(shapely.get_num_coordinates(geometry))
    if count > limits.max_vertices:
        raise SiteTooLarge(told("The outline has %(count)s vertices; at most %(limit)s are accepted.",
                                count=count, limit=limits.max_vertices), limit=limits.max_vertices, given=count)
    if source_crs == WGS84:
        xy = shapely.get_coordinates(geometry)
        if not (np.all(np.abs(xy[:, 0]) <= 180) and np.all(np.abs(xy[:, 1]) <= 90)):
            raise SiteInvalid(told("The coordinates are not longitude/latitude in degrees: name their CRS in a "
                                   "'crs' member (e.g. EPSG:26191)."))
    if source_crs != store.crs:
        t = transformer(source_crs, store.crs)
        geometry = shapely.transform(geometry, lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1])))
    if not np.all(np.isfinite(shapely.get_coordinates(geometry))):
        raise SiteInvalid(told("The outline cannot be expressed in %(crs)s.", crs=store.crs))
    warnings: list[tuple[str, str]] = []
    if not geometry.is_valid:
        reason = shapely.is_valid_reason(geometry)
        geometry = shapely.make_valid(geometry)
        warnings.append(("geometry_repaired", reason))
    geometry = _polygonal(geometry)
    check_site(store, geometry, limits)
    return SiteInput(geometry, (), tuple(warnings))


def check_site(store: Store, geometry: BaseGeometry, limits: SiteLimits) -> None:
    """Refuse an outline above the area limit or outside the territory (saying where it lies)."""
    if geometry.area > limits.max_area_m2:
        raise SiteInvalid(told("The site covers %(area)s m²; at most %(limit)s m² are accepted.",
                               area=round(geometry.area), limit=round(limits.max_area_m2)),
                          limit_m2=limits.max_area_m2, area_m2=round(geometry.area, 2))
    extent = store.extent()
    if extent is None:
        raise NotFound(told("This portal holds no data yet."))
    m = TERRITORY_MARGIN_M
    territory = shapely.box(extent[0] - m, extent[1] - m, extent[2] + m, extent[3] + m)
    if not geometry.intersects(territory):
        point = geometry.representative_point()
        lon, lat = transformer(store.crs, WGS84).transform(point.x, point.y)
        distance = territory.distance(point)
        raise OutsideTerritory(
            told("This site is outside the territory covered by this portal: it lies %(km)s km from it, around "
                 "%(lat)s, %(lon)s.", km=round(distance / 1000, 1), lat=round(lat, 5), lon=round(lon, 5)),
            lon=round(lon, 6), lat=round(lat, 6), x=round(point.x, 2), y=round(point.y, 2), crs=store.crs,
            distance_km=round(distance / 1000, 3))


def _read_geojson(data: Any) -> tuple[BaseGeometry, str]:
    """The polygonal geometry of a GeoJSON object and the CRS it is in (WGS84 unless a ``crs`` member says)."""
    if not isinstance(data, dict):
        raise SiteInvalid(told("'geometry' must be a GeoJSON Polygon or MultiPolygon."))
    crs = _crs_member(data)
    kind = data.get("type")
    if kind == "FeatureCollection":
        features = data.get("features")
        if not isinstance(features, list) or not features:
            raise SiteInvalid(told("The GeoJSON holds no feature."))
        parts = [_read_geojson(f)[0] for f in features[:MAX_REFS]]
        return shapely.union_all(parts), crs
    if kind == "Feature":
        inner = {**(data.get("geometry") or {}), **({"crs": data["crs"]} if "crs" in data else {})}
        return _read_geojson(inner)[0], crs
    if kind not in ("Polygon", "MultiPolygon"):
        raise SiteInvalid(told("A site is a Polygon or a MultiPolygon, not '%(kind)s'.", kind=str(kind)[:40]))
    try:
        geometry = shape(data)
    except (ValueError, TypeError, AttributeError, IndexError, KeyError, shapely.errors.GEOSException):
        raise SiteInvalid(told("The polygon's coordinates cannot be read: each ring is a list of [x, y] "
                               "positions, closed.")) from None
    if geometry.is_empty:
        raise SiteInvalid(told("The outline is empty."))
    return geometry, crs


def _crs_member(data: dict) -> str:
    member = data.get("crs")
    if member is None:
        return WGS84
    name = member.get("properties", {}).get("name") if isinstance(member, dict) else member
    if not isinstance(name, (str, int)):
        raise InvalidInput(told("The 'crs' member must name a CRS, e.g. EPSG:26191."), parameter="crs")
    crs = crs_from_user(str(name)[:100])
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.to_string()


def _polygonal(geometry: BaseGeometry) -> BaseGeometry:
    """The polygons of ``geometry`` (a repair may leave lines or points beside them); 422 when none."""
    parts = [g for g in shapely.get_parts(geometry) if g.geom_type in ("Polygon", "MultiPolygon")]
    result = shapely.union_all(parts) if parts else shapely.Polygon()
    if result.is_empty or not math.isfinite(result.area) or result.area <= 0:
        raise SiteInvalid(told("The outline encloses no area."))
    return result
