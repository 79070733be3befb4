"""How the zones of the plans in force cover an area (a parcel, a site): shares per zone code, overlaps, slivers.

One rule, for every note that states shares (the parcel note, the site note): the land of a zone code on an
area is the *union* of that code's features there, so a code never covers more than the whole area, however
many overlapping features a plan holds for it. The area is then cut into disjoint *parts*, each with the set of
codes that apply on it: land under one code only, and overlaps, where features of different codes lie on the
same land (stated as such; :mod:`gisportal.zoning.overlap_rules` gives them the stricter rules of their codes).

Digitising slivers are left out of the parts but counted: a code whose land on the area is under
:attr:`CoverLimits.min_share` of the area or :attr:`CoverLimits.min_area_m2` is not listed (its land, where no
other code applies, goes to the *remainder*), and so does a part (an overlap, say) under those limits. Then
parts + remainder + unzoned land = the whole area, always.

Speed: a code with a feature containing the whole area (the common case: a parcel inside one zone) needs no
geometry at all; only areas across zone boundaries pay for unions and intersections, on small pieces.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import shapely
from shapely.geometry.base import BaseGeometry

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CoverLimits:
    """Below these a code's land, or a part, is a digitising sliver (below either: the share or the area)."""

    min_share: float = 0.001
    min_area_m2: float = 1.0

    @classmethod
    def from_settings(cls, settings: Any) -> CoverLimits:
        """The limits an instance sets (``GISPORTAL_NOTE_SLIVER_SHARE``, ``GISPORTAL_NOTE_SLIVER_AREA_M2``)."""
        return cls(settings.note_sliver_share, settings.note_sliver_area_m2)

    def is_sliver(self, area_m2: float, total_m2: float) -> bool:
        """True when ``area_m2`` of an area of ``total_m2`` is too small to be stated."""
        return area_m2 < self.min_area_m2 or (total_m2 > 0 and area_m2 < self.min_share * total_m2)


class Piece(Protocol):
    """What :func:`zone_cover` reads of a zone feature on the area (a store's ``ZoneHit`` is one)."""

    @property
    def code(self) -> str: ...  # noqa: D102
    @property
    def area_m2(self) -> float: ...  # noqa: D102
    @property
    def piece(self) -> BaseGeometry: ...  # noqa: D102


@dataclass(frozen=True)
class CodePiece:
    """One feature of a zone code lying on the area: its area there and the piece (the area itself when the
    feature holds all of it)."""

    code: str
    area_m2: float
    piece: BaseGeometry


@dataclass(frozen=True)
class CoverPart:
    """Land of the area on which exactly the zone codes ``codes`` apply (one code, or an overlap of several)."""

    codes: tuple[str, ...]
    area_m2: float
    share: float
    pieces: tuple[BaseGeometry, ...] = field(repr=False, compare=False)

    @property
    def is_overlap(self) -> bool:
        """True when several codes apply on this land."""
        return len(self.codes) > 1

    def geometry(self) -> BaseGeometry:
        """The part's land as one geometry (a union only when it is made of several pieces)."""
        return self.pieces[0] if len(self.pieces) == 1 else shapely.union_all(self.pieces)


@dataclass(frozen=True)
class ZoneCover:
    """The area cut into disjoint parts by the zone codes on it; shares are of the whole area."""

    area_m2: float
    #: Land under one code or an overlap of codes: one-code parts first (largest first), then overlaps.
    parts: tuple[CoverPart, ...]
    #: Each stated code's land on the area (union of its features, overlaps included).
    code_areas: dict[str, float]
    #: Land of slivers left out of :attr:`parts` (codes below the limits, parts below the limits).
    remainder_m2: float
    #: The codes whose slivers make up the remainder.
    remainder_codes: tuple[str, ...]
    #: Land no zone covers.
    unzoned_m2: float

    @property
    def zones(self) -> tuple[CoverPart, ...]:
        """Land under exactly one code."""
        return tuple(p for p in self.parts if not p.is_overlap)

    @property
    def overlaps(self) -> tuple[CoverPart, ...]:
        """Land under several codes."""
        return tuple(p for p in self.parts if p.is_overlap)

    @property
    def remainder_share(self) -> float:
        """The remainder's share of the area."""
        return self.remainder_m2 / self.area_m2 if self.area_m2 > 0 else 0.0

    @property
    def unzoned_share(self) -> float:
        """The share of the area no zone covers."""
        return self.unzoned_m2 / self.area_m2 if self.area_m2 > 0 else 0.0


#: The limits when none are given.
DEFAULT_LIMITS = CoverLimits()


def negligible_m2(area: float) -> float:
    """Below this, land on an area of ``area`` m² is rounding of the geometry operations, not land (an edge or a
    corner in common has none)."""
    return max(1e-9 * area, 1e-6)


