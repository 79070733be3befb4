"""Validation findings told in the page's language.

The validator (:mod:`gisportal.publishing.validation`) writes each finding's ``message`` in English, for the CLI, the
JSON report and logs; it also records the finding's facts in ``details`` (feature ids, areas, CRS names,
codes...). The draft page tells the finding again from those facts, in French or Arabic, with one sentence per
code (and severity where it changes the meaning); the English message stays available as the technical detail.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask_babel import format_decimal
from flask_babel import gettext as _

logger = logging.getLogger(__name__)

Finding = dict[str, Any]


def _area(value: Any) -> str:
    return f"{format_decimal(round(float(value), 1))} m²"


def _feature(f: Finding) -> Any:
    return f.get("feature_id")


def _crs(f: Finding) -> str:
    d = f["details"]
    if d.get("matched"):
        return _("The coordinate system %(declared)s has no EPSG code; it has the same projection and ellipsoid as "
                 "%(matched)s, which is used.", declared=d["declared"], matched=d["matched"])
    return _("The coordinate system %(declared)s has no EPSG code and matches none; it is used as written.",
             declared=d["declared"])


def _unusable(f: Finding) -> str:
    if f["severity"] == "blocking":
        return _("The declared coordinate system cannot be used; give one (e.g. EPSG:26191) or export the layer "
                 "again.")
    return _("The declared coordinate system cannot be used; the one you gave is used instead.")


def _outside_crs(f: Finding) -> str:
    if f["details"].get("area_of_use"):
        return _("The layer lies outside the area its coordinate system is made for (%(area)s); check the declared "
                 "coordinate system.", area=f["details"]["area_of_use"])
    return _("The coordinates cannot be placed on the Earth in the declared coordinate system; it is probably wrong.")


def _invalid(f: Finding) -> str:
    d = f["details"]
    if d.get("repaired_area_m2") is None:
        return _("Feature %(feature)s is not a valid polygon (%(reason)s); nothing polygonal remains, it will be "
                 "skipped.", feature=_feature(f), reason=d.get("reason") or "?")
    return _("Feature %(feature)s is not a valid polygon (%(reason)s); the repair keeps %(area)s in %(parts)s "
             "part(s).", feature=_feature(f), reason=d.get("reason") or "?", area=_area(d["repaired_area_m2"]),
             parts=d.get("repaired_parts", 1))


def _not_polygon(f: Finding) -> str:
    d = f["details"]
    if f["severity"] == "blocking":
        return _("The layer holds %(types)s features, not polygons; polygons are needed.",
                 types=", ".join(d.get("types") or []))
    return _("Feature %(feature)s is a %(type)s, not a polygon; it will be skipped.", feature=_feature(f),
             type=d.get("type", "?"))


def _zone_field(f: Finding) -> str:
    d = f["details"]
    fields = ", ".join(d.get("fields") or []) or "—"
    if d.get("zone_field"):
        return _("The layer has no field %(field)s; choose the field holding the zone codes among: %(fields)s.",
                 field=d["zone_field"], fields=fields)
    return _("Choose the field holding the zone codes among: %(fields)s.", fields=fields)


def _no_code(f: Finding) -> str:
    if f["severity"] == "blocking":
        return _("No feature has a zone code in the chosen field; choose another field.")
    return _("Feature %(feature)s has no zone code; it will be skipped.", feature=_feature(f))


def _overlap(f: Finding) -> str:
    d = f["details"]
    values = dict(one=d.get("other_feature_id"), other=_feature(f), area=_area(d.get("area_m2") or 0))
    if f["severity"] == "blocking":
        return _("Features %(one)s and %(other)s overlap over %(area)s.", **values)
    return _("Features %(one)s and %(other)s overlap over %(area)s (a sliver: check the shared boundary).", **values)


def _outside(f: Finding) -> str:
    d = f["details"]
    if d.get("features") and d.get("extent_wgs84"):  # the whole layer lies elsewhere
        lon0, lat0, lon1, lat1 = d["extent_wgs84"]
        return _("The whole layer (%(n)s features) lies outside the agency's territory, %(km)s km away from it, "
                 "between longitude %(lon0)s and %(lon1)s and latitude %(lat0)s and %(lat1)s (WGS84). If the layer "
                 "belongs there, it is not this territory's plan; if not, its coordinate system is wrong.",
                 n=d["features"], km=format_decimal(d["distance_km"], "#,##0.0"), lon0=f"{lon0:.4f}",
                 lon1=f"{lon1:.4f}", lat0=f"{lat0:.4f}", lat1=f"{lat1:.4f}")
    if f["severity"] == "blocking":
        return _("Feature %(feature)s lies entirely outside the agency's territory; check its coordinate system or "
                 "remove it.", feature=_feature(f))
    return _("Feature %(feature)s lies partly outside the agency's territory (%(area)s outside).",
             feature=_feature(f), area=_area(f["details"].get("area_outside_m2") or 0))


def _duplicate(f: Finding) -> str:
    d = f["details"]
    if d.get("same_attributes"):
        return _("Feature %(feature)s repeats the geometry and attributes of feature %(other)s.",
                 feature=_feature(f), other=d.get("duplicate_of"))
    return _("Feature %(feature)s repeats the geometry of feature %(other)s.", feature=_feature(f),
             other=d.get("duplicate_of"))


_TELLERS: dict[str, Callable[[Finding], str]] = {
    "no_features": lambda f: _("The layer holds no feature."),
    "crs_missing": lambda f: _("The layer has no coordinate system; give it (e.g. EPSG:26191 for Lambert Nord "
                               "Maroc)."),
    "crs_unusable": _unusable,
    "crs_custom": _crs,
    "crs_ignored": lambda f: _("The file declares %(declared)s; the coordinate system you gave (%(given)s) is "
                               "ignored.", declared=f["details"]["declared"], given=f["details"]["given"]),
    "coordinates_outside_crs": _outside_crs,
    "encoding_detected": lambda f: _("The text was read as %(encoding)s (e.g. “%(example)s”); check the labels.",
                                     encoding=f["details"]["encoding"], example=f["details"].get("example", "")),
    "garbled_text": lambda f: _("The text of %(count)s feature(s) looks garbled; the encoding is probably wrong. "
                                "Give the right one (utf-8, cp1252, cp1256).", count=f["details"]["features"]),
    "flattened_3d": lambda f: _("%(count)s feature(s) carry heights or measures; they are flattened to 2D (only "
                                "the outline in plan counts).", count=f["details"]["features"]),
    "empty_geometry": lambda f: _("Feature %(feature)s has no geometry; it will be skipped.", feature=_feature(f)),
    "invalid_geometry": _invalid,
    "not_polygon": _not_polygon,
    "no_usable_feature": lambda f: _("No feature has a usable polygon; nothing could be published."),
    "zone_field_missing": _zone_field,
    "no_zone_code": _no_code,
    "code_without_rules": lambda f: _("%(count)s zone code(s) have no rules in the catalogue: %(codes)s. Notes will "
                                      "say the rules are not available until they are added.",
                                      count=len(f["details"]["codes"]), codes=", ".join(f["details"]["codes"])),
    "zone_overlap": _overlap,
    "zone_gap": lambda f: _("There is a gap of %(area)s inside the plan's perimeter that no zone covers.",
                            area=_area(f["details"]["area_m2"])),
    "outside_territory": _outside,
    "duplicate_feature": _duplicate,
}


def tell_finding(finding: Finding) -> str:
    """The finding in the page's language; its English message when its facts do not fit (older reports)."""
    teller = _TELLERS.get(finding.get("code", ""))
    if teller is None:
        return finding.get("message", "")
    try:
        return teller({**finding, "details": finding.get("details") or {}})
    except (KeyError, TypeError, ValueError) as exc:
        logger.debug("finding %s told in English: %s", finding.get("code"), exc)
        return finding.get("message", "")
