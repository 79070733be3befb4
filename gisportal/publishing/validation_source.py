"""What a layer is written in: its coordinate system and its text encoding, for :mod:`gisportal.publishing.validation`.

CRS: the file's own (.prj or GeoPackage), else the one the user gives. A .prj
without an EPSG code is compared with the instance CRS and PROJ's candidates
by geometry (projection, parameters, units, ellipsoid); a match is used with
its official datum shift, which a hand-written WKT often lacks (Merchich: some
300 m). A local (engineering) CRS cannot be placed on the Earth: blocking.

Encoding (shapefiles): the .cpg, checked against the .dbf bytes; else
detected from the .dbf text fields: valid UTF-8 first, then cp1256 (Arabic)
or cp1252 (French accents), whichever decodes into plausible words.
"""

from __future__ import annotations

import codecs
import logging
import re
import struct
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError, ProjError
from shapely.geometry.base import BaseGeometry

from gisportal.core.coords import crs_from_user
from gisportal.core.errors import InvalidInput
from gisportal.publishing.validation_report import BLOCKING, WARNING, ValidationReport

logger = logging.getLogger(__name__)

_ARABIC = re.compile(r"[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff]")


# --- coordinate system ---------------------------------------------------------------------------------------
@lru_cache(maxsize=256)
def _epsg(wkt: str) -> int | None:
    """EPSG code of a CRS (PROJ's identification costs ~0.3 s for a CRS without one: done once)."""
    return CRS.from_wkt(wkt).to_epsg(min_confidence=70)


def _name(crs: CRS) -> str:
    code = _epsg(crs.to_wkt())
    return f"EPSG:{code}" if code else crs.name


def _transformable(crs: CRS) -> Transformer | None:
    """A transformer to WGS84, or ``None`` when PROJ cannot place this CRS on the Earth."""
    if not (crs.is_geographic or crs.is_projected):
        return None
    try:
        return Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    except (CRSError, ProjError):
        return None


def _projection_params(crs: CRS) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        params = crs.to_dict()
    for key in ("towgs84", "datum", "nadgrids", "no_defs", "type", "wktext", "ellps", "a", "b", "rf", "f", "R"):
        params.pop(key, None)
    return params


def same_geometry(a: CRS, b: CRS) -> bool:
    """Same projection, parameters, units and ellipsoid: only names (and perhaps the datum shift) differ."""
    if a.is_projected != b.is_projected or a.is_geographic != b.is_geographic:
        return False
    ea, eb = a.ellipsoid, b.ellipsoid
    if ea is None or eb is None or abs(ea.semi_major_metre - eb.semi_major_metre) > 1e-3 \
            or abs(ea.inverse_flattening - eb.inverse_flattening) > 1e-6:
        return False
    pa, pb = _projection_params(a), _projection_params(b)
    if pa.keys() != pb.keys():
        return False
    for key, va in pa.items():
        vb = pb[key]
        if isinstance(va, (int, float)) and isinstance(vb, (int, float)):
            if abs(va - vb) > 1e-9 * max(1.0, abs(va)):
                return False
        elif va != vb:
            return False
    return True


def _identify(custom: CRS, instance_crs: str | None) -> tuple[CRS | None, int | None]:
    """An EPSG CRS with the same geometry as ``custom`` (the instance CRS first), and PROJ's confidence."""
    candidates: list[tuple[str, int | None]] = []
    if instance_crs:
        candidates.append((instance_crs, None))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        candidates += [(f"{m.auth_name}:{m.code}", m.confidence) for m in custom.list_authority(min_confidence=20)]
    for text, confidence in candidates:
        try:
            candidate = crs_from_user(text)
        except InvalidInput:
            continue
        if same_geometry(custom, candidate):
            return candidate, confidence
    return None, None