def _code_unions(area_geometry: BaseGeometry, area: float,
                 pieces: Iterable[Piece]) -> dict[str, tuple[float, BaseGeometry]]:
    """Each code's land on the area (area, geometry), codes in the order first met; no geometry work where one
    of a code's features holds the whole area or the code has one feature there."""
    grouped: dict[str, list[Piece]] = {}
    for p in pieces:
        grouped.setdefault(p.code, []).append(p)
    whole = area * (1 - 1e-9)
    out: dict[str, tuple[float, BaseGeometry]] = {}
    for code, found in grouped.items():
        if any(p.area_m2 >= whole for p in found):
            out[code] = (area, area_geometry)
        elif len(found) == 1:
            out[code] = (found[0].area_m2, found[0].piece)
        else:
            union = shapely.union_all([p.piece for p in found])
            out[code] = (min(float(union.area), area), union)
    return out


def _cells(unions: dict[str, tuple[float, BaseGeometry]], tiny: float) -> list[tuple[tuple[str, ...], float,
                                                                                   BaseGeometry]]:
    """Disjoint cells (codes, area, geometry) of the codes' land: each code's land split by those before it."""
    cells: list[tuple[tuple[str, ...], float, BaseGeometry]] = []
    for code, (code_area, land) in unions.items():
        rest, rest_area = land, code_area
        split: list[tuple[tuple[str, ...], float, BaseGeometry]] = []
        for codes, cell_area, cell in cells:
            if rest_area <= tiny:
                split.append((codes, cell_area, cell))
                continue
            shared = shapely.intersection(cell, rest)
            shared_area = float(shared.area)
            if shared_area <= tiny:  # neighbours: they share an edge, no land
                split.append((codes, cell_area, cell))
                continue
            split.append((codes + (code,), shared_area, shared))
            if cell_area - shared_area > tiny:
                split.append((codes, cell_area - shared_area, shapely.difference(cell, rest)))
            rest = shapely.difference(rest, cell)
            rest_area = float(rest.area)
        if rest_area > tiny:
            split.append(((code,), rest_area, rest))
        cells = split
    return cells


def zone_cover(area_geometry: BaseGeometry, pieces: Sequence[Piece], limits: CoverLimits | None = None,
               area: float | None = None) -> ZoneCover:
    """How the zone features ``pieces`` (each clipped to ``area_geometry``, of ``area`` m² when known) cover it:
    union per code, overlaps between codes, slivers in a remainder. Shares of parts, remainder and unzoned land
    add up to 1."""
    limits = limits or DEFAULT_LIMITS
    area = float(area_geometry.area) if area is None else area
    if area <= 0 or not pieces:
        return ZoneCover(area, (), {}, 0.0, (), max(area, 0.0))
    tiny = negligible_m2(area)
    if len(pieces) == 1:  # the common case (an area inside one zone, most often): nothing to cut or unite
        (one,) = pieces
        code_area = min(one.area_m2, area)
        if not limits.is_sliver(code_area, area):
            unzoned = area - code_area
            return ZoneCover(area, (CoverPart((one.code,), code_area, code_area / area, (one.piece,)),),
                             {one.code: code_area}, 0.0, (), unzoned if unzoned >= tiny else 0.0)
    unions = _code_unions(area_geometry, area, pieces)
    cells: list[tuple[tuple[str, ...], float, BaseGeometry]]
    if len(unions) == 1:  # the common case: no overlap possible, no cutting
        (code, (code_area, land)), = unions.items()
        cells = [((code,), code_area, land)]
    else:
        cells = _cells(unions, tiny)
    slivers = {code for code, (code_area, _) in unions.items() if limits.is_sliver(code_area, area)}
    merged: dict[tuple[str, ...], tuple[float, list[BaseGeometry]]] = {}
    remainder, remainder_codes = 0.0, set[str]()
    for codes, cell_area, cell in cells:
        kept = tuple(c for c in codes if c not in slivers)
        remainder_codes.update(c for c in codes if c in slivers)
        if not kept:
            remainder += cell_area
            continue
        total, geoms = merged.get(kept, (0.0, []))
        merged[kept] = (total + cell_area, geoms + [cell])
    parts: list[CoverPart] = []
    for codes, (part_area, geoms) in merged.items():
        if limits.is_sliver(part_area, area):
            remainder += part_area
            remainder_codes.update(codes)
        else:
            parts.append(CoverPart(codes, part_area, part_area / area, tuple(geoms)))
    parts.sort(key=lambda p: (len(p.codes) > 1, -p.area_m2, p.codes))
    covered = sum(p.area_m2 for p in parts) + remainder
    unzoned = area - covered
    if unzoned < tiny:  # rounding: the parts cover it all
        unzoned = 0.0
    if covered > area:  # rounding the other way: never more than the whole
        scale = area / covered
        parts = [CoverPart(p.codes, p.area_m2 * scale, p.area_m2 * scale / area, p.pieces) for p in parts]
        remainder *= scale
    code_areas = {code: code_area for code, (code_area, _) in unions.items() if code not in slivers}
    return ZoneCover(area, tuple(parts), code_areas, remainder,
                     tuple(c for c in unions if c in remainder_codes), unzoned)
