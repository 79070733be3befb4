"""Loading the generated demo district into a store, through the same store API as real imports."""

from __future__ import annotations

import logging
import time

from gisportal.demo_city import generate_demo_city
from gisportal.storage.base import NewPlanVersion, Store

logger = logging.getLogger(__name__)


def warm_tiles(store: Store) -> None:
    """Build (or check) the vector tiles of the versions in force, so the first visitor does not wait."""
    from datetime import date

    from gisportal.plans import versions_in_force
    from gisportal.tiles import TILE_LAYERS

    versions = sorted(v.id for v in versions_in_force(store.plan_versions(), date.today()))
    for layer in TILE_LAYERS:
        store.tile(layer, 0, 0, 0, versions)


def load_demo(store: Store, n_parcels: int = 6000, seed: int = 2026) -> dict[str, int]:
    """Generate the demo district and publish both plan versions and the parcels into ``store``."""
    started = time.perf_counter()
    city = generate_demo_city(n_parcels=n_parcels, seed=seed)
    logger.info("demo city generated in %.1f s", time.perf_counter() - started)
    store.put_parcels(city.parcels)
    for version in city.versions:
        new = NewPlanVersion(city.plan_name, city.plan_title_fr, city.plan_title_ar, version.approval_act,
                             version.approval_date, version.approval_date)
        store.publish_plan_version(new, version.zones, version.overlays)
    store.set_meta({"territory_fr": city.territory_fr, "territory_ar": city.territory_ar,
                    "territory_en": city.territory_fr})
    warm_tiles(store)
    logger.info("demo loaded in %.1f s: %s", time.perf_counter() - started, store.counts())
    return store.counts()
