"""The urban-information note (note de renseignements urbanistiques, NRU).

The note is built once, as a data object (:class:`UrbanNote`), from the
parcel, the plan versions in force on the requested date, and the rules
catalogue. Renderers (JSON, HTML, PDF) only present it; no rule is computed
twice. Areas are computed in the store's metric CRS.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

import shapely
from shapely.geometry.base import BaseGeometry

from gisportal.coords import WGS84, transformer
from gisportal.overlays import overlay_kind
from gisportal.parcels import ParcelRecord
from gisportal.plans import PlanVersion, version_status, versions_in_force
from gisportal.rules import RulesCatalogue, ZoneRules
from gisportal.storage.base import Store

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Buildability:
    """What may be built on an area: gross (whole area) and net (land under servitudes deducted)."""

    area_m2: float
    encumbered_area_m2: float
    max_footprint_m2: float | None
    max_floor_area_m2: float | None
    net_max_footprint_m2: float | None
    net_max_floor_area_m2: float | None
    max_height_m: float | None = None
    max_floors: int | None = None
    height_capped_by: str | None = None
    complete: bool = True


@dataclass(frozen=True)
class ParcelFacts:
    """The parcel as the note states it."""

    ref: str
    address: str | None
    quarter: str | None
    area_m2: float
    crs: str
    centroid_x: float
    centroid_y: float
    centroid_lon: float
    centroid_lat: float
    geometry: BaseGeometry = field(repr=False, compare=False)


@dataclass(frozen=True)
class ZoneOnParcel:
    """One zone touching the parcel, with its share and rules."""

    plan: str
    plan_version: int
    code: str
    label_fr: str
    label_ar: str
    area_m2: float
    share: float
    rules: ZoneRules | None
    buildability: Buildability


@dataclass(frozen=True)
class OverlayOnParcel:
    """One servitude touching the parcel, with the area it affects."""

    plan: str
    plan_version: int
    kind: str
    label_fr: str
    label_ar: str
    provision_fr: str
    provision_ar: str
    max_height_m: float | None
    area_m2: float
    share: float
    removes_buildable_area: bool


@dataclass(frozen=True)
class PlanReference:
    """A plan version the note relies on, with its status on the note's date."""

    name: str
    title_fr: str
    title_ar: str
    version: int
    approval_act: str
    approval_date: date
    effective_from: date
    effective_to: date | None
    status: str


@dataclass(frozen=True)
class UrbanNote:
    """Everything the urban-information note states about one parcel on one date."""

    parcel: ParcelFacts
    zones: tuple[ZoneOnParcel, ...]
    overlays: tuple[OverlayOnParcel, ...]
    buildability: Buildability
    plans: tuple[PlanReference, ...]
    as_of: date
    generated_at: datetime
    unzoned_share: float
    warnings: tuple[tuple[str, str], ...] = ()

    @property
    def is_historical(self) -> bool:
        """True for a note issued as of a past date."""
        return self.as_of < self.generated_at.date()


def _buildability(area: float, encumbered: float, rules: ZoneRules | None,
                  height_cap: tuple[float, str] | None) -> Buildability:
    net = max(area - encumbered, 0.0)
    if rules is None:
        return Buildability(area, encumbered, None, None, None, None, complete=False)
    height, capped_by = rules.max_height_m, None
    if height_cap is not None and (height is None or height_cap[0] < height):
        height, capped_by = height_cap
    return Buildability(
        area_m2=area, encumbered_area_m2=encumbered,
        max_footprint_m2=None if rules.ces is None else rules.ces * area,
        max_floor_area_m2=None if rules.cos is None else rules.cos * area,
        net_max_footprint_m2=None if rules.ces is None else rules.ces * net,
        net_max_floor_area_m2=None if rules.cos is None else rules.cos * net,
        max_height_m=height, max_floors=rules.max_floors, height_capped_by=capped_by,
        complete=rules.ces is not None and rules.cos is not None,
    )


def _total(parts: list[Buildability], area: float, encumbered: float) -> Buildability:
    def add(values: list[float | None]) -> float | None:
        return None if not values or None in values else sum(values)  # type: ignore[arg-type]

    return Buildability(area, encumbered, add([p.max_footprint_m2 for p in parts]),
                        add([p.max_floor_area_m2 for p in parts]), add([p.net_max_footprint_m2 for p in parts]),
                        add([p.net_max_floor_area_m2 for p in parts]),
                        complete=bool(parts) and all(p.complete for p in parts))


def _parcel_facts(parcel: ParcelRecord, crs: str) -> ParcelFacts:
    centroid = parcel.geometry.centroid
    x, y = float(centroid.x), float(centroid.y)
    lon, lat = transformer(crs, WGS84).transform(x, y)
    return ParcelFacts(parcel.ref, parcel.address, parcel.quarter, float(parcel.geometry.area), crs,
                       x, y, float(lon), float(lat), parcel.geometry)


