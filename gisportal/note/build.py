"""The urban-information note (note de renseignements urbanistiques, NRU).

The note is built once, as a data object (:class:`UrbanNote`), from the
parcel, the plan versions in force on the requested date, and the rules
catalogue. Renderers (JSON, HTML, PDF) only present it; no rule is computed
twice. Areas are computed in the store's metric CRS.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import shapely
from shapely.geometry.base import BaseGeometry

from gisportal.core.coords import WGS84, transformer
from gisportal.storage.base import Store, ZoneHit
from gisportal.zoning.overlap_rules import stricter_rules
from gisportal.zoning.overlays import overlay_kind
from gisportal.zoning.parcels import ParcelRecord
from gisportal.zoning.plans import PlanVersion, version_status, versions_in_force
from gisportal.zoning.rules import RulesCatalogue, ZoneRules
from gisportal.zoning.zone_cover import CoverLimits, CoverPart, ZoneCover, zone_cover

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
    """One zone code on the parcel: the land under it alone (its overlaps with other codes are stated apart, see
    :class:`ZoneOverlapOnParcel`), its share and rules."""

    plan: str
    plan_version: int
    code: str
    label_fr: str
    label_ar: str
    area_m2: float
    share: float
    rules: ZoneRules | None
    buildability: Buildability
    #: All the code's land on the parcel (the union of its features), overlaps with other codes included.
    total_area_m2: float | None = None


@dataclass(frozen=True)
class ZoneOverlapOnParcel:
    """Land of the parcel under zones of several codes at once, with the stricter rules of those codes."""

    codes: tuple[str, ...]
    labels_fr: tuple[str, ...]
    labels_ar: tuple[str, ...]
    area_m2: float
    share: float
    rules: ZoneRules | None
    #: (rule, code) pairs: which code each stricter rule was taken from (see :mod:`gisportal.zoning.overlap_rules`).
    rules_taken: tuple[tuple[str, str], ...]
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
    #: Land under several zone codes at once (each counted once, with the stricter rules).
    zone_overlaps: tuple[ZoneOverlapOnParcel, ...] = ()
    #: Digitising slivers of zones left out of :attr:`zones` (their share, area and codes).
    remainder_share: float = 0.0
    remainder_m2: float = 0.0
    remainder_codes: tuple[str, ...] = ()

    @property
    def is_historical(self) -> bool:
        """True for a note issued as of a past date."""
        return self.as_of < self.generated_at.date()


def buildability_of(area: float, encumbered: float, rules: ZoneRules | None,
                    height_cap: tuple[float, str] | None) -> Buildability:
    """What ``rules`` let be built on ``area`` m², of which ``encumbered`` m² lie under servitudes forbidding
    building; the height capped by ``height_cap`` (metres, servitude kind) when lower."""
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


def total_buildability(parts: list[Buildability], area: float, encumbered: float) -> Buildability:
    """The buildability of a whole area from that of its disjoint parts (unknown when any part's is)."""

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
class InForce:
    """The plan versions in force on a date and the reference a note gives to each (by version id)."""

    all_versions: tuple[PlanVersion, ...]  # held: while cached, their ids (the cache key) name these very objects
    versions: dict[int, PlanVersion]
    references: dict[int, PlanReference]


#: (ids of all plan versions, date) -> what is in force then: the same for every note of a day.
_IN_FORCE: dict[tuple[tuple[int, ...], date], InForce] = {}


def plans_in_force(all_versions: list[PlanVersion], as_of: date) -> InForce:
    """The versions in force on ``as_of`` among ``all_versions`` (cached; versions are immutable)."""
    key = (tuple(map(id, all_versions)), as_of)
    found = _IN_FORCE.get(key)
    if found is None:
        versions = {v.id: v for v in versions_in_force(all_versions, as_of)}
        found = InForce(tuple(all_versions), versions,
                         {v.id: _plan_reference(v, all_versions, as_of) for v in versions.values()})
        if len(_IN_FORCE) >= 64:
            _IN_FORCE.clear()
        _IN_FORCE[key] = found
    return found


def _encumbered(part: CoverPart, encumbrance: BaseGeometry | None, area: float) -> float:
    """The part's land under servitudes that forbid building (no geometry work for a part that is the parcel)."""
    if encumbrance is None:
        return 0.0
    if part.area_m2 >= area * (1 - 1e-9):
        return float(encumbrance.area)
    return float(shapely.intersection(part.geometry(), encumbrance).area)


def zones_of_cover(cover: ZoneCover, zone_hits: Sequence[ZoneHit], in_force: dict[int, PlanVersion],
                   catalogue: RulesCatalogue, encumbrance: BaseGeometry | None,
                   height_cap: tuple[float, str] | None) -> tuple[list[ZoneOnParcel], list[ZoneOverlapOnParcel]]:
    """The parts of ``cover`` (see :func:`gisportal.zoning.zone_cover.zone_cover`) as a note states them: land under one
    code with its rules, overlaps with the stricter rules of their codes; each with its buildability, net of the
    land under ``encumbrance`` (servitudes that forbid building) and with the height capped by ``height_cap``.
    The parts are disjoint: adding their buildability never counts the same land twice."""
    first: dict[str, ZoneHit] = {}
    for hit in zone_hits:
        first.setdefault(hit.code, hit)
    zones: list[ZoneOnParcel] = []
    zone_overlaps: list[ZoneOverlapOnParcel] = []
    for part in cover.parts:
        encumbered = _encumbered(part, encumbrance, cover.area_m2)
        if not part.is_overlap:
            hit, = (first[c] for c in part.codes)
            version = in_force[hit.version_id]
            rules = catalogue.rules_for(hit.code)
            zones.append(ZoneOnParcel(version.plan_name, version.version, hit.code, hit.label_fr, hit.label_ar,
                                      part.area_m2, part.share, rules,
                                      buildability_of(part.area_m2, encumbered, rules, height_cap),
                                      cover.code_areas.get(hit.code)))
        else:
            rules, taken = stricter_rules([(c, catalogue.rules_for(c)) for c in part.codes])
            hits: list[ZoneHit] = [first[c] for c in part.codes]
            zone_overlaps.append(ZoneOverlapOnParcel(
                part.codes, tuple(h.label_fr for h in hits), tuple(h.label_ar for h in hits), part.area_m2,
                part.share, rules, tuple(taken.items()), buildability_of(part.area_m2, encumbered, rules, height_cap)))
    return zones, zone_overlaps


def build_note(store: Store, catalogue: RulesCatalogue, parcel: ParcelRecord, as_of: date | None = None,
               now: datetime | None = None, limits: CoverLimits | None = None) -> UrbanNote:
    """Build the note of ``parcel`` from the plan versions in force on ``as_of`` (default: today).

    Shares follow :func:`gisportal.zoning.zone_cover.zone_cover`: union per zone code, overlaps of codes stated apart
    with the stricter rules, slivers (under ``limits``, default :class:`CoverLimits`) in a remainder."""
    now = now or datetime.now(UTC)
    as_of = as_of or now.date()
    context = plans_in_force(store.plan_versions(), as_of)
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
    cover = zone_cover(parcel.geometry, zone_hits, limits, area)
    zones, zone_overlaps = zones_of_cover(cover, zone_hits, in_force, catalogue, encumbrance, height_cap)
    total_encumbered = float(encumbrance.area) if encumbrance is not None else 0.0
    used = {h.version_id for h in zone_hits}.union(h.version_id for h in overlay_hits)
    plans = tuple(context.references[v] for v in in_force if v in used)
    note = UrbanNote(
        parcel=facts, zones=tuple(zones), overlays=overlays,
        buildability=total_buildability([z.buildability for z in zones] + [o.buildability for o in zone_overlaps], area,
                            total_encumbered),
        plans=plans, as_of=as_of, generated_at=now,
        unzoned_share=cover.unzoned_share,
        warnings=tuple(_warnings(zones, zone_overlaps, plans, area, catalogue)),
        zone_overlaps=tuple(zone_overlaps), remainder_share=cover.remainder_share, remainder_m2=cover.remainder_m2,
        remainder_codes=cover.remainder_codes,
    )
    return note


def _plan_reference(version: PlanVersion, versions: list[PlanVersion], as_of: date) -> PlanReference:
    status = version_status(version, versions, as_of)
    return PlanReference(version.plan_name, version.title_fr, version.title_ar, version.version,
                         version.approval_act, version.approval_date, version.effective_from,
                         status.effective_to, status.status)


def _warnings(zones: list[ZoneOnParcel], zone_overlaps: list[ZoneOverlapOnParcel], plans: tuple[PlanReference, ...],
              area: float, catalogue: RulesCatalogue) -> list[tuple[str, str]]:
    """Warnings as (code, argument) pairs; renderers word them in the reader's language."""
    found: list[tuple[str, str]] = [("zones_overlap", " + ".join(o.codes)) for o in zone_overlaps]
    undefined = [c for c in dict.fromkeys(c for o in zone_overlaps for c in o.codes) if catalogue.rules_for(c) is None]
    for zone in zones:
        if zone.rules is None:
            found.append(("rules_not_defined", zone.code))
        elif zone.rules.min_lot_area_m2 and zone.share > 0.5 and area < zone.rules.min_lot_area_m2:
            found.append(("below_min_lot_area", zone.code))
    found += [("plan_lapsed", p.name) for p in plans if p.status == "lapsed"]
    found += [("rules_not_defined", c) for c in undefined if all(z.code != c for z in zones)]
    if not zones and not zone_overlaps:
        found.append(("no_zone", ""))
    return found
