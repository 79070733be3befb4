"""The site note: what applies to a site (several parcels, or a drawn outline) on one date.

The same rule as a parcel's note, applied to a larger outline: each zone code's share is taken on the union of
that code's features within the site (two features of one code never count twice), overlaps between different
codes are stated with their area, and what no zone covers (gaps, slivers) is the *remainder*. Every servitude is
listed with the area it covers (the union of its features), buildability is given per zone part, gross and net
of the servitudes that forbid building, every parcel covered is listed with the share of it inside the site, and
every layer gets a stated result: intersects, does not intersect, or no data published for it here. A contact
along an edge or at a corner has no area: it is not listed.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from gisportal.notes import (Buildability, OverlayOnParcel, PlanReference, ZoneOnParcel, _buildability, _in_force,
                             _total)
from gisportal.overlays import OVERLAY_KINDS, overlay_kind
from gisportal.rules import RulesCatalogue
from gisportal.sites.input import SiteInput, SiteLimits, SiteTooLarge
from gisportal.errors import told
from gisportal.storage.base import OverlayHit, Store, ZoneHit

logger = logging.getLogger(__name__)

#: The three results a layer can have on a site.
INTERSECTS, DOES_NOT_INTERSECT, NO_DATA = "intersects", "does_not_intersect", "no_data"


@dataclass(frozen=True)
class ParcelInSite:
    """A parcel the site covers: its own area, the part inside the site, and that part's share of the parcel."""

    ref: str
    address: str | None
    quarter: str | None
    area_m2: float
    inside_m2: float
    share_in_site: float


@dataclass(frozen=True)
class ZoneOverlap:
    """Land of the site under two zone codes at once (a fault of the plan's drawing, stated as it is)."""

    plan: str
    codes: tuple[str, str]
    area_m2: float


@dataclass(frozen=True)
class LayerResult:
    """One layer's stated result on the site."""

    layer: str  # "zones", "parcels" or an overlay kind
    result: str  # INTERSECTS | DOES_NOT_INTERSECT | NO_DATA
    area_m2: float


@dataclass(frozen=True)
class SiteNote:
    """Everything the site note states."""

    geometry: BaseGeometry
    crs: str
    area_m2: float
    refs: tuple[str, ...]
    label: str
    zones: tuple[ZoneOnParcel, ...]
    overlaps: tuple[ZoneOverlap, ...]
    remainder_m2: float
    overlays: tuple[OverlayOnParcel, ...]
    buildability: Buildability
    parcels: tuple[ParcelInSite, ...]
    layers: tuple[LayerResult, ...]
    plans: tuple[PlanReference, ...]
    as_of: date
    generated_at: datetime
    warnings: tuple[tuple[str, str], ...] = ()

    @property
    def is_historical(self) -> bool:
        """True for a note issued as of a past date."""
        return self.as_of < self.generated_at.date()


def _least(area: float) -> float:
    """Below this, an area is rounding (the same threshold as a parcel's note)."""
    return max(1e-9 * area, 1e-6)


def build_site_note(store: Store, catalogue: RulesCatalogue, site: SiteInput, as_of: date | None = None,
                    now: datetime | None = None, limits: SiteLimits = SiteLimits()) -> SiteNote:
    """Build the note of ``site`` from the plan versions in force on ``as_of`` (default: today)."""
    now = now or datetime.now(timezone.utc)
    as_of = as_of or now.date()
    context = _in_force(store.plan_versions(), as_of)
    in_force = context.versions
    geometry = site.geometry
    area = float(geometry.area)
    parcels = _parcels(store, geometry, area, limits)
    zone_hits, overlay_hits = store.zones_and_overlays_on(geometry, list(in_force))
    overlays, encumbrance, height_cap = overlays_on(overlay_hits, in_force, area)
    zones = zones_on(zone_hits, in_force, area, catalogue, encumbrance, height_cap)
    overlaps = _overlaps(zones, area)
    zoned = shapely.union_all([p for p, _ in zones]) if zones else None
    remainder = max(0.0, area - (float(zoned.area) if zoned is not None else 0.0))
    total_encumbered = float(encumbrance.area) if encumbrance is not None else 0.0
    used = {h.version_id for h in zone_hits}.union(h.version_id for h in overlay_hits)
    plans = tuple(context.references[v] for v in in_force if v in used)
    layers = _layers(store, list(in_force), {h.version_id for h in zone_hits}, zones, overlays, parcels)
    warnings = list(site.warnings)
    warnings += [("rules_not_defined", z.code) for _, z in zones if z.rules is None]
    warnings += [("zone_overlap", "+".join(o.codes)) for o in overlaps]
    warnings += [("plan_lapsed", p.name) for p in plans if p.status == "lapsed"]
    if not zones:
        warnings.append(("no_zone", ""))
    return SiteNote(
        geometry=geometry, crs=store.crs, area_m2=area, refs=site.refs, label=site.label,
        zones=tuple(z for _, z in zones), overlaps=tuple(overlaps),
        remainder_m2=remainder if remainder > _least(area) else 0.0, overlays=overlays,
        buildability=_total([z.buildability for _, z in zones], area, total_encumbered),
        parcels=parcels, layers=layers, plans=plans, as_of=as_of, generated_at=now, warnings=tuple(warnings))


