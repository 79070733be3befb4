"""The site note: what applies to a site (several parcels, or a drawn outline) on one date.

The same rule as a parcel's note (:func:`gisportal.note.build.build_note`), applied to a larger outline: the site is
cut by :func:`gisportal.zoning.zone_cover.zone_cover` into disjoint parts, land under one zone code (the union of that
code's features: two features of one code never count twice) and overlaps of several codes, stated with the
stricter rules of their codes (:mod:`gisportal.zoning.overlap_rules`); digitising slivers (under the instance's
:class:`~gisportal.zoning.zone_cover.CoverLimits`) go to a stated remainder, and land no zone covers is stated apart.
Buildability is given per part, gross and net of the servitudes that forbid building, and totalled over the
disjoint parts: overlapped land is counted once. Every servitude is listed with the area it covers (the union
of its features), every parcel covered is listed with the share of it inside the site, and every layer gets a
stated result: intersects, does not intersect, or no data published for it here. A contact along an edge or at
a corner has no area: it is not listed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from gisportal.core.errors import told
from gisportal.note.build import (
    Buildability,
    OverlayOnParcel,
    PlanReference,
    ZoneOnParcel,
    ZoneOverlapOnParcel,
    plans_in_force,
    total_buildability,
    zones_of_cover,
)
from gisportal.sites.input import SiteInput, SiteLimits, SiteTooLarge
from gisportal.storage.base import OverlayHit, Store
from gisportal.zoning.overlays import OVERLAY_KINDS, overlay_kind
from gisportal.zoning.plans import PlanVersion
from gisportal.zoning.rules import RulesCatalogue
from gisportal.zoning.zone_cover import CoverLimits, negligible_m2, zone_cover

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
class LayerResult:
    """One layer's stated result on the site."""

    layer: str  # "zones", "parcels" or an overlay kind
    result: str  # INTERSECTS | DOES_NOT_INTERSECT | NO_DATA
    area_m2: float


@dataclass(frozen=True)
class SiteNote:
    """Everything the site note states (zones, overlaps, remainder and unzoned land as in a parcel's note)."""

    geometry: BaseGeometry
    crs: str
    area_m2: float
    refs: tuple[str, ...]
    label: str
    #: Land under one zone code (``total_area_m2``: all the code's land on the site, overlaps included).
    zones: tuple[ZoneOnParcel, ...]
    #: Land under several zone codes at once (each counted once, with the stricter rules).
    zone_overlaps: tuple[ZoneOverlapOnParcel, ...]
    overlays: tuple[OverlayOnParcel, ...]
    buildability: Buildability
    parcels: tuple[ParcelInSite, ...]
    layers: tuple[LayerResult, ...]
    plans: tuple[PlanReference, ...]
    as_of: date
    generated_at: datetime
    warnings: tuple[tuple[str, str], ...] = ()
    #: Digitising slivers of zones left out of :attr:`zones` (their area, share and codes).
    remainder_m2: float = 0.0
    remainder_share: float = 0.0
    remainder_codes: tuple[str, ...] = ()
    #: Land of the site no zone covers.
    unzoned_m2: float = 0.0
    unzoned_share: float = 0.0

    @property
    def is_historical(self) -> bool:
        """True for a note issued as of a past date."""
        return self.as_of < self.generated_at.date()


def build_site_note(store: Store, catalogue: RulesCatalogue, site: SiteInput, as_of: date | None = None,
                    now: datetime | None = None, limits: SiteLimits = SiteLimits(),
                    cover_limits: CoverLimits | None = None) -> SiteNote:
    """Build the note of ``site`` from the plan versions in force on ``as_of`` (default: today); slivers under
    ``cover_limits`` (default :class:`CoverLimits`, as a parcel's note) go to the remainder."""
    now = now or datetime.now(UTC)
    as_of = as_of or now.date()
    context = plans_in_force(store.plan_versions(), as_of)
    in_force = context.versions
    geometry = site.geometry
    area = float(geometry.area)
    parcels = _parcels(store, geometry, area, limits)
    zone_hits, overlay_hits = store.zones_and_overlays_on(geometry, list(in_force))
    overlays, encumbrance, height_cap = overlays_on(overlay_hits, in_force, area)
    cover = zone_cover(geometry, zone_hits, cover_limits, area)
    zones, zone_overlaps = zones_of_cover(cover, zone_hits, in_force, catalogue, encumbrance, height_cap)
    total_encumbered = float(encumbrance.area) if encumbrance is not None else 0.0
    used = {h.version_id for h in zone_hits}.union(h.version_id for h in overlay_hits)
    plans = tuple(context.references[v] for v in in_force if v in used)
    layers = _layers(store, list(in_force), {h.version_id for h in zone_hits}, area - cover.unzoned_m2, overlays,
                     parcels)
    warnings = list(site.warnings)
    warnings += [("rules_not_defined", z.code) for z in zones if z.rules is None]
    warnings += [("rules_not_defined", c) for c in dict.fromkeys(c for o in zone_overlaps for c in o.codes)
                 if catalogue.rules_for(c) is None and all(z.code != c for z in zones)]
    warnings += [("zone_overlap", "+".join(o.codes)) for o in zone_overlaps]
    warnings += [("plan_lapsed", p.name) for p in plans if p.status == "lapsed"]
    if not zones and not zone_overlaps:
        warnings.append(("no_zone", ""))
    return SiteNote(
        geometry=geometry, crs=store.crs, area_m2=area, refs=site.refs, label=site.label,
        zones=tuple(zones), zone_overlaps=tuple(zone_overlaps), overlays=overlays,
        buildability=total_buildability([z.buildability for z in zones] + [o.buildability for o in zone_overlaps],
                                        area, total_encumbered),
        parcels=parcels, layers=layers, plans=plans, as_of=as_of, generated_at=now, warnings=tuple(warnings),
        remainder_m2=cover.remainder_m2, remainder_share=cover.remainder_share,
        remainder_codes=cover.remainder_codes, unzoned_m2=cover.unzoned_m2, unzoned_share=cover.unzoned_share)


def overlays_on(hits: list[OverlayHit], in_force: dict[int, PlanVersion], area: float
                ) -> tuple[tuple[OverlayOnParcel, ...], BaseGeometry | None, tuple[float, str] | None]:
    """Each servitude (plan version, kind, label) with the area of the union of its features; the land under
    those that forbid building; the lowest height cap."""
    groups: dict[tuple[int, str, str], list[OverlayHit]] = {}
    for hit in hits:
        groups.setdefault((hit.version_id, hit.kind, hit.label_fr), []).append(hit)
    overlays, removing, caps = [], [], []
    for (version_id, kind_key, _label), group in groups.items():
        h = group[0]
        piece = h.piece if len(group) == 1 else shapely.union_all([g.piece for g in group])
        piece_area = float(piece.area)
        if piece_area <= negligible_m2(area):
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
    keep = np.flatnonzero(inside > negligible_m2(area))
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


def _layers(store: Store, in_force_ids: list[int], covering_ids: set[int], zoned_m2: float,
            overlays: tuple[OverlayOnParcel, ...], parcels: tuple[ParcelInSite, ...]) -> tuple[LayerResult, ...]:
    """A stated result for the zones, every kind of servitude, and the parcels.

    A servitude kind "does not intersect" when a plan version covering the site (one of whose zones lies on it)
    publishes that kind; otherwise nothing of that kind is published here: "no data".
    """
    out = [LayerResult("zones", INTERSECTS if zoned_m2 > 0 else NO_DATA, zoned_m2)]
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
