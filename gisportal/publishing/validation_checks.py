"""The checks behind :func:`gisportal.publishing.validation.validate_layer`: text, geometry, zones, territory.

Every check works on whole arrays (shapely 2 vectorised functions, one
STRtree for overlaps) so that a plan of 100,000 zones is checked in seconds.
Geometry is checked as written in the file (validity reasons name the file's
coordinates) and measured in the metric CRS chosen by the caller.
"""

from __future__ import annotations

import logging
import re
from typing import Any, cast

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer
from shapely.geometry.base import BaseGeometry

from gisportal.publishing.validation_report import BLOCKING, WARNING, ValidationReport

logger = logging.getLogger(__name__)

#: Overlaps smaller than this (m²) are floating-point noise, not reported.
NOISE_M2 = 1e-3
#: UTF-8 read as Latin-1/cp1252 ("Ã©", "Ø³"), replacement and C1 control characters.
_GARBLED = re.compile("\ufffd|[\x80-\x9f]|[ÃÂØÙÚÛ][\x80-\xbf€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ]")


# --- text ---------------------------------------------------------------------------------------------------
def check_text(report: ValidationReport, frame: gpd.GeoDataFrame) -> None:
    """One finding when text looks garbled (mojibake, replacement characters), with examples."""
    hits: dict[int, tuple[str, str]] = {}
    for column in frame.columns:
        if column == frame.geometry.name or not pd.api.types.is_string_dtype(frame[column].dtype):
            continue
        values = frame[column]
        mask = values.map(lambda v: isinstance(v, str) and _GARBLED.search(v) is not None).to_numpy(dtype=bool)
        for row in np.flatnonzero(mask):
            hits.setdefault(int(row) + 1, (str(column), values.iloc[row]))
    if hits:
        examples = [{"feature_id": i, "field": f, "value": v} for i, (f, v) in list(hits.items())[:10]]
        report.add(WARNING, "garbled_text", f"The text of {len(hits)} feature(s) looks garbled (e.g. "
                   f"'{examples[0]['value']}' in field {examples[0]['field']}); the encoding is probably wrong. "
                   "Give the right one (utf-8, cp1252, cp1256).", features=len(hits), examples=examples,
                   feature_ids=list(hits)[:1000])


# --- geometry -------------------------------------------------------------------------------------------------
def _polygonal(geometry: BaseGeometry) -> BaseGeometry:
    """The polygonal part of a repaired geometry (as :func:`gisportal.publishing.imports.clean_polygons` keeps it)."""
    if geometry.geom_type in ("Polygon", "MultiPolygon"):
        return geometry
    parts = [g for g in getattr(geometry, "geoms", []) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def _mover(source: CRS | None, target: CRS | None) -> Any:
    """A function moving an array of geometries from ``source`` to ``target`` (identity when no change)."""
    if source is None or target is None or source.equals(target):
        return lambda geoms: geoms
    transformer = Transformer.from_crs(source, target, always_xy=True)

    def move(geoms: np.ndarray) -> np.ndarray:
        return shapely.transform(geoms, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1])))

    return move


def _area(value: float, metric: bool) -> float | None:
    return round(float(value), 2) if metric else None


def _m2(value: float | None) -> str:
    return f"{value:,.1f} m²" if value is not None else "an area in unknown units"


