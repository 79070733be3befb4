"""Renderers that turn domain objects into JSON-ready data (notes, GeoJSON).

The HTML renderer is a template (``templates/note/note.html``) fed with the same
note object; the JSON here is what the API returns and what the HTML page
embeds, so both always agree.
"""

from __future__ import annotations

import logging
from dataclasses import fields
from operator import attrgetter
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from geopandas.array import GeometryArray
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

from gisportal.core.coords import WGS84, transformer
from gisportal.note.build import Buildability, UrbanNote, ZoneOverlapOnParcel
from gisportal.zoning.overlays import overlay_kind
from gisportal.zoning.parcels import ParcelRecord
from gisportal.zoning.rules import RulesCatalogue, ZoneRules

logger = logging.getLogger(__name__)


def pick(fr: str, ar: str, lang: str, en: str | None = None) -> str:
    """The text for ``lang`` among French, Arabic and English, falling back to French."""
    if lang == "ar" and ar:
        return ar
    if lang == "en" and en:
        return en
    return fr or ar


def rounded(value: float | None, digits: int = 2) -> float | None:
    """``value`` rounded to ``digits`` decimals as the notes state it (``None`` stays ``None``)."""
    return None if value is None else round(float(value), digits)


#: (id of rules, id of catalogue, lang) -> (rules, catalogue, dict): rules never change once loaded.
_RULES_DICTS: dict[tuple[int, int, str], tuple[ZoneRules, RulesCatalogue, dict[str, Any]]] = {}


def rules_to_dict(rules: ZoneRules | None, catalogue: RulesCatalogue, lang: str) -> dict[str, Any] | None:
    """Rules of a zone with use labels in ``lang``; ``None`` when not yet defined (cached; do not mutate)."""
    if rules is None:
        return None
    key = (id(rules), id(catalogue), lang)
    hit = _RULES_DICTS.get(key)
    if hit is not None and hit[0] is rules and hit[1] is catalogue:
        return hit[2]
    data = _rules_to_dict(rules, catalogue, lang)
    if len(_RULES_DICTS) > 4096:
        _RULES_DICTS.clear()
    _RULES_DICTS[key] = (rules, catalogue, data)
    return data


def _rules_to_dict(rules: ZoneRules, catalogue: RulesCatalogue, lang: str) -> dict[str, Any]:
    data = rules.model_dump(exclude={"label", "parking", "provisions", "color"})
    data["allowed_uses"] = [{"code": u, "label": catalogue.use_label(u, lang)} for u in rules.allowed_uses]
    data["forbidden_uses"] = [{"code": u, "label": catalogue.use_label(u, lang)} for u in rules.forbidden_uses]
    data["floors"] = rules.floors_label
    data["parking"] = rules.parking.get(lang) if rules.parking else None
    data["provisions"] = rules.provisions.get(lang) if rules.provisions else None
    data["color"] = rules.color
    return data


#: Buildability's fields, all scalars: read directly (dataclasses.asdict deep-copies, ~60 µs a call).
_BUILDABILITY_FIELDS = tuple(f.name for f in fields(Buildability))
_buildability_values = attrgetter(*_BUILDABILITY_FIELDS)


def buildability_to_dict(b: Buildability) -> dict[str, Any]:
    """A note's buildability as JSON-ready data, areas rounded to the centimetre."""
    return {k: (round(float(v), 2) if isinstance(v, float) else v)
            for k, v in zip(_BUILDABILITY_FIELDS, _buildability_values(b), strict=True)}


def overlay_to_dict(o: Any, lang: str) -> dict[str, Any]:
    """A servitude on a parcel or a site, as the notes' JSON states it."""
    kind = overlay_kind(o.kind)
    return {
        "plan": o.plan, "plan_version": o.plan_version, "kind": o.kind,
        "kind_label": pick(kind.label_fr, kind.label_ar, lang, kind.label_en),
        "label": pick(o.label_fr, o.label_ar, lang), "labels": {"fr": o.label_fr, "ar": o.label_ar},
        "provision": pick(o.provision_fr, o.provision_ar, lang) or None,
        "area_m2": rounded(o.area_m2), "share": rounded(o.share, 4),
        "removes_buildable_area": o.removes_buildable_area, "max_height_m": o.max_height_m,
    }


def plan_to_dict(pl: Any, lang: str) -> dict[str, Any]:
    """A plan version a note rests on: title, act, dates, status."""
    return {
        "name": pl.name, "title": pick(pl.title_fr, pl.title_ar, lang), "version": pl.version,
        "approval_act": pl.approval_act, "approval_date": pl.approval_date.isoformat(),
        "effective_from": pl.effective_from.isoformat(),
        "effective_to": pl.effective_to.isoformat() if pl.effective_to else None, "status": pl.status,
    }


def zone_overlap_to_dict(o: ZoneOverlapOnParcel, catalogue: RulesCatalogue, lang: str) -> dict[str, Any]:
    """Land under several zone codes: codes, labels, area, the stricter rules and which code each came from."""
    return {
        "codes": list(o.codes),
        "labels": [pick(fr, ar, lang) or code for code, fr, ar in zip(o.codes, o.labels_fr, o.labels_ar, strict=True)],
        "share": rounded(o.share, 4), "area_m2": rounded(o.area_m2),
        "rules": rules_to_dict(o.rules, catalogue, lang),
        "rules_taken": dict(o.rules_taken),
        "buildability": buildability_to_dict(o.buildability),
    }


