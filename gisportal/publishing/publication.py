"""Publishing plan versions: a draft becomes a new dated version; nothing is edited in place.

A zones draft is published with the servitudes of the version it replaces; a
servitudes draft replaces the servitudes of the kinds it carries and keeps
the zones and the other kinds. Rolling back republishes an earlier version's
content as a new version. Each publication is one all-or-nothing store write.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from typing import overload

import geopandas as gpd
import pandas as pd

from gisportal.core.coords import crs_of
from gisportal.core.errors import InvalidInput, NotFound
from gisportal.storage.base import NewPlanVersion, Store
from gisportal.zoning.plans import PlanVersion

logger = logging.getLogger(__name__)

ZONE_COLUMNS = ["code", "label_fr", "label_ar", "geometry"]
OVERLAY_COLUMNS = ["kind", "label_fr", "label_ar", "provision_fr", "provision_ar", "max_height_m", "geometry"]

#: Called after every successful publication (new version, roll-back) with ``(store, previous latest version
#: of the plan or None, new version)``, e.g. to tell subscribers whose parcels changed. The store write is
#: already committed; a failing listener is logged and never undoes the publication.
PUBLISH_LISTENERS: list[Callable[[Store, PlanVersion | None, PlanVersion], None]] = []


_deferred = threading.local()


@contextlib.contextmanager
def deferred_announcements() -> Iterator[None]:
    """Hold the listeners' calls for publications made inside the block until it ends (when the caller's own
    transaction, e.g. marking a draft published, is over: mail is never sent with a database lock held).
    They are made even if the block fails afterwards: the versions themselves are published."""
    outer = getattr(_deferred, "queue", None)
    _deferred.queue = queue = [] if outer is None else outer
    try:
        yield
    finally:
        if outer is None:
            _deferred.queue = None
            for store, previous, version in queue:
                _announce(store, previous, version)


def _announce(store: Store, previous: PlanVersion | None, version: PlanVersion) -> None:
    for listener in list(PUBLISH_LISTENERS):
        try:
            listener(store, previous, version)
        except Exception:  # noqa: BLE001 - a listener's failure must not turn a done publication into an error
            logger.exception("publish listener %r failed after %s v%d", listener, version.plan_name, version.version)


def _publish(store: Store, new: NewPlanVersion, zones: gpd.GeoDataFrame,
             overlays: gpd.GeoDataFrame | None) -> PlanVersion:
    """Write the new version, then call :data:`PUBLISH_LISTENERS` (at once, or when the deferring block ends)."""
    previous = latest_version(store, new.plan_name)
    version = store.publish_plan_version(new, zones, overlays)
    queue = getattr(_deferred, "queue", None)
    if queue is not None:
        queue.append((store, previous, version))
    else:
        _announce(store, previous, version)
    return version


def latest_version(store: Store, plan_name: str) -> PlanVersion | None:
    """The most recently published version of a plan (whatever its effective date)."""
    versions = [v for v in store.plan_versions() if v.plan_name == plan_name]
    return max(versions, key=lambda v: v.version) if versions else None


@overload
def _content(store: Store, version: PlanVersion) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]: ...
@overload
def _content(store: Store, version: PlanVersion | None) -> tuple[gpd.GeoDataFrame | None, gpd.GeoDataFrame | None]: ...
def _content(store: Store, version: PlanVersion | None) -> tuple[gpd.GeoDataFrame | None, gpd.GeoDataFrame | None]:
    if version is None:
        return None, None
    return (store.features("zones", [version.id], None)[ZONE_COLUMNS],
            store.features("overlays", [version.id], None)[OVERLAY_COLUMNS])


def _new(store: Store, plan_name: str, act: str, approved: date, effective: date | None,
         title_fr: str | None, title_ar: str | None, origin: str | None = None) -> NewPlanVersion:
    if not act or not act.strip():
        raise InvalidInput("Give the approval act (decree or order) of the new version.")
    plan = next((p for p in store.plans() if p.name == plan_name), None)
    return NewPlanVersion(plan_name, title_fr or (plan.title_fr if plan else plan_name),
                          title_ar or (plan.title_ar if plan else plan_name), act.strip(), approved,
                          effective or approved, datetime.now(UTC), origin)


def publish_zones(store: Store, plan_name: str, zones: gpd.GeoDataFrame, *, approval_act: str, approved: date,
                  effective: date | None = None, title_fr: str | None = None,
                  title_ar: str | None = None, origin: str | None = None) -> PlanVersion:
    """A new version with these zones and the servitudes of the latest version (``origin``: what publishes
    it, recorded with the version, see :attr:`PlanVersion.origin`)."""
    _zones, overlays = _content(store, latest_version(store, plan_name))
    new = _new(store, plan_name, approval_act, approved, effective, title_fr, title_ar, origin)
    return _publish(store, new, zones[ZONE_COLUMNS], overlays)


def publish_overlays(store: Store, plan_name: str, overlays: gpd.GeoDataFrame, *, approval_act: str,
                     approved: date, effective: date | None = None, origin: str | None = None) -> PlanVersion:
    """A new version whose servitudes of the uploaded kinds are replaced; zones and other kinds kept."""
    latest = latest_version(store, plan_name)
    if latest is None:
        raise NotFound(f"No plan named '{plan_name}': publish its zones first.", plan=plan_name)
    zones, current = _content(store, latest)
    kept = current[~current["kind"].isin(set(overlays["kind"]))]
    merged = gpd.GeoDataFrame(pd.concat([kept, overlays.to_crs(crs_of(current))[OVERLAY_COLUMNS]], ignore_index=True),
                              geometry="geometry", crs=current.crs)
    return _publish(store, _new(store, plan_name, approval_act, approved, effective, None, None, origin), zones,
                    merged)


def roll_back(store: Store, plan_name: str, to_version: int, *, approval_act: str, approved: date,
              effective: date | None = None) -> PlanVersion:
    """Republish the content of version ``to_version`` as a new version (the history keeps everything)."""
    target = next((v for v in store.plan_versions() if v.plan_name == plan_name and v.version == to_version), None)
    if target is None:
        raise NotFound(f"Plan '{plan_name}' has no version {to_version}.", plan=plan_name, version=to_version)
    zones, overlays = _content(store, target)
    version = _publish(store, _new(store, plan_name, approval_act, approved, effective, None, None), zones, overlays)
    logger.info("plan %s rolled back to the content of version %d as version %d", plan_name, to_version,
                version.version)
    return version
