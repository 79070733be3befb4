"""A parcel's zoning history: every plan version that applied to it, and what changed on it between them.

For each plan that has ever had a zone or a servitude on the parcel, every version of it (approval act, dates,
status today) is read on the parcel alone, as a note reads it (:func:`gisportal.zoning.zone_cover.zone_cover`): its zones
(land under one code, on the union of each code's features), overlaps of codes (with the stricter rules),
its servitudes, and the rules of the catalogue in force on the version's effective date. Between consecutive
versions, the changes are listed: zones added or removed and shares that moved, rule values (COS, CES, height,
floors, setbacks, minimum lot, uses), servitudes added or removed, and the buildable floor area before → after.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from gisportal.note.build import (
    Buildability,
    OverlayOnParcel,
    ZoneOnParcel,
    ZoneOverlapOnParcel,
    total_buildability,
    zones_of_cover,
)
from gisportal.sites.note import overlays_on
from gisportal.storage.base import Store
from gisportal.zoning.parcels import ParcelRecord
from gisportal.zoning.plans import PlanVersion, VersionStatus, version_status
from gisportal.zoning.rules import RulesCatalogue, ZoneRules
from gisportal.zoning.zone_cover import CoverLimits, zone_cover

logger = logging.getLogger(__name__)

#: Rule values compared between versions: (name, how to read it from the rules).
RULE_FIELDS: tuple[tuple[str, Callable[[ZoneRules], Any]], ...] = (
    ("cos", lambda r: r.cos), ("ces", lambda r: r.ces), ("max_height_m", lambda r: r.max_height_m),
    ("max_floors", lambda r: r.max_floors), ("setback_front_m", lambda r: r.setbacks.front_m),
    ("setback_side_m", lambda r: r.setbacks.side_m), ("setback_rear_m", lambda r: r.setbacks.rear_m),
    ("min_lot_area_m2", lambda r: r.min_lot_area_m2), ("allowed_uses", lambda r: sorted(r.allowed_uses)),
    ("forbidden_uses", lambda r: sorted(r.forbidden_uses)),
)

#: Shares closer than this are the same share (rounding of areas).
SHARE_TOLERANCE = 1e-4


@dataclass(frozen=True)
class VersionOnParcel:
    """One plan version read on the parcel."""

    version: PlanVersion
    status: VersionStatus
    zones: tuple[ZoneOnParcel, ...]
    overlays: tuple[OverlayOnParcel, ...]
    buildability: Buildability
    #: Land under several zone codes at once (counted once in :attr:`buildability`, with the stricter rules).
    zone_overlaps: tuple[ZoneOverlapOnParcel, ...] = ()


@dataclass(frozen=True)
class Change:
    """One difference on the parcel between two consecutive versions."""

    kind: str  # zone_added | zone_removed | share | rule | servitude_added | servitude_removed | floor_area
    subject: str  # the zone code, "code.rule", the servitude kind, or "" for the floor area
    before: Any
    after: Any


@dataclass(frozen=True)
class HistoryStep:
    """From one version of a plan to the next, on the parcel."""

    before: VersionOnParcel
    after: VersionOnParcel
    changes: tuple[Change, ...]

    @property
    def changed(self) -> bool:
        """True when the parcel's zoning, rules or servitudes differ."""
        return bool(self.changes)


@dataclass(frozen=True)
class ParcelHistory:
    """Every version that applied to the parcel, oldest first per plan, and the steps between them."""

    ref: str
    area_m2: float
    versions: tuple[VersionOnParcel, ...]
    steps: tuple[HistoryStep, ...]

    def last_change(self, plan_versions: set[tuple[str, int]]) -> HistoryStep | None:
        """The latest step into one of ``plan_versions`` ((plan name, version number): those a note rests on)
        that changed something on the parcel, if any."""
        found = [s for s in self.steps
                 if s.changed and (s.after.version.plan_name, s.after.version.version) in plan_versions]
        return max(found, key=lambda s: s.after.version.effective_from) if found else None


def read_version(store: Store, catalogue: RulesCatalogue, parcel: ParcelRecord, version: PlanVersion,
                 versions: list[PlanVersion], today: date, limits: CoverLimits | None = None) -> VersionOnParcel:
    """What ``version`` alone puts on the parcel, with the rules of ``catalogue`` (slivers under ``limits``)."""
    area = float(parcel.geometry.area)
    in_force = {version.id: version}
    zone_hits, overlay_hits = store.zones_and_overlays_on(parcel.geometry, [version.id])
    overlays, encumbrance, height_cap = overlays_on(overlay_hits, in_force, area)
    cover = zone_cover(parcel.geometry, zone_hits, limits, area)
    zones, zone_overlaps = zones_of_cover(cover, zone_hits, in_force, catalogue, encumbrance, height_cap)
    total = total_buildability([z.buildability for z in zones] + [o.buildability for o in zone_overlaps], area,
                               float(encumbrance.area) if encumbrance is not None else 0.0)
    return VersionOnParcel(version, version_status(version, versions, today), tuple(zones), overlays, total,
                           tuple(zone_overlaps))


