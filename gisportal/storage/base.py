"""The storage interface. Backends hold plans, zones, overlays and parcels.

Domain code talks only to :class:`Store`; a backend is chosen by name
(:func:`gisportal.storage.open_store`). All geometry a store takes and returns
is in the store's metric CRS (:attr:`Store.crs`).
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import date, datetime

import geopandas as gpd
from shapely.geometry.base import BaseGeometry

from gisportal.storage.featurequery import FeaturePage, FeatureQuery
from gisportal.zoning.parcels import ParcelRecord
from gisportal.zoning.plans import Plan, PlanVersion

logger = logging.getLogger(__name__)

#: Layers a store can list for the map.
LAYERS = ("zones", "overlays", "parcels")


@dataclass(frozen=True)
class ZoneHit:
    """The part of a geometry inside one zone of one plan version."""

    version_id: int
    code: str
    label_fr: str
    label_ar: str
    area_m2: float
    piece: BaseGeometry


@dataclass(frozen=True)
class OverlayHit:
    """The part of a geometry under one overlay (servitude) of one plan version."""

    version_id: int
    kind: str
    label_fr: str
    label_ar: str
    provision_fr: str
    provision_ar: str
    max_height_m: float | None
    area_m2: float
    piece: BaseGeometry


@dataclass(frozen=True)
class Suggestion:
    """A search suggestion: a parcel, an address or a quarter, with a point to go to."""

    kind: str  # "parcel" | "address" | "quarter"
    label: str
    ref: str | None
    x: float
    y: float


@dataclass(frozen=True)
class NewPlanVersion:
    """What publishing a plan version needs besides its zones."""

    plan_name: str
    title_fr: str
    title_ar: str
    approval_act: str
    approval_date: date
    effective_from: date
    #: When it was published; now, unless an instance is being moved with its history.
    published_at: datetime | None = None
    #: What publishes it (unique; see :attr:`gisportal.zoning.plans.PlanVersion.origin`), recorded with the version.
    origin: str | None = None


class Store(ABC):
    """A backend holding one instance's data; every write is all or nothing."""

    #: Metric CRS of all stored geometry, e.g. ``EPSG:26191``.
    crs: str
    # Small things every backend keeps in memory and reloads in :meth:`refresh`.
    _plans: list[Plan]
    _versions: list[PlanVersion]
    _extent: tuple[float, float, float, float] | None
    _meta: dict[str, str]

    # --- reads -----------------------------------------------------------
    def plans(self) -> list[Plan]:
        """All plans."""
        return list(self._plans)

    def plan_versions(self) -> list[PlanVersion]:
        """All published versions of all plans, oldest first."""
        return list(self._versions)

    @abstractmethod
    def parcel_by_ref(self, ref: str) -> ParcelRecord | None:
        """The parcel with this land-title reference (loosely typed), or ``None``."""

    @abstractmethod
    def parcel_at(self, x: float, y: float) -> ParcelRecord | None:
        """The parcel containing the point (metric CRS), or ``None``."""

    @abstractmethod
    def zones_on(self, geometry: BaseGeometry, version_ids: list[int]) -> list[ZoneHit]:
        """Zones of the given versions that share area with ``geometry`` (or contain it, for a point)."""

    @abstractmethod
    def overlays_on(self, geometry: BaseGeometry, version_ids: list[int]) -> list[OverlayHit]:
        """Overlays of the given versions that share area with ``geometry`` (or contain it)."""

    def zones_and_overlays_on(self, geometry: BaseGeometry,
                              version_ids: list[int]) -> tuple[list[ZoneHit], list[OverlayHit]]:
        """:meth:`zones_on` and :meth:`overlays_on` at once (what a note needs); a backend may answer both in one go."""
        overlays = self.overlays_on(geometry, version_ids)
        return self.zones_on(geometry, version_ids), overlays

    @abstractmethod
    def features(self, layer: str, version_ids: list[int] | None, bbox: tuple[float, float, float, float] | None,
                 limit: int | None = None) -> gpd.GeoDataFrame:
        """Features of ``layer`` (one of :data:`LAYERS`) in a metric bbox, for the map."""

    def feature_page(self, query: FeatureQuery) -> FeaturePage:
        """The features ``query`` asks for, in stored order, with their ids and the number matching in all."""
        raise NotImplementedError(f"{type(self).__name__} cannot answer feature queries")

    def feature_by_id(self, layer: str, feature_id: int) -> gpd.GeoDataFrame:
        """The feature of ``layer`` with this id (columns as :meth:`feature_page`'s), or an empty frame."""
        raise NotImplementedError(f"{type(self).__name__} cannot answer feature queries")

    @abstractmethod
    def search(self, text: str, limit: int = 10) -> list[Suggestion]:
        """Parcels, addresses and quarters matching ``text`` (prefix match on words)."""

    def extent(self) -> tuple[float, float, float, float] | None:
        """Bounds of everything stored (metric CRS), or ``None`` when empty."""
        return self._extent

    def meta(self) -> dict[str, str]:
        """Instance facts stored with the data (territory names, CRS)."""
        return dict(self._meta)

    @abstractmethod
    def counts(self) -> dict[str, int]:
        """Number of features per layer and of plan versions."""

    # --- writes ----------------------------------------------------------
    @abstractmethod
    def publish_plan_version(self, new: NewPlanVersion, zones: gpd.GeoDataFrame,
                             overlays: gpd.GeoDataFrame | None = None) -> PlanVersion:
        """Publish a new version of a plan with its zones (and overlays); older versions stay."""

    @abstractmethod
    def add_overlays(self, plan_name: str, overlays: gpd.GeoDataFrame) -> PlanVersion:
        """Attach overlays to the latest version of ``plan_name``."""

    @abstractmethod
    def put_parcels(self, parcels: gpd.GeoDataFrame) -> dict[str, int]:
        """Insert or replace parcels by reference; returns counts ``added``/``replaced``."""

    @abstractmethod
    def set_meta(self, values: dict[str, str]) -> None:
        """Store instance facts (territory names, CRS)."""

    @abstractmethod
    def tile(self, layer: str, z: int, x: int, y: int, version_ids: list[int]) -> bytes:
        """The Mapbox Vector Tile of ``layer`` (zones/overlays of ``version_ids``, or parcels) at z/x/y."""

    def generation(self) -> str:
        """A token that changes whenever the data changes (for ETags and caches)."""
        return "0"

    def clear(self) -> None:
        """Remove every plan, parcel and issued note (for rebuilding a demo)."""
        raise NotImplementedError(f"{type(self).__name__} cannot be cleared in place")

    # --- life cycle ------------------------------------------------------
    def refresh(self) -> bool:
        """Pick up changes written by another process; True when something changed."""
        return False

    def close(self) -> None:  # noqa: B027 (a default that does nothing: not every backend holds resources)
        """Release resources."""