def zones_on(zone_hits: list[ZoneHit], in_force: dict, area: float, catalogue: RulesCatalogue,
             encumbrance: BaseGeometry | None, height_cap: tuple[float, str] | None
             ) -> list[tuple[BaseGeometry, ZoneOnParcel]]:
    """Each zone code (per plan version) on an outline of ``area`` m²: the union of its features' pieces, its
    share, rules and buildability (net of ``encumbrance``), largest share first."""
    zones = []
    for (version_id, code), (first, piece) in union_by(zone_hits, lambda h: (h.version_id, h.code)).items():
        version = in_force[version_id]
        part_area = float(piece.area)
        if part_area <= _least(area):
            continue
        rules = catalogue.rules_for(code)
        encumbered = float(shapely.intersection(piece, encumbrance).area) if encumbrance is not None else 0.0
        zones.append((piece, ZoneOnParcel(version.plan_name, version.version, code, first.label_fr, first.label_ar,
                                          part_area, part_area / area, rules,
                                          _buildability(part_area, encumbered, rules, height_cap))))
    zones.sort(key=lambda pz: (-pz[1].share, pz[1].code))
    return zones


def union_by(hits: Sequence[ZoneHit | OverlayHit],
             key: Callable[[Any], Hashable]) -> dict[Hashable, tuple[Any, BaseGeometry]]:
    """Hits grouped by ``key``: (first hit, union of their pieces), in the hits' order."""
    groups: dict[Hashable, list[Any]] = defaultdict(list)
    for hit in hits:
        groups[key(hit)].append(hit)
    return {k: (group[0], group[0].piece if len(group) == 1 else shapely.union_all([h.piece for h in group]))
            for k, group in groups.items()}


def overlays_on(hits: list[OverlayHit], in_force: dict, area: float
              ) -> tuple[tuple[OverlayOnParcel, ...], BaseGeometry | None, tuple[float, str] | None]:
    """Each servitude (plan version, kind, label) with the area of the union of its features; the land under
    those that forbid building; the lowest height cap."""
    parts = union_by(hits, lambda h: (h.version_id, h.kind, h.label_fr))
    overlays, removing, caps = [], [], []
    for (version_id, kind_key, _label), (h, piece) in parts.items():
        piece_area = float(piece.area)
        if piece_area <= _least(area):
            continue
        kind = overlay_kind(kind_key)
        version = in_force[version_id]
        overlays.append(OverlayOnParcel(version.plan_name, version.version, kind_key, h.label_fr, h.label_ar,
                                        h.provision_fr, h.provision_ar, h.max_height_m, piece_area,
                                        piece_area / area, kind.removes_buildable_area))
        if kind.removes_buildable_area:
            removing.append(piece)
        if kind.caps_height and h.max_height_m is not None:
            caps.append((h.max_height_m, kind_key))
    overlays.sort(key=lambda o: (-o.area_m2, o.kind))
    return tuple(overlays), (shapely.union_all(removing) if removing else None), (min(caps) if caps else None)


