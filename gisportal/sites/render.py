"""The site note as JSON-ready data (the parcel note's keys where they mean the same) and as signed payload.

The signed payload keeps the site's outline (metric CRS, WKT to the centimetre): a site note can be checked for
currency and its situation plan drawn from its number alone.
"""

from __future__ import annotations

import logging
from typing import Any

import shapely

from gisportal.note.render import (
    buildability_to_dict,
    geometry_wgs84,
    overlay_to_dict,
    pick,
    plan_to_dict,
    rounded,
    rules_to_dict,
    signed_cover_facts,
    zone_overlap_to_dict,
)
from gisportal.sites.input import SiteInput
from gisportal.sites.note import SiteNote, build_site_note
from gisportal.storage.base import Store
from gisportal.zoning.overlays import overlay_kind
from gisportal.zoning.rules import RulesCatalogue
from gisportal.zoning.zone_cover import CoverLimits

logger = logging.getLogger(__name__)


def site_to_dict(note: SiteNote, catalogue: RulesCatalogue, lang: str = "fr") -> dict[str, Any]:
    """The site note as JSON-ready data, labels in ``lang``."""
    return {
        "kind": "site",
        "language": lang,
        "as_of": note.as_of.isoformat(),
        "historical": note.is_historical,
        "generated_at": note.generated_at.isoformat(timespec="seconds"),
        "site": {"area_m2": rounded(note.area_m2), "refs": list(note.refs), "crs": note.crs,
                 "bounds_metric": [rounded(v) for v in note.geometry.bounds],
                 "geometry": geometry_wgs84(note.geometry, note.crs)},
        "parcels": [{"ref": p.ref, "address": p.address, "quarter": p.quarter, "area_m2": rounded(p.area_m2),
                     "inside_m2": rounded(p.inside_m2), "share_in_site": rounded(p.share_in_site, 4)}
                    for p in note.parcels],
        "zones": [
            {
                "plan": z.plan, "plan_version": z.plan_version, "code": z.code,
                "label": pick(z.label_fr, z.label_ar, lang, z.rules.label.en if z.rules else None)
                or (z.rules.label.get(lang) if z.rules else z.code),
                "labels": {"fr": z.label_fr, "ar": z.label_ar},
                "share": rounded(z.share, 4), "area_m2": rounded(z.area_m2),
                "total_area_m2": rounded(z.total_area_m2),
                "rules": rules_to_dict(z.rules, catalogue, lang),
                "buildability": buildability_to_dict(z.buildability),
            }
            for z in note.zones
        ],
        "zone_overlaps": [zone_overlap_to_dict(o, catalogue, lang) for o in note.zone_overlaps],
        "remainder": {"share": rounded(note.remainder_share, 4), "area_m2": rounded(note.remainder_m2),
                      "codes": list(note.remainder_codes)},
        "unzoned_share": rounded(note.unzoned_share, 4), "unzoned_m2": rounded(note.unzoned_m2),
        "overlays": [overlay_to_dict(o, lang) for o in note.overlays],
        "layers": [{"layer": layer.layer, "result": layer.result, "area_m2": rounded(layer.area_m2),
                    "label": _layer_label(layer.layer, lang)} for layer in note.layers],
        "buildability": buildability_to_dict(note.buildability),
        "plans": [plan_to_dict(pl, lang) for pl in note.plans],
        "warnings": [{"code": code, "subject": subject} for code, subject in note.warnings],
    }


_LAYER_LABELS = {"zones": {"fr": "Zonage", "ar": "التنطيق", "en": "Zoning"},
                 "parcels": {"fr": "Parcelles", "ar": "القطع الأرضية", "en": "Parcels"}}


def _layer_label(layer: str, lang: str) -> str:
    if layer in _LAYER_LABELS:
        return _LAYER_LABELS[layer].get(lang, _LAYER_LABELS[layer]["fr"])
    kind = overlay_kind(layer)
    return pick(kind.label_fr, kind.label_ar, lang, kind.label_en)


def site_payload(note: SiteNote, lang: str) -> dict[str, Any]:
    """The facts a site note states, as signed (the registry files it under the site's label)."""
    return {
        "kind": "site",
        "lang": lang,
        "as_of": note.as_of.isoformat(),
        "historical": note.is_historical,
        "parcel": {"ref": note.label, "area_m2": round(note.area_m2, 2)},
        "site": {"area_m2": round(note.area_m2, 2), "crs": note.crs, "refs": list(note.refs),
                 "wkt": shapely.to_wkt(note.geometry, rounding_precision=-1)},
        "parcels": [{"ref": p.ref, "inside_m2": round(p.inside_m2, 2)} for p in note.parcels],
        "zones": [{"plan": z.plan, "version": z.plan_version, "code": z.code, "share": round(z.share, 4),
                   "area_m2": round(z.area_m2, 2),
                   "rules": z.rules.model_dump(mode="json") if z.rules else None} for z in note.zones],
        "overlays": [{"plan": o.plan, "version": o.plan_version, "kind": o.kind, "label": o.label_fr,
                      "area_m2": round(o.area_m2, 2)} for o in note.overlays],
        "layers": {layer.layer: layer.result for layer in note.layers},
        "plans": [{"name": p.name, "version": p.version, "approval_act": p.approval_act,
                   "approval_date": p.approval_date.isoformat()} for p in note.plans],
        **signed_cover_facts(note),
    }


def site_of_payload(payload: dict[str, Any]) -> SiteInput:
    """The site an issued site note was made for (its signed outline)."""
    site = payload["site"]
    return SiteInput(shapely.from_wkt(site["wkt"]), tuple(site.get("refs", ())))


def site_payload_today(store: Store, catalogue: RulesCatalogue, payload: dict[str, Any],
                       limits: CoverLimits | None = None) -> dict[str, Any]:
    """The payload the same site would get today, slivers under ``limits`` (to tell whether an issued site note
    is still current)."""
    return site_payload(build_site_note(store, catalogue, site_of_payload(payload), cover_limits=limits),
                        payload["lang"])
