"""What a feature query asks of a store and what it answers (OGC API – Features, downloads).

A :class:`FeatureQuery` names a layer, the plan versions whose features count (``None``: all; parcels are not
versioned), a box in the store's metric CRS, an attribute filter (a pygeofilter AST whose attribute names are
the layer's columns and whose geometry literals are in the store's CRS), and a page (``limit``/``offset``, in
stored order). Backends answer with a :class:`FeaturePage`: the page's features with their ``id`` and the number
of features matching the query (or the page's length when the query does not ask for the count).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import geopandas as gpd

logger = logging.getLogger(__name__)

#: Attribute columns of each layer as the OGC API and downloads show them, with their JSON Schema types.
LAYER_COLUMNS: dict[str, dict[str, str]] = {
    "zones": {"version_id": "integer", "code": "string", "label_fr": "string", "label_ar": "string"},
    "overlays": {"version_id": "integer", "kind": "string", "label_fr": "string", "label_ar": "string",
                 "provision_fr": "string", "provision_ar": "string", "max_height_m": "number"},
    "parcels": {"ref": "string", "address": "string", "quarter": "string"},
}


@dataclass(frozen=True)
class FeatureQuery:
    """Features of one layer asked for by versions, box, attribute filter and page."""

    layer: str
    version_ids: tuple[int, ...] | None = None
    bbox: tuple[float, float, float, float] | None = None
    where: Any = None  # a pygeofilter AST node over LAYER_COLUMNS, geometries in the store's CRS
    limit: int | None = None
    offset: int = 0
    #: Only features with a larger id (keyset paging, for reading a whole layer chunk by chunk).
    after_id: int | None = None
    #: Whether :attr:`FeaturePage.matched` is wanted (else it is the page's length: no count is made).
    count: bool = True


@dataclass(frozen=True)
class FeaturePage:
    """One page of features (columns ``id``, the layer's columns, ``geometry`` in the store's CRS) and how many
    features match the query in all."""

    frame: gpd.GeoDataFrame
    matched: int
