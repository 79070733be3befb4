"""The coordinate reference systems the OGC API serves (Part 2): CRS84, EPSG:4326, EPSG:3857, the instance's.

Each CRS is named by its OGC URI. Coordinates are in each CRS's own axis order: EPSG:4326 is latitude first,
CRS84 longitude first (as GeoJSON).
"""

from __future__ import annotations

import logging
from functools import lru_cache

import numpy as np
import shapely
from pyproj import CRS, Transformer

from gisportal.core.errors import InvalidInput, UnknownCRS

logger = logging.getLogger(__name__)

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
_EPSG = "http://www.opengis.net/def/crs/EPSG/0/"


def crs_uri(code: str) -> str:
    """The OGC URI of ``EPSG:n`` (or of CRS84)."""
    return CRS84 if code in ("OGC:CRS84", CRS84) else _EPSG + code.split(":", 1)[1]


def supported(store_crs: str) -> list[str]:
    """URIs of the CRSs served, CRS84 first (the default)."""
    codes = ["EPSG:4326", "EPSG:3857"] + ([store_crs] if store_crs.upper().startswith("EPSG:") else [])
    return [CRS84] + list(dict.fromkeys(crs_uri(c) for c in codes))


def parse(uri: str | None, store_crs: str, parameter: str) -> str:
    """The URI of a CRS asked for (``None``: CRS84), or :class:`UnknownCRS` (400) when not served."""
    value = (uri or CRS84).strip().strip("[]")
    if value in ("CRS84", "OGC:CRS84"):
        value = CRS84
    if value.upper().startswith("EPSG:"):
        value = _EPSG + value.split(":", 1)[1]
    if value not in supported(store_crs):
        raise UnknownCRS(f"CRS '{uri}' is not served here. CRSs: {', '.join(supported(store_crs))}.",
                         parameter=parameter)
    return value


def _pyproj(uri: str) -> CRS:
    return CRS.from_user_input("OGC:CRS84" if uri == CRS84 else "EPSG:" + uri.rsplit("/", 1)[1])


@lru_cache(maxsize=32)
def _transformer(src: str, dst: str) -> Transformer:
    return Transformer.from_crs(_pyproj(src), _pyproj(dst), always_xy=False)


def store_uri(store_crs: str) -> str:
    """The URI of the store's metric CRS."""
    return crs_uri(store_crs)


def transform_geometries(geoms: np.ndarray, src: str, dst: str) -> np.ndarray:
    """Geometries from CRS ``src`` to ``dst`` (URIs), each in its axis order."""
    if src == dst or not len(geoms):
        return geoms
    forward = _transformer(src, dst)

    def move(coords: np.ndarray) -> np.ndarray:
        x, y = forward.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geoms, move)


def transform_bbox(values: tuple[float, float, float, float], src: str,
                   dst: str) -> tuple[float, float, float, float]:
    """A box (first-axis min, second-axis min, first-axis max, second-axis max) from ``src`` to ``dst``."""
    if src == dst:
        return values
    try:
        result = _transformer(src, dst).transform_bounds(*values, densify_pts=21)
    except Exception as exc:  # pyproj raises ProjError for boxes outside the CRS's domain
        raise InvalidInput(f"This bbox cannot be used in the data's CRS: {exc}.", parameter="bbox") from None
    if not np.all(np.isfinite(result)):
        raise InvalidInput("This bbox cannot be used in the data's CRS.", parameter="bbox")
    return tuple(float(v) for v in result)  # type: ignore[return-value]
