"""What of the plans' zones and overlays lies on a parcel: the embedded store's note geometry.

A note asks, for one parcel, which zones and overlays of the plan versions in force share area with it and how
much. :class:`PlanLayers` holds both layers of every version; for a set of versions (a few sets are ever asked
for: those in force today, and on the dates historical notes ask about) it keeps an :class:`InForceIndex`: the
zones and overlays of those versions in one STRtree of their own, *prepared* (GEOS indexes their edges once), so
that one query answers both layers and most answers need no intersection at all: a feature that contains the
parcel's interior lies on all of it, the piece is the parcel and its area the parcel's. Only features across the
parcel's edge are intersected; those whose box meets the parcel's but not the feature itself are dropped by a
prepared ``intersects`` first. Hits come in layer order (the order features were stored in).
"""

from __future__ import annotations

import logging
import threading
from typing import Literal

import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from gisportal.storage.base import OverlayHit, ZoneHit

logger = logging.getLogger(__name__)

#: GEOS completes a prepared geometry's indexes on its first use, unguarded: threads (a threaded development
#: server) take turns with the prepared features, which every index over them shares.
_PREPARED_IN_USE = threading.Lock()

#: The spatial predicates an STRtree query takes.
Predicate = Literal["intersects", "within", "contains", "overlaps", "crosses", "touches", "covers", "covered_by",
                    "contains_properly"]


def query_one(tree: shapely.STRtree, geometry: BaseGeometry, predicate: Predicate | None = None) -> np.ndarray:
    """``tree.query(geometry, predicate)`` for one geometry, given as an array of one: shapely reshapes a lone
    geometry (``numpy.expand_dims``) at a cost larger than the query's on a small tree."""
    return tree.query(np.array([geometry], dtype=object), predicate=predicate)[1]


class InForceIndex:
    """Some features (those of the versions in force on a date), indexed and prepared."""

    def __init__(self, geoms: np.ndarray, positions: np.ndarray) -> None:
        self.positions = positions  # position among all features of each indexed one, ascending
        self.geoms = geoms[positions]
        with _PREPARED_IN_USE:
            shapely.prepare(self.geoms)
        self.tree = shapely.STRtree(self.geoms)

    def point_hits(self, point: BaseGeometry) -> list[tuple[int, float, BaseGeometry]]:
        """(position, 0, the point) of the features the point lies in or on, by position."""
        with _PREPARED_IN_USE:
            found = query_one(self.tree, point, "intersects")
        return [(i, 0.0, point) for i in sorted(self.positions[found].tolist())]

    def polygon_hits(self, geometry: BaseGeometry, area: float) -> list[tuple[int, float, BaseGeometry]]:
        """(position, area m², piece) of the features sharing area with ``geometry`` (a polygon of ``area`` m²),
        by position."""
        with _PREPARED_IN_USE:
            return self._polygon_hits(geometry, area)

    def _polygon_hits(self, geometry: BaseGeometry, area: float) -> list[tuple[int, float, BaseGeometry]]:
        found = query_one(self.tree, geometry)  # boxes meeting the geometry's box
        if not len(found):
            return []
        found.sort()
        positions = self.positions[found].tolist()
        geoms = self.geoms[found]
        inside = shapely.contains_properly(geoms, geometry)
        least = max(1e-9 * area, 1e-6)  # slivers from rounding do not count
        if inside.all():
            return [(i, area, geometry) for i in positions] if area > least else []
        across = ~inside
        across[across] = shapely.intersects(geoms[across], geometry)
        pieces = iter(shapely.intersection(geoms[across], geometry).tolist())
        hits = []
        for i, contained, crossing in zip(positions, inside.tolist(), across.tolist(), strict=True):
            if contained:
                piece, piece_area = geometry, area
            elif crossing:
                piece = next(pieces)
                piece_area = float(piece.area)
            else:
                continue
            if piece_area > least:
                hits.append((i, piece_area, piece))
        return hits


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


class PlanLayers:
    """Zones and overlays of every plan version (zones first, then overlays, each in stored order)."""

    def __init__(self, zones: pd.DataFrame, zone_geoms: np.ndarray, overlays: pd.DataFrame,
                 overlay_geoms: np.ndarray) -> None:
        self.geoms = np.concatenate([zone_geoms, overlay_geoms]).astype(object)
        self.versions = np.concatenate([zones["version_id"].to_numpy(dtype=np.int64),
                                        overlays["version_id"].to_numpy(dtype=np.int64)])
        self.n_zones = len(zone_geoms)
        # What a hit says besides its area and piece, as Python values (no per-hit conversion).
        zone_columns = (zones[c].to_numpy(dtype=object) for c in ("code", "label_fr", "label_ar"))
        self._zones = [(int(v), code, _text(fr), _text(ar))
                       for v, code, fr, ar in zip(self.versions[:self.n_zones], *zone_columns, strict=True)]
        overlay_columns = (overlays[c].to_numpy(dtype=object)
                           for c in ("kind", "label_fr", "label_ar", "provision_fr", "provision_ar", "max_height_m"))
        self._overlays = [(int(v), kind, _text(fr), _text(ar), _text(pfr), _text(par),
                           None if pd.isna(height) else float(height))
                          for v, kind, fr, ar, pfr, par, height in zip(self.versions[self.n_zones:], *overlay_columns,
                                                                       strict=True)]
        self._indexes: dict[tuple[int, ...] | None, InForceIndex] = {}

    def layer_versions(self, layer: str) -> np.ndarray:
        """The version id of each feature of ``layer`` (``zones`` or ``overlays``), in stored order."""
        return self.versions[:self.n_zones] if layer == "zones" else self.versions[self.n_zones:]

    def in_force(self, version_ids: list[int] | None) -> InForceIndex:
        """The zones and overlays of ``version_ids`` (all when ``None``), indexed (cached per version set)."""
        key = None if version_ids is None else tuple(version_ids)
        index = self._indexes.get(key)
        if index is None:
            if len(self._indexes) >= 16:
                self._indexes.clear()
            positions = (np.arange(len(self.geoms)) if version_ids is None
                         else np.flatnonzero(np.isin(self.versions, version_ids)))
            index = self._indexes[key] = InForceIndex(self.geoms, positions)
        return index

    def on(self, geometry: BaseGeometry, version_ids: list[int] | None) -> tuple[list[ZoneHit], list[OverlayHit]]:
        """Zones and overlays of ``version_ids`` sharing area with ``geometry`` (a polygon), or in which it lies
        (a point: area 0, the point as piece)."""
        index = self.in_force(version_ids)
        hits = (index.point_hits(geometry) if geometry.geom_type == "Point"
                else index.polygon_hits(geometry, float(geometry.area)))
        n = self.n_zones
        return ([ZoneHit(*self._zones[i], a, p) for i, a, p in hits if i < n],
                [OverlayHit(*self._overlays[i - n], a, p) for i, a, p in hits if i >= n])