def signed_cover_facts(note: UrbanNote | Any) -> dict[str, Any]:
    """The zone overlaps and the sliver remainder of a note (a parcel's or a site's) as its signed payload states
    them: only when there are some, so that notes issued before these were stated keep their content hash."""
    return {
        **({"zone_overlaps": [{"codes": list(o.codes), "share": round(o.share, 4), "area_m2": round(o.area_m2, 2),
                               "rules": o.rules.model_dump(mode="json") if o.rules else None,
                               "rules_taken": dict(o.rules_taken)} for o in note.zone_overlaps]}
           if note.zone_overlaps else {}),
        **({"remainder": {"share": round(note.remainder_share, 4), "area_m2": round(note.remainder_m2, 2),
                          "codes": list(note.remainder_codes)}} if note.remainder_m2 > 0 else {}),
    }


def note_to_dict(note: UrbanNote, catalogue: RulesCatalogue, lang: str = "fr",
                 documents: dict[str, list[dict[str, Any]]] | None = None) -> dict[str, Any]:
    """The note as JSON-ready data, labels in ``lang`` (all languages kept under ``labels``).

    ``documents``: the library's regulation documents per plan name (each with its ``zones``, empty for the
    whole plan), listed under ``plans[].documents`` and, for the zones they name or the whole plan, under
    ``zones[].documents``.
    """
    documents = documents or {}
    p = note.parcel
    return {
        "language": lang,
        "as_of": note.as_of.isoformat(),
        "historical": note.is_historical,
        "generated_at": note.generated_at.isoformat(timespec="seconds"),
        "parcel": {
            "ref": p.ref, "address": p.address, "quarter": p.quarter, "area_m2": rounded(p.area_m2),
            "centroid": {"lon": rounded(p.centroid_lon, 6), "lat": rounded(p.centroid_lat, 6)},
            "centroid_metric": {"x": rounded(p.centroid_x), "y": rounded(p.centroid_y), "crs": p.crs},
            "geometry": geometry_wgs84(p.geometry, p.crs),
        },
        "zones": [
            {
                "plan": z.plan, "plan_version": z.plan_version, "code": z.code,
                "label": pick(z.label_fr, z.label_ar, lang, z.rules.label.en if z.rules else None)
                or (z.rules.label.get(lang) if z.rules else z.code),
                "labels": {"fr": z.label_fr, "ar": z.label_ar},
                "share": rounded(z.share, 4), "area_m2": rounded(z.area_m2), "total_area_m2": rounded(z.total_area_m2),
                "rules": rules_to_dict(z.rules, catalogue, lang),
                "buildability": buildability_to_dict(z.buildability),
                "documents": [d for d in documents.get(z.plan, ()) if not d["zones"] or z.code in d["zones"]],
            }
            for z in note.zones
        ],
        "zone_overlaps": [zone_overlap_to_dict(o, catalogue, lang) for o in note.zone_overlaps],
        "remainder": {"share": rounded(note.remainder_share, 4), "area_m2": rounded(note.remainder_m2),
                      "codes": list(note.remainder_codes)},
        "unzoned_share": rounded(note.unzoned_share, 4),
        "overlays": [overlay_to_dict(o, lang) for o in note.overlays],
        "buildability": buildability_to_dict(note.buildability),
        "plans": [{**plan_to_dict(pl, lang), "documents": documents.get(pl.name, [])} for pl in note.plans],
        "warnings": [{"code": code, "subject": subject} for code, subject in note.warnings],
    }


def to_wgs84(geometries: np.ndarray | GeometryArray | BaseGeometry, crs: str) -> Any:
    """Geometries from ``crs`` to WGS84 lon/lat (vectorised)."""
    t = transformer(crs, WGS84)
    return shapely.transform(geometries, lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1])))


def geometry_wgs84(geometry: BaseGeometry, crs: str) -> dict[str, Any]:
    """A geometry (metric ``crs``) as a GeoJSON geometry in WGS84: ``mapping(to_wgs84(geometry, crs))``.

    A parcel, a multipolygon of one polygon without holes, takes a shorter way (the same numbers): its
    coordinates transformed and listed, with no WGS84 geometry built and read back. One ring it is when its
    coordinates close only at the end (rings are closed: a second ring would start after the first's closing
    point); that test reads no part of the geometry (each read would copy it).
    """
    if geometry.geom_type == "MultiPolygon" and not geometry.has_z:
        xy = shapely.get_coordinates(geometry)
        lon, lat = transformer(crs, WGS84).transform(xy[:, 0].copy(), xy[:, 1].copy())
        ring = tuple(zip(lon.tolist(), lat.tolist(), strict=True))
        if ring and ring[0] == ring[-1] and ring[0] not in ring[1:-1]:
            return {"type": "MultiPolygon", "coordinates": ((ring,),)}
    return mapping(to_wgs84(geometry, crs))


def parcel_feature(parcel: ParcelRecord, crs: str) -> dict[str, Any]:
    """A parcel as a GeoJSON Feature in WGS84."""
    return {
        "type": "Feature",
        "id": parcel.ref,
        "geometry": geometry_wgs84(parcel.geometry, crs),
        "properties": {"ref": parcel.ref, "address": parcel.address, "quarter": parcel.quarter,
                       "area_m2": rounded(parcel.geometry.area)},
    }


def frame_to_geojson(frame: gpd.GeoDataFrame, crs: str, precision: int = 6) -> dict[str, Any]:
    """A GeoDataFrame (metric CRS) as a WGS84 GeoJSON FeatureCollection."""
    out = frame.copy()
    out["geometry"] = shapely.set_precision(to_wgs84(frame.geometry.values, crs), 10 ** -precision, mode="pointwise")
    out = gpd.GeoDataFrame(out, geometry="geometry", crs=WGS84)
    return out.__geo_interface__