def resolve_crs(report: ValidationReport, declared: str | None, prj: str | None, given: str | None,
                instance_crs: str | None, is_shapefile: bool) -> CRS | None:
    """The CRS to read the layer in, with findings: missing, custom (.prj without EPSG code), unusable, ignored."""
    given_crs = crs_from_user(given) if given else None
    file_crs: CRS | None = None
    try:
        file_crs = CRS.from_wkt(prj) if prj else (CRS.from_user_input(declared) if declared else None)
    except CRSError:
        file_crs = None
    if file_crs is not None:
        report.crs_found = _name(file_crs)
    elif prj:
        report.crs_found = "unreadable .prj"
    if file_crs is None:
        if prj and given_crs is None:
            report.add(BLOCKING, "crs_unusable", "The .prj file cannot be understood; give the coordinate system "
                       "(e.g. EPSG:26191) or export the layer again.", prj=prj[:500])
            return None
        if prj and given_crs is not None:  # (given_crs is set: returned above otherwise)
            report.add(WARNING, "crs_unusable", f"The .prj file cannot be understood; the coordinate system you "
                       f"gave ({_name(given_crs)}) is used.", prj=prj[:500])
        if given_crs is None:
            what = "no .prj file" if is_shapefile else "no coordinate system"
            report.add(BLOCKING, "crs_missing", f"The layer has {what}; give its coordinate system "
                       "(e.g. EPSG:26191 for Lambert Nord Maroc).")
            return None
        report.crs_used = _name(given_crs)
        return given_crs
    if given_crs is not None and not file_crs.equals(given_crs, ignore_axis_order=True):
        report.add(WARNING, "crs_ignored", f"The file declares {_name(file_crs)}; the coordinate system you gave "
                   f"({_name(given_crs)}) is ignored.", declared=_name(file_crs), given=_name(given_crs))
    used = _check_custom(report, file_crs, instance_crs, given_crs)
    report.crs_used = _name(used) if used is not None else None
    return used


def _check_custom(report: ValidationReport, file_crs: CRS, instance_crs: str | None, given: CRS | None) -> CRS | None:
    if _epsg(file_crs.to_wkt()) is not None:
        return file_crs
    name = file_crs.name
    to_wgs = _transformable(file_crs)
    if to_wgs is None:
        if given is not None:
            report.add(WARNING, "crs_unusable", f"The declared coordinate system '{name}' cannot be placed on the "
                       f"Earth; the one you gave ({_name(given)}) is used.", declared=name)
            return given
        report.add(BLOCKING, "crs_unusable", f"The declared coordinate system '{name}' is a local one that cannot "
                   "be placed on the Earth; export the layer in a known system (e.g. EPSG:26191).", declared=name)
        return None
    match, confidence = _identify(file_crs, instance_crs)
    if match is not None:
        report.add(WARNING, "crs_custom", f"The coordinate system '{name}' has no EPSG code; it has the same "
                   f"projection and ellipsoid as {_name(match)} ({match.name}), which is used.", declared=name,
                   matched=_name(match), matched_name=match.name, confidence=confidence)
        return match
    ballpark = "Ballpark" in (to_wgs.description or "")
    caution = " Its datum has no known shift to WGS84: positions may be off by up to a few hundred metres." \
        if ballpark else ""
    report.add(WARNING, "crs_custom", f"The coordinate system '{name}' has no EPSG code and matches none; it is "
               f"used as written.{caution}", declared=name, matched=None, ballpark_datum=ballpark)
    return file_crs