@dataclass(frozen=True)
class _InForce:
    """The plan versions in force on a date and the reference a note gives to each (by version id)."""

    all_versions: tuple[PlanVersion, ...]  # held: while cached, their ids (the cache key) name these very objects
    versions: dict[int, PlanVersion]
    references: dict[int, PlanReference]


#: (ids of all plan versions, date) -> what is in force then: the same for every note of a day.
_IN_FORCE: dict[tuple[tuple[int, ...], date], _InForce] = {}


def _in_force(all_versions: list[PlanVersion], as_of: date) -> _InForce:
    """The versions in force on ``as_of`` among ``all_versions`` (cached; versions are immutable)."""
    key = (tuple(map(id, all_versions)), as_of)
    found = _IN_FORCE.get(key)
    if found is None:
        versions = {v.id: v for v in versions_in_force(all_versions, as_of)}
        found = _InForce(tuple(all_versions), versions,
                         {v.id: _plan_reference(v, all_versions, as_of) for v in versions.values()})
        if len(_IN_FORCE) >= 64:
            _IN_FORCE.clear()
        _IN_FORCE[key] = found
    return found


def build_note(store: Store, catalogue: RulesCatalogue, parcel: ParcelRecord, as_of: date | None = None,
               now: datetime | None = None) -> UrbanNote:
    """Build the note of ``parcel`` from the plan versions in force on ``as_of`` (default: today)."""
    now = now or datetime.now(timezone.utc)
    as_of = as_of or now.date()
    context = _in_force(store.plan_versions(), as_of)
    in_force = context.versions
    facts = _parcel_facts(parcel, store.crs)
    area = facts.area_m2
    zone_hits, overlay_hits = store.zones_and_overlays_on(parcel.geometry, list(in_force))
    overlays: tuple[OverlayOnParcel, ...] = ()
    encumbrance, height_cap = None, None
    if overlay_hits:
        kinds = [overlay_kind(h.kind) for h in overlay_hits]
        overlays = tuple(sorted((
            OverlayOnParcel(in_force[h.version_id].plan_name, in_force[h.version_id].version, h.kind, h.label_fr,
                            h.label_ar, h.provision_fr, h.provision_ar, h.max_height_m, h.area_m2,
                            h.area_m2 / area, kind.removes_buildable_area)
            for h, kind in zip(overlay_hits, kinds, strict=True)), key=lambda o: (-o.area_m2, o.kind)))
        removing = [h.piece for h, kind in zip(overlay_hits, kinds, strict=True) if kind.removes_buildable_area]
        encumbrance = shapely.union_all(removing) if removing else None
        caps = [(h.max_height_m, h.kind) for h, kind in zip(overlay_hits, kinds, strict=True)
                if kind.caps_height and h.max_height_m is not None]
        height_cap = min(caps) if caps else None
    zones = []
    for hit in zone_hits:
        version = in_force[hit.version_id]
        rules = catalogue.rules_for(hit.code)
        encumbered = float(shapely.intersection(hit.piece, encumbrance).area) if encumbrance is not None else 0.0
        zones.append(ZoneOnParcel(version.plan_name, version.version, hit.code, hit.label_fr, hit.label_ar,
                                  hit.area_m2, hit.area_m2 / area, rules,
                                  _buildability(hit.area_m2, encumbered, rules, height_cap)))
    if len(zones) > 1:
        zones.sort(key=lambda z: (-z.share, z.code))
    total_encumbered = float(encumbrance.area) if encumbrance is not None else 0.0
    used = {h.version_id for h in zone_hits}.union(h.version_id for h in overlay_hits)
    plans = tuple(context.references[v] for v in in_force if v in used)
    note = UrbanNote(
        parcel=facts, zones=tuple(zones), overlays=overlays,
        buildability=_total([z.buildability for z in zones], area, total_encumbered),
        plans=plans, as_of=as_of, generated_at=now,
        unzoned_share=max(0.0, 1.0 - sum(z.share for z in zones)),
        warnings=tuple(_warnings(zones, plans, area)),
    )
    return note


def _plan_reference(version: PlanVersion, versions: list[PlanVersion], as_of: date) -> PlanReference:
    status = version_status(version, versions, as_of)
    return PlanReference(version.plan_name, version.title_fr, version.title_ar, version.version,
                         version.approval_act, version.approval_date, version.effective_from,
                         status.effective_to, status.status)


def _warnings(zones: list[ZoneOnParcel], plans: tuple[PlanReference, ...], area: float) -> list[tuple[str, str]]:
    """Warnings as (code, argument) pairs; renderers word them in the reader's language."""
    found: list[tuple[str, str]] = []
    for zone in zones:
        if zone.rules is None:
            found.append(("rules_not_defined", zone.code))
        elif zone.rules.min_lot_area_m2 and zone.share > 0.5 and area < zone.rules.min_lot_area_m2:
            found.append(("below_min_lot_area", zone.code))
    found += [("plan_lapsed", p.name) for p in plans if p.status == "lapsed"]
    if not zones:
        found.append(("no_zone", ""))
    return found