def _overlaps(zones: list[tuple[BaseGeometry, ZoneOnParcel]], area: float) -> list[ZoneOverlap]:
    """Pairs of different zone codes sharing land inside the site, with its area."""
    found = []
    for i, (piece_a, a) in enumerate(zones):
        for piece_b, b in zones[i + 1:]:
            if a.code == b.code and a.plan == b.plan:
                continue
            shared = float(shapely.intersection(piece_a, piece_b).area)
            if shared > _least(area):
                found.append(ZoneOverlap(a.plan, tuple(sorted((a.code, b.code))), shared))  # type: ignore[arg-type]
    return found


def _parcels(store: Store, geometry: BaseGeometry, area: float, limits: SiteLimits) -> tuple[ParcelInSite, ...]:
    """The parcels sharing area with the site (an edge or a corner does not count)."""
    frame = store.features("parcels", None, geometry.bounds)
    if frame.empty:
        return ()
    geoms = frame.geometry.values.to_numpy() if hasattr(frame.geometry.values, "to_numpy") else np.asarray(
        frame.geometry.values)
    shapely.prepare(geometry)
    touching = shapely.intersects(geometry, geoms)
    inside = np.zeros(len(geoms))
    inside[touching] = shapely.area(shapely.intersection(geoms[touching], geometry))
    keep = np.flatnonzero(inside > _least(area))
    if len(keep) > limits.max_parcels:
        raise SiteTooLarge(told("The site covers %(count)s parcels; at most %(limit)s are accepted.",
                                count=len(keep), limit=limits.max_parcels), limit=limits.max_parcels,
                           given=int(len(keep)))
    refs, addresses, quarters = (frame[c].to_numpy(dtype=object) if c in frame else np.full(len(frame), None)
                                 for c in ("ref", "address", "quarter"))
    out = []
    for i in keep.tolist():
        own = float(shapely.area(geoms[i]))
        out.append(ParcelInSite(str(refs[i]), _text(addresses[i]), _text(quarters[i]), own, float(inside[i]),
                                min(1.0, float(inside[i]) / own) if own else 0.0))
    out.sort(key=lambda p: (-p.inside_m2, p.ref))
    return tuple(out)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


#: (store generation, version ids) -> overlay kinds those versions publish.
_KINDS: dict[tuple[str, tuple[int, ...]], frozenset[str]] = {}


def published_kinds(store: Store, version_ids: list[int]) -> frozenset[str]:
    """The overlay kinds the given plan versions publish (cached per data generation)."""
    key = (store.generation(), tuple(sorted(version_ids)))
    kinds = _KINDS.get(key)
    if kinds is None:
        frame = store.features("overlays", list(version_ids), None) if version_ids else None
        kinds = frozenset() if frame is None or frame.empty else frozenset(map(str, frame["kind"].unique()))
        if len(_KINDS) > 32:
            _KINDS.clear()
        _KINDS[key] = kinds
    return kinds


def _layers(store: Store, in_force_ids: list[int], covering_ids: set[int],
            zones: list[tuple[BaseGeometry, ZoneOnParcel]], overlays: tuple[OverlayOnParcel, ...],
            parcels: tuple[ParcelInSite, ...]) -> tuple[LayerResult, ...]:
    """A stated result for the zones, every kind of servitude, and the parcels.

    A servitude kind "does not intersect" when a plan version covering the site (one of whose zones lies on it)
    publishes that kind; otherwise nothing of that kind is published here: "no data".
    """
    zoned = sum(z.area_m2 for _, z in zones)
    out = [LayerResult("zones", INTERSECTS if zones else NO_DATA, zoned)]
    covered = {o.kind: 0.0 for o in overlays}
    for o in overlays:
        covered[o.kind] += o.area_m2
    published = published_kinds(store, sorted(covering_ids)) if covering_ids else frozenset()
    for kind in sorted(set(OVERLAY_KINDS) | set(covered) | published):
        if kind in covered:
            out.append(LayerResult(kind, INTERSECTS, covered[kind]))
        else:
            out.append(LayerResult(kind, DOES_NOT_INTERSECT if kind in published else NO_DATA, 0.0))
    any_parcels = store.counts().get("parcels", 0) > 0
    out.append(LayerResult("parcels", INTERSECTS if parcels else (DOES_NOT_INTERSECT if any_parcels else NO_DATA),
                           sum(p.inside_m2 for p in parcels)))
    return tuple(out)
