"""Coordinates: parsing what people type, and moving between CRSs.

People type WGS84 latitude/longitude in decimal degrees or in
degrees-minutes-seconds, or metric x/y in the instance's CRS (Lambert Nord
Maroc, EPSG:26191, for Tangier). Areas are always computed in the metric CRS.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from lat_lon_parser import parse as parse_angle
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from gisportal.core.errors import DataFileError, InvalidInput, UnknownCRS, told

logger = logging.getLogger(__name__)

WGS84 = "EPSG:4326"


@lru_cache(maxsize=64)
def crs_from_user(text: str) -> CRS:
    """A CRS from ``EPSG:N``, ``N`` or any string PROJ understands; :class:`UnknownCRS` otherwise."""
    value = str(text).strip()
    if re.fullmatch(r"\d{4,6}", value):
        value = f"EPSG:{value}"
    try:
        return CRS.from_user_input(value)
    except CRSError:
        raise UnknownCRS(told("Unknown coordinate reference system '%(crs)s'. Use a code such as EPSG:26191.",
                              crs=text), crs=str(text)) from None


def crs_of(frame: Any) -> CRS:
    """The coordinate reference system of a (Geo)DataFrame that must have one (every frame read gets one)."""
    if frame.crs is None:
        raise DataFileError("The data declares no coordinate reference system.")
    return CRS.from_user_input(frame.crs)


@lru_cache(maxsize=64)
def transformer(src: str, dst: str) -> Transformer:
    """A cached, always-xy transformer between two CRSs."""
    return Transformer.from_crs(crs_from_user(src), crs_from_user(dst), always_xy=True)


def to_float(value: object, name: str) -> float:
    """``value`` as a finite float, or :class:`InvalidInput` naming the parameter."""
    if type(value) is float and math.isfinite(value):  # already parsed (the API's query schema)
        return value
    try:
        number = float(str(value).strip().replace(",", "."))
    except (TypeError, ValueError):
        raise InvalidInput(told("'%(name)s' must be a number, got '%(value)s'.", name=name, value=value),
                           parameter=name) from None
    if not math.isfinite(number):
        raise InvalidInput(told("'%(name)s' must be a finite number, got '%(value)s'.", name=name, value=value),
                           parameter=name)
    return number


def check_lon_lat(lon: float, lat: float) -> None:
    """Refuse longitudes outside [-180, 180] and latitudes outside [-90, 90]."""
    if not -90.0 <= lat <= 90.0:
        raise InvalidInput(told("Latitude %(lat)s is out of range: it must lie between -90 and 90.", lat=lat),
                           parameter="lat")
    if not -180.0 <= lon <= 180.0:
        raise InvalidInput(told("Longitude %(lon)s is out of range: it must lie between -180 and 180.", lon=lon),
                           parameter="lon")


@dataclass(frozen=True)
class TypedPoint:
    """A point parsed from free text: its CRS and coordinates in that CRS (x = lon for WGS84)."""

    crs: str
    x: float
    y: float


_NUMBER = r"[-+]?\d+(?:[.,]\d+)?"
_PAIR = re.compile(rf"^\s*({_NUMBER})\s*[,;\s]\s*({_NUMBER})\s*$")
_HEMI = re.compile(r"[NSEWO]", re.I)


def _split_dms(text: str) -> tuple[str, str] | None:
    """Split '35°46'12"N 5°48'W' (or with a comma) into its two angles."""
    upper = text.upper().replace("O", "W")
    marks = [m.end() for m in _HEMI.finditer(upper)]
    if len(marks) == 2 and marks[1] == len(upper.rstrip()):
        return upper[: marks[0]], upper[marks[0]:].lstrip(" ,;")
    parts = [p for p in re.split(r"[,;]", upper) if p.strip()]
    if len(parts) == 2:
        return parts[0], parts[1]
    return None


def parse_typed_point(text: str, metric_crs: str | None) -> TypedPoint | None:
    """Interpret ``text`` as coordinates, or return ``None`` if it does not look like any.

    Two plain numbers within degree ranges are read as ``lat, lon`` (the order
    people copy from map sites) unless that order is impossible; two large
    numbers are metric ``x y`` in ``metric_crs``. Degrees-minutes-seconds with
    hemisphere letters are read in either order.
    """
    pair = _PAIR.match(text)
    if pair:
        a, b = (float(g.replace(",", ".")) for g in pair.groups())
        if abs(a) <= 90 and abs(b) <= 180:
            return TypedPoint(WGS84, b, a)
        if abs(a) <= 180 and abs(b) <= 90:
            return TypedPoint(WGS84, a, b)
        if metric_crs and abs(a) > 1000 and abs(b) > 1000:
            return TypedPoint(metric_crs, a, b)
        return None
    if not re.search(r"[°'\"]|\d\s*[NSEWO]\b", text, re.I):
        return None
    halves = _split_dms(text)
    if halves is None:
        return None
    try:
        first, second = (parse_angle(h.strip()) for h in halves)
    except ValueError:
        return None
    first_is_lon = bool(re.search(r"[EW]\s*$", halves[0].strip()))
    lon, lat = (first, second) if first_is_lon else (second, first)
    check_lon_lat(lon, lat)
    return TypedPoint(WGS84, lon, lat)