def area_crs(report: ValidationReport, frame: Any, source: CRS | None, instance_crs: str | None) -> CRS | None:
    """The metric CRS areas are computed in: the instance's, else the local UTM zone; sets bbox and locator."""
    if source is None:
        return None
    to_wgs = _transformable(source)
    bounds = frame.total_bounds
    if to_wgs is None or not all(map(lambda v: abs(v) < float("inf"), bounds)):
        return None
    try:
        west, south, east, north = to_wgs.transform_bounds(bounds[0], bounds[1], bounds[2], bounds[3], densify_pts=21)
    except ProjError:
        west = south = east = north = float("inf")
    if source.is_geographic and not (-180.5 <= bounds[0] <= bounds[2] <= 180.5 and -90.5 <= bounds[1] <= bounds[3]
                                     <= 90.5):
        report.add(BLOCKING, "coordinates_outside_crs", f"The coordinates ({bounds[0]:.0f}, {bounds[1]:.0f}) are "
                   f"not longitudes and latitudes, yet the layer says {_name(source)}; the declared coordinate "
                   "system is wrong.", bounds=[float(v) for v in bounds])
        return None
    if not all(abs(v) <= 180 for v in (west, south, east, north)):
        report.add(BLOCKING, "coordinates_outside_crs", f"The coordinates cannot be placed on the Earth in "
                   f"{_name(source)}; the declared coordinate system is probably wrong.",
                   bounds=[float(v) for v in bounds])
        return None
    report.bbox_wgs84 = [round(v, 7) for v in (west, south, east, north)]
    use = source.area_of_use
    if use is not None and (east < use.west - 2 or west > use.east + 2 or north < use.south - 2
                            or south > use.north + 2):
        report.add(WARNING, "coordinates_outside_crs", f"The layer lies outside the area {_name(source)} is made "
                   f"for ({use.name}); check the declared coordinate system.", area_of_use=use.name)
    area = None
    if instance_crs:
        area = crs_from_user(instance_crs)
        unit = area.axis_info[0].unit_name if area.axis_info else ""
        if not area.is_projected or unit not in ("metre", "meter"):
            logger.warning("instance CRS %s is not metric; areas in the local UTM zone", instance_crs)
            area = None
    if area is None:
        lon, lat = (west + east) / 2, (south + north) / 2
        zone = min(int((lon + 180) // 6) + 1, 60)
        area = CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)
    report.area_crs = _name(area)
    back = Transformer.from_crs(area, "EPSG:4326", always_xy=True)

    def locate(geometry: BaseGeometry) -> tuple[float, float] | None:
        point = geometry if geometry.geom_type == "Point" else shapely.point_on_surface(geometry)
        if point.is_empty:
            return None
        lon, lat = back.transform(shapely.get_x(point), shapely.get_y(point))
        return (round(lon, 7), round(lat, 7))

    report.locate = locate
    return area


def territory_in(area: CRS | None, territory: Any, instance_crs: str | None) -> BaseGeometry | None:
    """The territory (bounds or geometry in the instance CRS) in the CRS the checks measure in."""
    if territory is None or area is None:
        return None
    shape = territory if isinstance(territory, BaseGeometry) else shapely.box(*territory)
    own = crs_from_user(instance_crs) if instance_crs else area
    if own.equals(area):
        return shape
    move = Transformer.from_crs(own, area, always_xy=True)
    dense = shapely.segmentize(shape, max(shape.length / 400, 1e-6))
    return shapely.transform(dense, lambda xy: np.column_stack(move.transform(xy[:, 0], xy[:, 1])))


# --- text encoding -----------------------------------------------------------------------------------------
def codec_from_cpg(text: str | None) -> str | None:
    """The Python codec named by a .cpg file ("UTF-8", "1252", "ANSI 1256", "65001"...), or ``None``."""

    if not text:
        return None
    value = text.strip().lower().replace("ansi", "").strip()
    candidates = {"65001": "utf-8", "88591": "latin-1"}
    value = candidates.get(value, value)
    if re.fullmatch(r"\d{3,4}", value):
        value = f"cp{value}"
    try:
        return codecs.lookup(value).name
    except LookupError:
        return None


def dbf_text_samples(dbf: Path, max_records: int = 50_000, max_values: int = 5_000) -> list[bytes]:
    """Raw values of the character fields of a .dbf that hold non-ASCII bytes (a sample)."""
    with open(dbf, "rb") as handle:
        head = handle.read(32)
        if len(head) < 32:
            return []
        count, header_len, record_len = struct.unpack("<IHH", head[4:12])
        descriptors = handle.read(max(header_len - 32, 0))
        fields, offset = [], 1  # byte 0 of a record is the deletion flag
        for i in range(0, len(descriptors) - 31, 32):
            d = descriptors[i:i + 32]
            if d[0] == 0x0D:
                break
            if chr(d[11]) == "C":
                fields.append((offset, d[16]))
            offset += d[16]
        rows = min(count, max_records)
        handle.seek(header_len)
        data = handle.read(rows * record_len)
    rows = len(data) // max(record_len, 1)
    if not fields or not rows:
        return []
    table = np.frombuffer(data[: rows * record_len], dtype=np.uint8).reshape(rows, record_len)
    values: list[bytes] = []
    for start, length in fields:
        block = table[:, start:start + length]
        for row in np.flatnonzero((block > 127).any(axis=1)):
            values.append(block[row].tobytes().rstrip(b" \x00"))
            if len(values) >= max_values:
                return values
    return values


def _plausibility(text: str) -> float:
    """Share of letters in words of one script that look like real words (not 'ãäØÞÉ')."""
    good = total = 0
    for word in re.findall(r"[^\W\d_]+", text):
        arabic = len(_ARABIC.findall(word))
        latin = sum(1 for c in word if c < "\u0250")
        total += len(word)
        if arabic == len(word):
            good += len(word)
        elif latin == len(word):
            accented = sum(1 for c in word if c > "\x7f")
            if len(word) < 3 or accented * 2 <= len(word):
                good += len(word)
    return (good - 5 * text.count("\ufffd")) / max(total, 1)


def detect_encoding(samples: list[bytes]) -> str:
    """``ascii``, ``utf-8``, ``cp1256`` (Arabic) or ``cp1252`` (French and other Latin accents)."""
    if not samples:
        return "ascii"
    joined = b"\n".join(samples)
    try:
        joined.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    arabic = _plausibility(joined.decode("cp1256", errors="replace"))
    latin = _plausibility(joined.decode("cp1252", errors="replace"))
    return "cp1256" if arabic > latin else "cp1252"


def resolve_encoding(report: ValidationReport, shp: Path, given: str | None) -> str | None:
    """The encoding to read a shapefile's text with (``None``: GDAL follows the .cpg), with findings."""

    cpg_path = shp.with_suffix(".cpg")
    cpg_text = cpg_path.read_text(encoding="latin-1").strip()[:100] if cpg_path.exists() else None
    cpg = codec_from_cpg(cpg_text)
    report.encoding_found = cpg or cpg_text
    if given:
        try:
            report.encoding_used = codecs.lookup(given).name
        except LookupError:
            raise InvalidInput(f"Unknown text encoding '{given}'; use e.g. utf-8, cp1252 or cp1256.",
                               parameter="encoding") from None
        return report.encoding_used
    dbf = shp.with_suffix(".dbf")
    samples = dbf_text_samples(dbf) if dbf.exists() else []
    if cpg:
        try:
            for value in samples:
                value.decode(cpg)
            report.encoding_used = cpg
            return None if cpg == "utf-8" else cpg  # UTF-8: GDAL's own reading (Arrow, faster)
        except UnicodeDecodeError:
            pass
    detected = detect_encoding(samples)
    if detected == "ascii":
        report.encoding_used = cpg or "ascii"
        return None
    report.encoding_used = detected
    if cpg:
        why = f"The .cpg file says {cpg_text}, but the text is not valid {cpg}"
    elif cpg_text:
        why = f"The .cpg file names an unknown encoding ({cpg_text})"
    else:
        why = "There is no .cpg file saying how the text is encoded"
    example = samples[0].decode(detected, errors="replace")[:80]
    report.add(WARNING, "encoding_detected", f"{why}; the text was read as {detected} (e.g. '{example}'). "
               "Check the labels.", encoding=detected, cpg=cpg_text, example=example)
    return detected