def _text(value: Any) -> str:
    """A cell as text; integer codes read as floats (12.0) become '12'."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def run_checks(report: ValidationReport, frame: gpd.GeoDataFrame, *, area_crs: CRS | None, zone_field: str | None,
               catalogue: set[str] | None, territory: BaseGeometry | None, min_area_m2: float,
               measured: bool) -> None:
    """All feature checks, in the order a planner fixes things: text, geometry, codes, topology, place.

    ``frame`` is in its own CRS; geometry is measured in ``area_crs`` (``None``: no CRS, no areas) where
    ``territory`` is given too.
    """
    check_text(report, frame)
    metric = area_crs is not None
    to_work = _mover(frame.crs, area_crs)
    geoms = np.asarray(frame.geometry.values, dtype=object)
    ids = np.arange(1, len(geoms) + 1)
    missing = pd.isna(geoms) | shapely.is_empty(geoms)
    for i in np.flatnonzero(missing):
        report.add(WARNING, "empty_geometry", f"Feature {ids[i]} has no geometry; it will be skipped.",
                   feature_id=int(ids[i]))
    keep = ~missing
    has_z = np.zeros(len(geoms), dtype=bool)
    has_m = np.zeros(len(geoms), dtype=bool)
    has_z[keep] = shapely.has_z(geoms[keep])
    has_m[keep] = shapely.has_m(geoms[keep])
    flat = has_z | has_m
    if flat.any() or measured:
        geoms[flat] = shapely.force_2d(geoms[flat])
        what = " and ".join(w for w, on in (("heights (Z)", has_z.any()), ("measures (M)", has_m.any() or measured))
                            if on)
        report.add(WARNING, "flattened_3d", f"{int(flat.sum()) or 'All'} feature(s) carry {what}; they are "
                   "flattened to 2D (only the outline in plan counts).", features=int(flat.sum()),
                   feature_ids=ids[flat][:1000].tolist(), z=bool(has_z.any()), m=bool(has_m.any() or measured))
    _check_validity(report, geoms, keep, ids, to_work, metric)
    kinds = np.full(len(geoms), -1)
    kinds[keep] = shapely.get_type_id(geoms[keep])
    polygon = keep & np.isin(kinds, [3, 6]) & ~(pd.isna(geoms) | shapely.is_empty(geoms))
    not_polygon = keep & ~np.isin(kinds, [3, 6])
    if not_polygon.any() and not polygon.any():
        types = sorted({g.geom_type for g in geoms[not_polygon]})
        report.add(BLOCKING, "not_polygon", f"The layer holds {', '.join(types)} features, not polygons; a "
                   f"{report.kind} layer needs polygons.", types=types, features=int(not_polygon.sum()))
        return
    for i in np.flatnonzero(not_polygon):
        report.add(WARNING, "not_polygon", f"Feature {ids[i]} is a {geoms[i].geom_type}, not a polygon; it will be "
                   "skipped.", feature_id=int(ids[i]), at=to_work(np.array([geoms[i]]))[0],
                   type=geoms[i].geom_type)
    if not polygon.any():
        report.add(BLOCKING, "no_usable_feature", "No feature has a usable polygon; nothing could be published.")
        return
    idx = np.flatnonzero(polygon)
    work = to_work(geoms[idx])
    same = _duplicates(report, frame, geoms, idx, work)
    if territory is not None:
        _territory(report, work, ids[idx], territory)
    if report.kind == "zones":
        codes = _zone_codes(report, frame, zone_field, idx, work)
        coded = codes != "" if codes is not None else np.ones(len(idx), dtype=bool)
        if catalogue is not None and codes is not None:
            _codes_without_rules(report, codes[coded], ids[idx][coded], catalogue)
        suspect = _coverage_suspects(work)
        _overlaps(report, work, ids[idx], codes, coded, suspect, same, min_area_m2, metric)
        _gaps(report, work, suspect, min_area_m2, metric)


def _check_validity(report: ValidationReport, geoms: np.ndarray, keep: np.ndarray, ids: np.ndarray, to_work: Any,
                    metric: bool) -> None:
    """Invalid geometries: reason, repair offered (make_valid, polygonal part), repaired area; repaired in place."""
    invalid = np.zeros(len(geoms), dtype=bool)
    polygonal = keep & np.isin(shapely.get_type_id(geoms), [3, 6])
    invalid[polygonal] = ~shapely.is_valid(geoms[polygonal])
    if not invalid.any():
        return
    where = np.flatnonzero(invalid)
    reasons = shapely.is_valid_reason(geoms[where])
    repaired = np.array([_polygonal(g) for g in shapely.make_valid(geoms[where])], dtype=object)
    areas = shapely.area(to_work(repaired))
    for i, reason, fixed, area in zip(where, reasons, repaired, areas, strict=True):
        spot = re.search(r"\[([-\d.eE+]+) ([-\d.eE+]+)\]", reason or "")
        point = shapely.Point(float(spot[1]), float(spot[2])) if spot else None
        at = to_work(np.array([point if point is not None else geoms[i]]))[0]
        if fixed.is_empty:
            repair, tail = "none: nothing polygonal remains", "it will be skipped"
        else:
            repair = "make_valid, polygonal part kept"
            tail = f"the repair keeps {_m2(_area(area, metric))} in {len(shapely.get_parts(fixed))} part(s)"
        said = re.sub(r"\[([-\d.eE+]+) ([-\d.eE+]+)\]", r" at (\1, \2)", reason or "invalid")
        report.add(WARNING, "invalid_geometry", f"Feature {ids[i]} is not a valid polygon ({said}); {tail}.",
                   feature_id=int(ids[i]), at=at, reason=reason, repair=repair,
                   repaired_area_m2=_area(area, metric) if not fixed.is_empty else None,
                   repaired_parts=int(len(shapely.get_parts(fixed))))
    geoms[where] = repaired


def _duplicates(report: ValidationReport, frame: gpd.GeoDataFrame, geoms: np.ndarray, idx: np.ndarray,
                work: np.ndarray) -> set[tuple[int, int]]:
    """Features repeating an earlier one's geometry; returns the (first, repeat) feature ids of exact repeats.

    Exact repeats (same attributes) are not also reported as overlaps; the same geometry with another zone
    code is, since the two codes compete for the same ground.
    """
    same_pairs: set[tuple[int, int]] = set()
    subset = geoms[idx]
    bounds = shapely.bounds(subset)
    quick = pd.DataFrame({"x0": bounds[:, 0], "y0": bounds[:, 1], "x1": bounds[:, 2], "y1": bounds[:, 3],
                          "n": shapely.get_num_coordinates(subset)})
    maybe = np.flatnonzero(quick.duplicated(keep=False).to_numpy())
    if not len(maybe):
        return same_pairs
    keys = pd.Series(shapely.to_wkb(shapely.normalize(subset[maybe]), hex=True), index=maybe)
    first = keys.duplicated(keep="first")
    table = frame.drop(columns=frame.geometry.name)

    def attrs(pos: int) -> list[str]:
        return [_text(v) for v in table.iloc[int(idx[pos])].tolist()]

    first_of: dict[str, int] = {}
    for pos, key in keys.items():
        first_of.setdefault(key, int(cast(int, pos)))  # the frame's positions (a RangeIndex)
    for pos in keys.index[first.to_numpy()]:
        original = first_of[keys[pos]]
        identical = attrs(pos) == attrs(original)
        what = "geometry and attributes" if identical else "geometry (attributes differ)"
        fid, oid = int(idx[pos]) + 1, int(idx[original]) + 1
        if identical:
            same_pairs.add((oid, fid))
        report.add(WARNING, "duplicate_feature", f"Feature {fid} repeats the {what} of feature {oid}.",
                   feature_id=fid, at=work[pos], duplicate_of=oid, same_attributes=bool(identical))
    return same_pairs


def _territory(report: ValidationReport, work: np.ndarray, ids: np.ndarray, area: BaseGeometry) -> None:
    """Features entirely outside the territory block; partly outside: a warning with the area outside."""
    bounds = shapely.bounds(work)
    x0, y0, x1, y1 = area.bounds
    inside = (bounds[:, 0] >= x0) & (bounds[:, 1] >= y0) & (bounds[:, 2] <= x1) & (bounds[:, 3] <= y1)
    doubt = np.flatnonzero(~inside) if area.equals(shapely.box(*area.bounds)) else np.arange(len(work))
    shapely.prepare(area)
    inside[doubt] = shapely.within(work[doubt], area)
    if len(work) > 1 and not inside.any() and not shapely.intersects(work, area).any():
        _layer_elsewhere(report, work, area)
        return
    for i in np.flatnonzero(~inside):
        if shapely.intersects(work[i], area):
            out = shapely.area(shapely.difference(work[i], area))
            if out < 0.01:  # coordinate rounding (e.g. a round trip through WGS84), not a feature outside
                continue
            report.add(WARNING, "outside_territory", f"Feature {ids[i]} lies partly outside the agency's territory "
                       f"({_m2(round(float(out), 2))} outside).", feature_id=int(ids[i]),
                       at=shapely.difference(work[i], area), area_outside_m2=round(float(out), 2))
        else:
            report.add(BLOCKING, "outside_territory", f"Feature {ids[i]} lies entirely outside the agency's "
                       "territory; check its coordinate system or remove it.", feature_id=int(ids[i]), at=work[i])


def _layer_elsewhere(report: ValidationReport, work: np.ndarray, area: shapely.Geometry) -> None:
    """The whole layer lies away from the territory: one blocking finding saying where it lies (its extent in
    WGS84 and its distance from the territory), not one per feature."""
    x0, y0, x1, y1 = shapely.total_bounds(work)
    extent = shapely.box(x0, y0, x1, y1)
    distance_km = float(shapely.distance(extent, area)) / 1000
    corners = [report.locate(shapely.Point(x, y)) for x, y in ((x0, y0), (x1, y1))] if report.locate else []
    corners = [c for c in corners if c]
    where = ""
    if len(corners) == 2:
        (lon0, lat0), (lon1, lat1) = corners
        where = (f" Its extent in WGS84 is longitude {lon0:.4f} to {lon1:.4f}, latitude {lat0:.4f} to {lat1:.4f}.")
    report.add(BLOCKING, "outside_territory",
               f"The whole layer ({len(work)} features) lies outside the agency's territory, "
               f"{distance_km:,.1f} km away from it.{where} If the layer belongs there, it is not this territory's "
               "plan; if not, its coordinate system is wrong.", at=extent, features=len(work),
               distance_km=round(distance_km, 3),
               extent_wgs84=[*corners[0], *corners[1]] if len(corners) == 2 else None)


def _zone_codes(report: ValidationReport, frame: gpd.GeoDataFrame, zone_field: str | None, idx: np.ndarray,
                work: np.ndarray) -> np.ndarray | None:
    fields = [c for c in frame.columns if c != frame.geometry.name]
    match = [c for c in fields if zone_field is not None and c.lower() == zone_field.lower()]
    if not match:
        said = f"There is no field '{zone_field}'" if zone_field else "No zone-code field was chosen"
        report.add(BLOCKING, "zone_field_missing", f"{said}; choose the field holding the zone codes among: "
                   f"{', '.join(fields) or '(none)'}.", fields=fields, zone_field=zone_field)
        return None
    report.zone_field = match[0]
    codes = frame[match[0]].iloc[idx].map(_text).to_numpy(dtype=object)
    blank = codes == ""
    if blank.all():
        report.add(BLOCKING, "no_zone_code", f"No feature has a zone code in field {match[0]}; choose another "
                   "field.", features=int(blank.sum()))
        return codes
    for pos in np.flatnonzero(blank):
        fid = int(idx[pos]) + 1
        report.add(WARNING, "no_zone_code", f"Feature {fid} has no zone code in field {match[0]}; it will be "
                   "skipped.", feature_id=fid, at=work[pos])
    return codes


def _codes_without_rules(report: ValidationReport, codes: np.ndarray, ids: np.ndarray, catalogue: set[str]) -> None:
    counts = pd.Series(codes).value_counts()
    unknown = sorted(c for c in counts.index if c not in catalogue)
    if unknown:
        report.add(WARNING, "code_without_rules", f"{len(unknown)} zone code(s) have no rules in the catalogue: "
                   f"{', '.join(unknown)}. Notes will say the rules are not available until they are added.",
                   codes={c: int(counts[c]) for c in unknown},
                   feature_ids={c: ids[codes == c][:100].tolist() for c in unknown})


def _coverage_suspects(work: np.ndarray) -> np.ndarray:
    """Zones with an edge that does not match its neighbours' (GEOS coverage validation): the only ones that can
    overlap another. A clean plan (shared boundaries digitised once) has none, and costs one pass."""
    try:
        return ~shapely.is_empty(shapely.coverage_invalid_edges(work))
    except shapely.errors.GEOSException:  # pragma: no cover - defensive: check every zone
        return np.ones(len(work), dtype=bool)


def _overlaps(report: ValidationReport, work: np.ndarray, ids: np.ndarray, codes: np.ndarray | None,
              coded: np.ndarray, suspect: np.ndarray, same: set[tuple[int, int]], min_area_m2: float,
              metric: bool) -> None:
    """Pairs of coded zones sharing area: suspects queried in an STRtree, interiors-intersect test, then area."""
    members = np.flatnonzero(coded)
    candidates = np.flatnonzero(suspect & coded)
    if len(members) < 2 or not len(candidates):
        return
    tree = shapely.STRtree(work[members])
    shapely.prepare(work[candidates])
    found, hit = tree.query(work[candidates], predicate="intersects")
    pairs = np.unique(np.sort(np.column_stack([candidates[found], members[hit]]), axis=1), axis=0)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    if not len(pairs):
        return
    left, right = pairs[:, 0], pairs[:, 1]
    inner = shapely.relate_pattern(work[left], work[right], "T********")
    left, right = left[inner], right[inner]
    pieces = shapely.intersection(work[left], work[right])
    areas = shapely.area(pieces)
    for a, b, piece, area in zip(left, right, pieces, areas, strict=True):
        if area < (NOISE_M2 if metric else 0.0) or (int(ids[a]), int(ids[b])) in same:
            continue
        severity = BLOCKING if area >= min_area_m2 or not metric else WARNING
        ca, cb = (f" (zone {codes[a]})", f" (zone {codes[b]})") if codes is not None else ("", "")
        sliver = "" if severity == BLOCKING else " (a sliver: check the shared boundary)"
        report.add(severity, "zone_overlap", f"Features {ids[a]}{ca} and {ids[b]}{cb} overlap over "
                   f"{_m2(_area(area, metric))}{sliver}.", feature_id=int(ids[b]), at=piece,
                   other_feature_id=int(ids[a]), area_m2=_area(area, metric),
                   codes=[codes[a], codes[b]] if codes is not None else None)


def _union(work: np.ndarray, suspect: np.ndarray) -> BaseGeometry:
    """Union of all zones: coverage union (fast) of the clean ones, then an ordinary union with the rest."""
    clean = work[~suspect]
    try:
        base = shapely.coverage_union_all(clean) if len(clean) else shapely.Polygon()
    except shapely.errors.GEOSException:  # edges not noded alike: the general (slower) union
        base = shapely.union_all(clean)
    return shapely.union_all(np.append(work[suspect], np.array([base], dtype=object)))


def _gaps(report: ValidationReport, work: np.ndarray, suspect: np.ndarray, min_area_m2: float, metric: bool) -> None:
    """Holes in the plan: interior rings of the union of all zones, minus zones lying inside them."""
    if not metric or not len(work):
        return
    parts = shapely.get_parts(_union(work, suspect))
    holes = [shapely.Polygon(ring) for part in parts for ring in part.interiors]
    if not holes:
        return
    tree = shapely.STRtree(parts)
    for hole in holes:
        if hole.area < min_area_m2:
            continue
        islands = parts[tree.query(hole, predicate="contains")]
        gap = shapely.difference(hole, shapely.union_all(islands)) if len(islands) else hole
        if gap.area >= min_area_m2:
            report.add(WARNING, "zone_gap", f"There is a gap of {_m2(round(gap.area, 2))} inside the plan's "
                       "perimeter that no zone covers.", at=gap, area_m2=round(float(gap.area), 2))
