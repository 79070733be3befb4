"""A national-size demo city (millions of parcels) generated straight into PostGIS, a band of blocks at a time.

``gisportal demo --parcels N`` on the PostGIS backend takes this path from :data:`STREAM_FROM` parcels up. The
city is the one :func:`gisportal.demo.city.generate_demo_city` makes for the same ``(N, seed)``, parcel for
parcel (same geometry, reference, address and quarter, in the same order), but never held whole: the plan
versions are published first (a few hundred zones), then the parcels are cut band of quarters after band
(addresses numbered over a band, geometries and references made :data:`CHUNK_PARCELS` at a time:
:func:`gisportal.demo.parcels.parcel_slices`) and streamed into the store by
:func:`gisportal.storage.postgis.bulk.put_parcel_chunks` (binary ``COPY``, indexes built after the load).
Memory: one chunk, a band's coordinates and addresses, the blocks, and 4 bytes a parcel for the land-title
numbers (40 MB for ten million), instead of ~1.6 GB per million parcels.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

from gisportal.demo.city import NAMES, plan_city
from gisportal.demo.load import demo_meta, demo_streets, warm_tiles
from gisportal.demo.parcels import band_ranges, parcel_slices
from gisportal.storage.base import NewPlanVersion
from gisportal.storage.postgis.bulk import put_parcel_chunks
from gisportal.storage.postgis.store import PostgisStore

logger = logging.getLogger(__name__)

__all__ = ["CHUNK_PARCELS", "STREAM_FROM", "load_national_demo"]

#: Parcels per chunk (the geometries and references made at once; addresses are numbered a band at a time).
CHUNK_PARCELS = 100_000
#: From this many parcels on, ``gisportal demo`` on PostGIS streams the city (below it, the in-memory load).
STREAM_FROM = 200_000


def load_national_demo(store: PostgisStore, n_parcels: int, seed: int = 2026,
                       chunk_parcels: int | None = None) -> dict[str, int]:
    """Generate the demo city of about ``n_parcels`` parcels into an empty PostGIS store, chunk by chunk
    (``chunk_parcels``, default :data:`CHUNK_PARCELS`); the store's counts. The same city as
    :func:`gisportal.demo.load.load_demo` loads (its documents aside)."""
    chunk_parcels = chunk_parcels or CHUNK_PARCELS
    started = time.perf_counter()
    plan = plan_city(n_parcels, seed)
    logger.info("national demo: %d parcels planned in %.1f s", plan.draws.count, time.perf_counter() - started)
    for version in plan.versions:
        store.publish_plan_version(NewPlanVersion(NAMES[2], NAMES[3], NAMES[4], version.approval_act,
                                                  version.approval_date, version.approval_date),
                                   version.zones, version.overlays)
    quarters: set[str] = set()
    streets: set[str] = set()

    def chunks() -> Iterator[dict[str, Any]]:
        for b0, b1 in band_ranges(plan.layout, chunk_parcels, plan.draws):
            for columns in parcel_slices(plan.layout, plan.draws, b0, b1, chunk_parcels):
                quarters.update(np.unique(columns["quarter"]).tolist())
                streets.update(demo_streets(pd.Series(columns["address"])))
                yield columns

    put_parcel_chunks(store, chunks())
    store.set_meta(demo_meta(quarters, streets))
    warm_tiles(store, ("zones", "overlays"))  # a parcel tile at zoom 0 would read every parcel; none is drawn there
    logger.info("national demo loaded in %.1f s: %s", time.perf_counter() - started, store.counts())
    return store.counts()