def parcel_history(store: Store, catalogue_for: Callable[[date], RulesCatalogue], parcel: ParcelRecord,
                   today: date | None = None, limits: CoverLimits | None = None) -> ParcelHistory:
    """The history of ``parcel``: every version of each plan that ever had something on it.

    ``catalogue_for(date)`` gives the rules catalogue in force on a date (the rules of each version are those in
    force on its effective date); slivers under ``limits`` as in a note.
    """
    today = today or date.today()
    versions = store.plan_versions()
    read = {v.id: read_version(store, catalogue_for(v.effective_from), parcel, v, versions, today, limits)
            for v in versions}
    touching = {r.version.plan_id for r in read.values() if r.zones or r.zone_overlaps or r.overlays}
    ordered = sorted((r for r in read.values() if r.version.plan_id in touching),
                     key=lambda r: (r.version.plan_name, r.version.effective_from, r.version.version))
    steps = [HistoryStep(a, b, tuple(compare(a, b))) for a, b in zip(ordered, ordered[1:], strict=False)
             if a.version.plan_id == b.version.plan_id]
    return ParcelHistory(parcel.ref, float(parcel.geometry.area), tuple(ordered), tuple(steps))


def compare(before: VersionOnParcel, after: VersionOnParcel) -> list[Change]:
    """What differs on the parcel from ``before`` to ``after``."""
    changes: list[Change] = []
    old, new = {z.code: z for z in before.zones}, {z.code: z for z in after.zones}
    for code in sorted(old.keys() | new.keys()):
        a, b = old.get(code), new.get(code)
        if a is None:
            changes.append(Change("zone_added", code, None, round(b.share, 4)))  # type: ignore[union-attr]
        elif b is None:
            changes.append(Change("zone_removed", code, round(a.share, 4), None))
        else:
            if abs(a.share - b.share) > SHARE_TOLERANCE:
                changes.append(Change("share", code, round(a.share, 4), round(b.share, 4)))
            changes += _rule_changes(code, a.rules, b.rules)
    kinds_before = {(o.kind, o.label_fr) for o in before.overlays}
    kinds_after = {(o.kind, o.label_fr) for o in after.overlays}
    changes += [Change("servitude_added", kind, None, label) for kind, label in sorted(kinds_after - kinds_before)]
    changes += [Change("servitude_removed", kind, label, None) for kind, label in sorted(kinds_before - kinds_after)]
    floor_a, floor_b = before.buildability.max_floor_area_m2, after.buildability.max_floor_area_m2
    net_a, net_b = before.buildability.net_max_floor_area_m2, after.buildability.net_max_floor_area_m2
    if _differs(floor_a, floor_b) or _differs(net_a, net_b):
        changes.append(Change("floor_area", "", _round(floor_a), _round(floor_b)))
    return changes


def _rule_changes(code: str, a: ZoneRules | None, b: ZoneRules | None) -> list[Change]:
    if a is None or b is None:
        return [] if a is b else [Change("rule", f"{code}.defined", a is not None, b is not None)]
    return [Change("rule", f"{code}.{name}", read(a), read(b)) for name, read in RULE_FIELDS if read(a) != read(b)]


def _differs(a: float | None, b: float | None) -> bool:
    return (a is None) != (b is None) or (a is not None and b is not None and abs(a - b) > 0.005)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def history_to_dict(history: ParcelHistory) -> dict[str, Any]:
    """JSON-ready form of a parcel's history."""

    def version(r: VersionOnParcel) -> dict[str, Any]:
        v = r.version
        return {"plan": v.plan_name, "version": v.version, "title_fr": v.title_fr, "title_ar": v.title_ar,
                "approval_act": v.approval_act, "approval_date": v.approval_date.isoformat(),
                "effective_from": v.effective_from.isoformat(),
                "effective_to": r.status.effective_to.isoformat() if r.status.effective_to else None,
                "status": r.status.status,
                "zones": [{"code": z.code, "share": round(z.share, 4), "area_m2": round(z.area_m2, 2)}
                          for z in r.zones],
                "zone_overlaps": [{"codes": list(o.codes), "share": round(o.share, 4), "area_m2": round(o.area_m2, 2)}
                                  for o in r.zone_overlaps],
                "overlays": [{"kind": o.kind, "label": o.label_fr, "area_m2": round(o.area_m2, 2)} for o in r.overlays],
                "max_floor_area_m2": _round(r.buildability.max_floor_area_m2),
                "net_max_floor_area_m2": _round(r.buildability.net_max_floor_area_m2)}

    return {
        "ref": history.ref, "area_m2": round(history.area_m2, 2),
        "versions": [version(r) for r in history.versions],
        "changes": [{"plan": s.after.version.plan_name, "from_version": s.before.version.version,
                     "to_version": s.after.version.version, "on": s.after.version.effective_from.isoformat(),
                     "changed": s.changed,
                     "changes": [{"kind": c.kind, "subject": c.subject, "before": c.before, "after": c.after}
                                 for c in s.changes]} for s in history.steps],
    }
